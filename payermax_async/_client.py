"""``PayerMaxClient``: owns the configuration, the transport, the idempotency store and the chain."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp
import attrs

from ._config import PayerMaxConfig, check_base_url, is_loopback_host
from .errors import ClientClosedError, ConfigurationError, ValidationError
from .middleware.hooks import Hooks, HooksMiddleware
from .middleware.idempotency import DEFAULT_ABSENCE_WINDOW, IdempotencyMiddleware
from .middleware.logging import LoggingMiddleware
from .middleware.policy import RetryPolicy
from .middleware.retry import RetryMiddleware
from .middleware.signing import SigningMiddleware
from .pipeline.chain import Call, Middleware, Reply, Scope, build_chain, scope_of
from .pipeline.deadline import check_deadline, deadline_at
from .pipeline.transport import DEFAULT_TIMEOUT, AiohttpTransport, unverified_tls_reason
from .protocol.apis import API_PAY
from .protocol.envelope import EnvelopeWriter
from .resources.inputs import TimeoutInput, as_client_timeout
from .resources.lookup import query_payout
from .resources.payouts import Payouts
from .signing import RsaSigner, Signer
from .stores.memory import MemoryStore
from .stores.protocol import IdempotencyStore

__all__ = ["PayerMaxClient"]


class PayerMaxClient:
    """An asyncio client for PayerMax payouts.

    Use one client per process (it pools connections) and close it when done::

        async with PayerMaxClient(PayerMaxConfig.from_env()) as client:
            result = await client.payouts.create(request)

    Args:
        config: merchant credentials and gateway.
        signer: signs request bodies; defaults to an in-process :class:`RsaSigner` with the configured
            private key. Pass a KMS/HSM or process-pool signer here.
        store: the idempotency journal; defaults to a :class:`MemoryStore` (exactly-once within this
            process). Use :class:`SQLiteStore` to survive crashes, :class:`RedisStore` to share one
            journal between processes and hosts. The client never closes a store you pass.
        retry: the retry policy; defaults to ``RetryPolicy()``.
        timeout: the default timeout of each HTTP attempt, in seconds (that attempt's total) or as
            an ``aiohttp.ClientTimeout``; a retry gets it whole again. Bound a whole call with
            ``deadline=`` on the operation or :meth:`with_options`.
        session: an ``aiohttp.ClientSession`` to borrow (the client never closes it). Its connector
            must verify TLS certificates (aiohttp's default, or your own ``ssl.SSLContext`` with
            ``verify_mode`` ``CERT_REQUIRED`` and ``check_hostname`` on) unless the gateway is a
            loopback host.
        middlewares: extra middlewares, run between the reliability layer and signing (logging,
            metrics, hooks): ``async def mw(call, next) -> Reply``, once per attempt. One whose
            ``scope`` is :attr:`~payermax_async.pipeline.Scope.OPERATION` runs once per operation
            instead, outside the journal and the retry layer (e.g. :mod:`payermax_async.telemetry`'s
            operation span).
        hooks: ``on_request`` / ``on_response`` / ``on_retry`` / ``on_give_up`` callbacks for metrics.
        absence_window: seconds after the last moment a payout request may have left before the
            gateway's ``ORDER_NOT_EXIST`` counts as proof that no order exists (default 600: PayerMax
            refuses a request more than 2 minutes old, plus a wide margin for orders that become
            visible late). Until then a payout that may have been sent stays in doubt. Measured on
            the store's clock; at most 30 days.

    Raises:
        ConfigurationError: a setting is not usable (e.g. plain http to a non-loopback host, or a
            borrowed ``session`` that would not verify the gateway's TLS certificate).
    """

    def __init__(
        self,
        config: PayerMaxConfig,
        *,
        signer: Signer | None = None,
        store: IdempotencyStore | None = None,
        retry: RetryPolicy | None = None,
        timeout: TimeoutInput = None,
        session: aiohttp.ClientSession | None = None,
        middlewares: Sequence[Middleware] = (),
        hooks: Hooks | None = None,
        absence_window: float = DEFAULT_ABSENCE_WINDOW,
    ) -> None:
        self._closed = False  # first: repr() must work even if the checks below raise
        self._root = self  # a view made by with_options() points at the client that made it
        self._options: _ViewOptions | None = None
        _check_arguments(config, store, retry, absence_window)
        self.config = config
        self.store: IdempotencyStore = store if store is not None else MemoryStore()
        self.retry: RetryPolicy = retry if retry is not None else RetryPolicy()
        client_timeout = as_client_timeout(timeout) or DEFAULT_TIMEOUT
        gateway_url = check_base_url(config.gateway_url)
        _check_session(session, gateway_url)
        self._transport = AiohttpTransport(
            gateway_url,
            config.verifier,
            session=session,
            timeout=client_timeout,
        )
        # A claim must outlive its owner's worst case, else another process could take it over
        # while the owner still works: no attempt starts after the deadline, but the last one may
        # run a whole timeout and its settling query another (a heartbeat covers anything longer).
        total = client_timeout.total or 0.0
        self._idempotency = IdempotencyMiddleware(
            self.store,
            lookup=query_payout,
            lease_seconds=self.retry.deadline + 2 * total + 30.0,
            absence_window=float(absence_window),
            default_timeout=total,
        )
        self._hooks = hooks = hooks or Hooks()
        self._retry = RetryMiddleware(self.retry, lookup=query_payout, hooks=hooks)
        self._middlewares = tuple(middlewares)
        self._signing = SigningMiddleware(
            signer if signer is not None else RsaSigner(config.private_key), _writer(config)
        )
        self._handler = build_chain(
            self._onion(self._middlewares, hooks, self._signing), self._transport
        )
        self.payouts = Payouts(self._dispatch, self._idempotency)

    def _onion(
        self, middlewares: Sequence[Middleware], hooks: Hooks, signing: SigningMiddleware
    ) -> list[Middleware]:
        """The chain, outermost first; a payout goes in at the top (docs/architecture.md):

        ============================  ==========================================================
        per-operation middlewares     ``scope = Scope.OPERATION`` (e.g. the telemetry span)
        IdempotencyMiddleware         claim outTradeNo (committed) before any byte leaves;
                                      single-flight; record the outcome
        RetryMiddleware               bounded attempts, each classified; an unknown outcome is
                                      settled by a query, never by a blind resend
        per-attempt middlewares       yours
        LoggingMiddleware             per-attempt DEBUG records (redacted), latency
        HooksMiddleware               on_request / on_response per attempt
        SigningMiddleware             fresh requestTime, envelope bytes, sign header
        AiohttpTransport              POST the bytes, verify the response sign
        ============================  ==========================================================
        """
        outer = [m for m in middlewares if scope_of(m) is Scope.OPERATION]
        inner = [m for m in middlewares if scope_of(m) is not Scope.OPERATION]
        return [
            *outer,
            self._idempotency,
            self._retry,
            *inner,
            LoggingMiddleware(),
            HooksMiddleware(hooks),
            signing,
        ]

    @property
    def closed(self) -> bool:
        """Whether the client was closed (a view: it, or the client it was made from)."""
        return self._closed or self._root._closed

    def with_options(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeout: TimeoutInput = None,
        deadline: float | None = None,
    ) -> PayerMaxClient:
        """A view of this client whose calls use other options; this client is unchanged.

        The view shares everything else: the HTTP session and its connections, the signer, the
        journal store (and its in-flight payouts, so a view and its client creating one
        ``outTradeNo`` still make one payout), the middlewares, hooks and retry budget. Making one
        is cheap (no session, store or key is created), so make one per request if that suits::

            quick = client.with_options(timeout=5, deadline=20)
            result = await quick.payouts.create(request)

        Options not given are the client's (a view of a view keeps the first view's). An
        operation's own ``timeout=`` or ``deadline=`` still wins over the view's.

        Who owns what: the client closes its own session when it is closed (never one you passed
        as ``session=``, and never the store); a view owns nothing. Closing a view (``aclose()``,
        ``async with``) only stops the view; closing the client stops its views too.

        Args:
            retry: the retry policy of the view's calls.
            timeout: each HTTP attempt's timeout (seconds or an ``aiohttp.ClientTimeout``).
            deadline: seconds for each whole call (every attempt, pause and settling query).

        Raises:
            ConfigurationError: ``retry`` is not a :class:`RetryPolicy`.
            ValidationError: ``timeout`` or ``deadline`` is not a usable number of seconds (NaN,
                infinite, zero, negative or over a day), naming it.
            ClientClosedError: this client is closed.
        """
        if retry is not None and not isinstance(retry, RetryPolicy):
            msg = f"retry must be a RetryPolicy, not {type(retry).__name__}"
            raise ConfigurationError(msg)
        attempt_timeout = as_client_timeout(timeout)
        seconds = check_deadline(deadline)
        if self.closed:
            raise ClientClosedError(_CLOSED)
        base = self._options or _ViewOptions()
        options = _ViewOptions(
            timeout=attempt_timeout or base.timeout,
            deadline=seconds if seconds is not None else base.deadline,
        )
        return self._root._view(retry or self.retry, options)

    def _view(self, retry: RetryPolicy, options: _ViewOptions) -> PayerMaxClient:
        view = object.__new__(PayerMaxClient)
        view.__dict__.update(self.__dict__)  # shared: config, store, transport, journal, signing
        view._closed = False
        view._options = options if options.timeout or options.deadline else None
        view.retry = retry
        handler = self._handler
        if retry is not self.retry:
            view._retry = RetryMiddleware(retry, lookup=query_payout, hooks=self._hooks)
            view._retry.budget = self._retry.budget  # one retry budget per client, views included
            onion = view._onion(self._middlewares, self._hooks, self._signing)
            handler = build_chain(onion, self._transport)
        view._handler = handler
        view.payouts = Payouts(view._dispatch, self._idempotency)
        return view

    async def send(self, call: Call) -> Reply:
        """Send a call through the whole chain. Resources use this; most users never need it.

        Raises:
            ValidationError: a ``paymentOrderPay`` call without its ``outTradeNo`` as the
                idempotency key (it would bypass the journal); use ``payouts.create()``.
        """
        if call.api == API_PAY and not call.idempotency_key:
            msg = "a payout needs its outTradeNo as the idempotency key; use payouts.create()"
            raise ValidationError(msg, field="outTradeNo")
        return await self._dispatch(call)

    def _dispatch(self, call: Call) -> Awaitable[Reply]:
        # send() without a coroutine of its own, for the resources' hot paths (one frame fewer held
        # per call in flight). Raises at once when closed; the caller awaits the result at once.
        if self._closed or self._root._closed:
            raise ClientClosedError(_CLOSED)
        if self._options is not None:
            call = self._options.apply(call)
        return self._handler(call)

    async def aclose(self) -> None:
        """Close the client's own HTTP session. Safe to call more than once.

        On a view (:meth:`with_options`) this only closes the view: the session belongs to the
        client it was made from.
        """
        self._closed = True
        if self._root is self:
            await self._transport.aclose()

    async def __aenter__(self) -> PayerMaxClient:
        if self.closed:
            raise ClientClosedError(_CLOSED)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        view = "" if self._root is self else ", view"
        return f"PayerMaxClient(merchant_no={self.config.merchant_no!r}, {state}{view})"


_CLOSED = "this PayerMaxClient is closed; create a new one"


@attrs.frozen
class _ViewOptions:
    """What a view changes in each call that does not set it itself."""

    timeout: aiohttp.ClientTimeout | None = None
    deadline: float | None = None  # seconds from the moment the call is sent

    def apply(self, call: Call) -> Call:
        timeout = call.timeout or self.timeout
        at = call.deadline if call.deadline is not None else deadline_at(self.deadline)
        if timeout is call.timeout and at == call.deadline:
            return call
        return attrs.evolve(call, timeout=timeout, deadline=at)


#: The longest absence window accepted (30 days): longer only keeps payouts in doubt longer.
_MAX_ABSENCE_WINDOW = 30 * 86_400.0


def _check_arguments(config: object, store: object, retry: object, absence_window: object) -> None:
    """Refuse arguments of the wrong kind at once (untyped callers), naming the argument."""
    if not isinstance(config, PayerMaxConfig):
        msg = f"config must be a PayerMaxConfig, not {type(config).__name__}"
        raise ConfigurationError(msg)
    if store is not None and not isinstance(store, IdempotencyStore):
        msg = f"store must implement IdempotencyStore, not {type(store).__name__}"
        raise ConfigurationError(msg)
    if retry is not None and not isinstance(retry, RetryPolicy):
        msg = f"retry must be a RetryPolicy, not {type(retry).__name__}"
        raise ConfigurationError(msg)
    if (
        isinstance(absence_window, bool)
        or not isinstance(absence_window, int | float)
        # Compared, not converted: float(10**400) raises OverflowError.
        or not 0 <= absence_window <= _MAX_ABSENCE_WINDOW
    ):
        msg = "absence_window must be a non-negative number of seconds, at most 30 days"
        raise ConfigurationError(msg)


def _check_session(session: object, gateway_url: str) -> None:
    """Refuse a borrowed session that would talk to a remote https gateway without verifying TLS.

    TLS verification is always on: a session whose connector turns it off (``ssl=False``, a
    ``CERT_NONE`` context, no host name check, a bare fingerprint) would let anything on the path
    answer for PayerMax. Loopback hosts are exempt, as for plain http (a local test server).
    """
    if session is None:
        return
    if not isinstance(session, aiohttp.ClientSession):
        msg = f"session must be an aiohttp.ClientSession, not {type(session).__name__}"
        raise ConfigurationError(msg)
    parts = urlsplit(gateway_url)
    if parts.scheme != "https" or is_loopback_host(parts.hostname or ""):
        return
    reason = unverified_tls_reason(session)
    if reason is not None:
        msg = (
            f"session= would not verify the gateway's TLS certificate: {reason}. Pass a session "
            "whose connector verifies (aiohttp's default; a custom ssl.SSLContext with "
            "verify_mode CERT_REQUIRED and check_hostname on keeps your own CA bundle)"
        )
        raise ConfigurationError(msg)


def _writer(config: PayerMaxConfig) -> EnvelopeWriter:
    return EnvelopeWriter(
        app_id=config.app_id,
        merchant_no=config.merchant_no,
        version=config.api_version,
        key_version=config.key_version,
    )
