"""How the sandbox answers: signed envelopes, and what each fault does to an answer."""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Mapping

from aiohttp import web

from ..signing import RsaSigner
from .faults import Fault, FaultKind

__all__ = ["JSON", "Answers", "abort", "compact", "unsigned"]

JSON = "application/json;charset=UTF-8"


def compact(document: Mapping[str, object]) -> bytes:
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def abort(request: web.BaseRequest, *, reset: bool) -> None:
    """Close the client's connection without an answer; ``reset`` sends a TCP RST instead of a FIN."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if reset and sock is not None:
        # SO_LINGER with a zero timeout makes close() send RST: the client sees "connection reset".
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def unsigned(document: Mapping[str, object]) -> web.Response:
    """An answer without a ``sign`` header."""
    return web.Response(body=compact(document), headers={"Content-Type": JSON})


class Answers:
    """Builds the gateway's answers, signed with PayerMax's (the sandbox's) platform key."""

    def __init__(self, signer: RsaSigner) -> None:
        self._signer = signer

    def before_commit(self, request: web.BaseRequest, fault: Fault) -> web.StreamResponse:
        """The answer of a fault that acts instead of processing the request."""
        if fault.kind is FaultKind.RESET_BEFORE_READ:
            abort(request, reset=True)
            return web.Response(status=500)  # never written: the connection is gone
        if fault.kind is FaultKind.HTTP_503_BEFORE_COMMIT:
            return web.Response(
                status=503,
                text="<html><body><h1>503 Service Temporarily Unavailable</h1></body></html>",
                content_type="text/html",
            )
        if fault.kind is FaultKind.RATE_LIMIT:
            answer = {"code": "TOO_MANY_REQUEST", "msg": "Too many requests, try again later."}
            return self.signed(answer, headers={"Retry-After": f"{fault.retry_after:g}"})
        if fault.kind is FaultKind.REJECT:
            return self.signed({"code": fault.code, "msg": f"Refused: {fault.code}."})
        if fault.kind is FaultKind.UNSIGNED_ERROR:
            return unsigned({"code": fault.code, "msg": f"Refused: {fault.code}."})
        return self.signed({"code": "SYSTEM_ERROR", "msg": "System error, please retry."})

    async def after_commit(
        self,
        request: web.BaseRequest,
        fault: Fault,
        answer: Mapping[str, object],
        stopping: asyncio.Event,
    ) -> web.StreamResponse:
        """The answer of a fault that acts after the request was processed (committed)."""
        if fault.kind is FaultKind.SYSTEM_ERROR_AFTER_COMMIT:
            return self.signed({"code": "SYSTEM_ERROR", "msg": "System error, please retry."})
        if fault.kind is FaultKind.TAMPERED_AFTER_COMMIT:
            return unsigned({"code": fault.code, "msg": f"Refused: {fault.code}."})
        if fault.kind is FaultKind.DROP_AFTER_COMMIT:
            abort(request, reset=False)
            return web.Response(status=500)  # never written: the connection is gone
        if fault.kind is FaultKind.BAD_SIGNATURE:
            body = compact(answer)
            wrong = self._signer.sign_sync(body + b" ")  # a real signature, of other bytes
            return web.Response(body=body, headers={"sign": wrong, "Content-Type": JSON})
        # FaultKind.DELAY: hold the answer back, but never past the gateway's own shutdown.
        try:
            await asyncio.wait_for(stopping.wait(), timeout=fault.delay)
        except asyncio.TimeoutError:
            return self.signed(answer)
        abort(request, reset=False)
        return web.Response(status=500)

    def signed(
        self, document: Mapping[str, object], *, headers: Mapping[str, str] | None = None
    ) -> web.Response:
        """A signed answer: compact JSON, signed over exactly the bytes sent."""
        body = compact(document)
        all_headers = {
            "Content-Type": JSON,
            "sign": self._signer.sign_sync(body),
            **(headers or {}),
        }
        return web.Response(body=body, headers=all_headers)
