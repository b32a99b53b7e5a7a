"""Fixtures for the example-app tests: an ASGI relay for the sandbox's notifications."""

from __future__ import annotations

from tests.support.examples import asgi_relay

__all__ = ["asgi_relay"]
