"""Fixtures for these tests: a client against a mocked or loopback gateway, reference data."""

from __future__ import annotations

from tests.support.mock_gateway import (
    client,
    closed_port,
    loopback_gateway,
    openapi,
    raw_server,
    vectors,
)
from tests.support.tls import tls_server

__all__ = [
    "client",
    "closed_port",
    "loopback_gateway",
    "openapi",
    "raw_server",
    "tls_server",
    "vectors",
]
