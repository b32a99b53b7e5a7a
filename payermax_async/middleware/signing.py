"""The innermost middleware: build the envelope with a fresh ``requestTime``, sign its exact bytes."""

from __future__ import annotations

import attrs

from .._chain import Call, Handler, Reply
from .._envelope import EnvelopeWriter
from ..signing import Signer

__all__ = ["SigningMiddleware"]


class SigningMiddleware:
    """Turns a call's ``data`` into signed envelope bytes for the transport.

    It runs once per attempt, so each retry carries a new ``requestTime`` (the gateway refuses one more
    than two minutes old) around the same ``data`` bytes.
    """

    __slots__ = ("_signer", "_writer")

    def __init__(self, signer: Signer, writer: EnvelopeWriter) -> None:
        self._signer = signer
        self._writer = writer

    async def __call__(self, call: Call, next_handler: Handler) -> Reply:
        body = self._writer.body(call.data_json)
        signature = await self._signer.sign(body)
        headers = {**call.headers, "sign": signature}
        return await next_handler(attrs.evolve(call, body=body, headers=headers))
