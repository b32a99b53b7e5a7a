"""Fixtures shared by the sandbox, end-to-end and CLI tests (see tests/sandbox/helpers.py)."""

from __future__ import annotations

from tests.sandbox.helpers import client, gateway, merchant_signer, receiver

__all__ = ["client", "gateway", "merchant_signer", "receiver"]
