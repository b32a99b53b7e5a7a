"""Test-only shims for third-party test tools."""

from __future__ import annotations

import inspect
from typing import Any

from aiohttp import ClientResponse


class _FinishedUpload:
    """Stands in for the request writer of a mocked response: the upload is over."""

    output_size = 0


class CompatClientResponse(ClientResponse):
    """aioresponses 0.7.9 builds ``ClientResponse`` without the ``stream_writer`` argument that
    aiohttp 3.14 requires (pnuckowski/aioresponses#289, fix pending in #288). aiohttp only reads
    ``stream_writer.output_size``, so a finished-upload stand-in is enough."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("stream_writer", _FinishedUpload())
        super().__init__(*args, **kwargs)


AIOHTTP_NEEDS_STREAM_WRITER = "stream_writer" in inspect.signature(ClientResponse).parameters
