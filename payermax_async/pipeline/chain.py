"""The request pipeline: immutable ``Call`` in, immutable ``Reply`` out, through one middleware type.

A middleware is ``async def mw(call, next) -> Reply``. It may look at or replace the call
(``attrs.evolve``), await ``next`` zero or more times, and look at or replace the reply. Values are never
mutated, so every retry starts from the same clean call.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from types import MappingProxyType

import aiohttp
import attrs

from .._fastjson import scanner
from .._frozen import positional_constructor
from ..protocol.envelope import encode_data

__all__ = ["Call", "Handler", "Middleware", "Reply", "Scope", "build_chain", "scope_of"]


_decode = scanner(json.JSONDecoder())

#: The headers of a call nobody has added any to (shared: read-only, so no dict per call).
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@attrs.frozen(weakref_slot=False)
class Call:
    """One logical API call as it travels down the chain.

    Attributes:
        api: the PayerMax apiName, e.g. ``paymentOrderPay``.
        data_json: the request's ``data`` serialised once, compact UTF-8; these bytes are what every
            attempt sends.
        data: (property) ``data_json`` parsed again on each access: a private copy nobody else holds.
        idempotency_key: the ``outTradeNo`` of a payout, fixed before the first attempt; ``None`` for
            reads.
        timeout: a per-attempt timeout overriding the client's (each HTTP attempt gets it whole).
        deadline: the instant, on the event loop's clock (``loop.time()``), by which the whole call
            (every attempt, backoff and settling query) must end; ``None`` for no such bound.
        body: the signed envelope bytes (set by the signing middleware).
        headers: HTTP headers to send (the signing middleware adds ``sign``).
        attempt: 1 for the first attempt; the retry middleware counts up.
        may_exist: an earlier call or process may already have created this payout, and no proof of
            absence has come since: no refusal, rate limit or "not sent" in this call proves that no
            order exists (the journal layer sets it; the retry layer obeys it).
    """

    api: str
    data_json: bytes
    idempotency_key: str | None = None
    timeout: aiohttp.ClientTimeout | None = None
    deadline: float | None = None
    body: bytes | None = None
    headers: Mapping[str, str] = attrs.field(default=_NO_HEADERS)
    attempt: int = 1
    may_exist: bool = False

    @property
    def data(self) -> Mapping[str, object]:
        """The request's ``data`` object, parsed from ``data_json`` (a fresh private copy per access).

        Only the bytes are kept: a parsed copy held for the whole call cost about 1.5 KiB per payout
        in flight, and the few readers (the journal's fingerprint and trade, the duplicate check, debug
        logging) parse it in microseconds.
        """
        # Our own UTF-8: decoded directly (json.loads would first sniff bytes for UTF-16/32).
        parsed: Mapping[str, object] = _decode(self.data_json.decode())
        return parsed

    @classmethod
    def build(
        cls,
        api: str,
        data: Mapping[str, object],
        *,
        idempotency_key: str | None = None,
        timeout: aiohttp.ClientTimeout | None = None,
        deadline: float | None = None,
    ) -> Call:
        """Serialise ``data`` once and keep only those bytes, so later changes by the caller to their
        mapping cannot alter what a retry sends."""
        data_json = encode_data(data)
        if cls is not Call:
            return cls(
                api=api,
                data_json=data_json,
                idempotency_key=idempotency_key,
                timeout=timeout,
                deadline=deadline,
            )
        return _build_call(
            api, data_json, idempotency_key, timeout, deadline, None, _NO_HEADERS, 1, False
        )

    def signed(self, body: bytes, headers: Mapping[str, str]) -> Call:
        """This call with its signed envelope ``body`` and ``headers`` (the signing middleware's
        step, once per attempt: built directly, as ``attrs.evolve`` would, only quicker)."""
        return _build_call(
            self.api,
            self.data_json,
            self.idempotency_key,
            self.timeout,
            self.deadline,
            body,
            headers,
            self.attempt,
            self.may_exist,
        )


@attrs.frozen(weakref_slot=False)
class Reply:
    """A verified ``APPLY_SUCCESS`` answer from the gateway.

    Attributes:
        api: the apiName that was called.
        code: PayerMax's code (``APPLY_SUCCESS``).
        msg: PayerMax's message.
        data: the response's ``data`` object, if any.
        http_status: the HTTP status.
        raw: the response body exactly as received (its signature was verified over these bytes).
        headers: the response headers.
    """

    api: str
    code: str
    msg: str
    data: Mapping[str, object] | None
    http_status: int
    raw: bytes
    headers: Mapping[str, str] = attrs.field(factory=dict)


# Calls and replies are built once or twice per attempt: see payermax_async._frozen.
_build_call = positional_constructor(Call)
#: ``Reply`` from every field, positionally (the transport's constructor).
build_reply = positional_constructor(Reply)


Handler = Callable[[Call], Awaitable[Reply]]
Middleware = Callable[[Call, Handler], Awaitable[Reply]]


class Scope(enum.Enum):
    """Where a user middleware runs: once per attempt (the default), or once per operation.

    A middleware says so with a ``scope`` attribute (e.g. a class attribute
    ``scope = Scope.OPERATION``). Per-operation middlewares sit outside the journal and the retry
    layer (an operation span, say); per-attempt ones inside the retry layer.
    """

    ATTEMPT = "attempt"
    OPERATION = "operation"


def scope_of(middleware: Middleware) -> Scope:
    """The :class:`Scope` a middleware declares (``ATTEMPT`` when it declares none)."""
    scope = getattr(middleware, "scope", Scope.ATTEMPT)
    return scope if isinstance(scope, Scope) else Scope.ATTEMPT


def _bind(middleware: Middleware, next_handler: Handler) -> Handler:
    # A plain function handing back the middleware's own awaitable: no extra coroutine per layer.
    def handler(call: Call) -> Awaitable[Reply]:
        return middleware(call, next_handler)

    return handler


def build_chain(middlewares: Sequence[Middleware], terminal: Handler) -> Handler:
    """Compose ``middlewares`` around ``terminal`` once; the first middleware is the outermost.

    ``build_chain([a, b], t)(call)`` runs ``a`` → ``b`` → ``t`` on the way in and back out in reverse.
    """
    handler = terminal
    for middleware in reversed(middlewares):
        handler = _bind(middleware, handler)
    return handler
