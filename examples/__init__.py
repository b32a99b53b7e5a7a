"""Runnable integrations of payermax-async (FastAPI, aiohttp, a worker pool, a chat bot).

Each file runs on its own (``python examples/<name>.py``) against an embedded sandbox gateway when no
``PAYERMAX_*`` variables are set, and exposes factories that ``tests/examples`` drives.
"""
