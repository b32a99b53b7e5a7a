"""Fixtures for the webhook tests: signed notifications, a verifier, the next platform key."""

from __future__ import annotations

from tests.support.webhooks import next_platform_keys, sign, verifier

__all__ = ["next_platform_keys", "sign", "verifier"]
