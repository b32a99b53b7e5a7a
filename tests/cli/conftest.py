"""Fixtures shared by the sandbox, end-to-end and CLI tests (see tests/support/sandbox.py)."""

from __future__ import annotations

from tests.support.journal import clock, journal_target
from tests.support.sandbox import client, gateway, merchant_signer, receiver

__all__ = ["client", "clock", "gateway", "journal_target", "merchant_signer", "receiver"]
