"""Benchmarks for payermax-async; run them with ``python benchmarks/run.py`` (see run.py)."""
