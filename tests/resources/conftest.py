"""Fixtures for these tests: a client against a mocked or loopback gateway, reference data, and a
sandbox gateway with a fixed fault seed and instant outcomes."""

from __future__ import annotations

from tests.support.mock_gateway import (
    client,
    closed_port,
    loopback_gateway,
    openapi,
    raw_server,
    vectors,
)
from tests.support.payloads import gw

__all__ = ["client", "closed_port", "gw", "loopback_gateway", "openapi", "raw_server", "vectors"]
