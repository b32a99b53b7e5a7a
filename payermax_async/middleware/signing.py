"""The innermost middleware: build the envelope with a fresh ``requestTime``, sign its exact bytes."""

from __future__ import annotations

from ..errors import PayerMaxError, TransportError
from ..pipeline.chain import Call, Handler, Reply
from ..protocol.envelope import EnvelopeWriter
from ..signing import RsaSigner, Signer

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
        signer = self._signer
        try:
            if type(signer) is RsaSigner:
                signature = signer.sign_sync(body)  # all its sign() does, without a coroutine
            else:
                signature = await signer.sign(body)
        except PayerMaxError:
            raise
        except Exception as exc:
            # A plug-in signer (KMS, HSM, process pool) failed: nothing was sent, so the retry layer
            # may resend, and the caller only ever sees a PayerMaxError.
            msg = f"the request signer failed ({type(exc).__name__}); nothing was sent"
            raise TransportError(msg, maybe_sent=False) from exc
        if not isinstance(signature, str) or not signature:
            msg = "the request signer returned no signature; nothing was sent"
            raise TransportError(msg, maybe_sent=False)
        headers = {**call.headers, "sign": signature} if call.headers else {"sign": signature}
        signed = call.signed(body, headers)
        return await next_handler(signed)
