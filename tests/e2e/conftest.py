"""Fixtures for these tests: a sandbox gateway with a fixed fault seed and instant outcomes."""

from __future__ import annotations

from tests.support.payloads import gw
from tests.support.sandbox import client, gateway, merchant_signer, receiver

__all__ = ["client", "gateway", "gw", "merchant_signer", "receiver"]
