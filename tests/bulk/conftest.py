"""Fixtures for the bulk tests: a sandbox whose settings are in the environment."""

from __future__ import annotations

from tests.support.bulk import sandbox_env
from tests.support.sandbox import client, gateway, merchant_signer, receiver

__all__ = ["client", "gateway", "merchant_signer", "receiver", "sandbox_env"]
