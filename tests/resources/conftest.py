"""Fixtures for these tests: a client against a mocked or loopback gateway, reference data, and a
sandbox gateway with a fixed fault seed and instant outcomes."""

from __future__ import annotations

from tests.support.journal import clock, journal_store
from tests.support.mock_gateway import (
    client,
    closed_port,
    loopback_gateway,
    openapi,
    raw_server,
    vectors,
)
from tests.support.payloads import gw

__all__ = [
    "client",
    "clock",
    "closed_port",
    "gw",
    "journal_store",
    "loopback_gateway",
    "openapi",
    "raw_server",
    "vectors",
]
