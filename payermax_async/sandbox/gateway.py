"""``SandboxGateway``: a local PayerMax payout gateway on a real loopback HTTP server.

It speaks the real wire protocol (docs/protocol.md): signed envelopes in, signed answers out, PayerMax's
codes and messages, UAT's result triggers, signed notifications with retries, and seeded fault
injection. Use it in-process::

    async with SandboxGateway() as gw:
        async with PayerMaxClient(gw.config()) as client:
            await client.payouts.create({...})

or standalone with ``payermax sandbox --port 8080``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from datetime import datetime
from types import TracebackType

from aiohttp import web

from .._config import PayerMaxConfig, is_loopback_host
from ..models.payouts import PayoutStatus
from ..protocol.envelope import utc_now
from ..signing import RsaSigner, RsaVerifier
from ..signing.keys import KeyPair, generate_keypair
from ._answers import Answers, abort
from ._api import APIS, PayoutApis, parse_body, read_body
from ._log import log_request
from ._tasks import TaskTracker
from .faults import FaultKind, FaultSet
from .ledger import Ledger, SandboxOrder, outcome_for
from .notifier import Delivery, Notifier

__all__ = ["API_PREFIX", "DEFAULT_APP_ID", "DEFAULT_MERCHANT_NO", "SandboxGateway"]

API_PREFIX = "/aggregate-pay/api/gateway"
DEFAULT_APP_ID = "3b242b56a8b64274bcc37dac281120e3"
DEFAULT_MERCHANT_NO = "010213834123456"
_JSON = "application/json;charset=UTF-8"
_CLOSE_PASSES = 5


class SandboxGateway:
    """A local PayerMax gateway for tests, demos and offline development.

    Args:
        host: the loopback address to listen on (anything else is refused).
        port: the port (0: a free one, chosen once and kept across :meth:`refuse_connections`).
        merchant_keys: the merchant's key pair (its public half verifies requests); generated if
            ``None``.
        platform_keys: PayerMax's key pair (signs answers and notifications); generated if ``None``.
        app_id: the appId the gateway accepts.
        merchant_no: the merchant number the gateway accepts.
        processing_delay: seconds before a payout reaches its outcome (and its notification).
        time_scale: multiplies the notification retry gaps (0 s, 30 s, 5 min, 10 min, 1 h, 12 h, each
            counted from the previous attempt: ``NOTIFY_SCHEDULE``).
        seed: seeds the fault RNG.
        clock: the gateway's clock (timezone-aware UTC); e.g. to provoke ``REQ_TIME_OVER_TIME``.
        notify_url: the dashboard's notification URL, used for orders without ``notifyUrl``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        merchant_keys: KeyPair | None = None,
        platform_keys: KeyPair | None = None,
        app_id: str = DEFAULT_APP_ID,
        merchant_no: str = DEFAULT_MERCHANT_NO,
        processing_delay: float = 0.05,
        time_scale: float = 0.001,
        seed: int = 0,
        clock: Callable[[], datetime] | None = None,
        notify_url: str | None = None,
    ) -> None:
        if not is_loopback_host(host):
            # The sandbox holds throwaway keys and accepts any payout: never expose it on a network.
            msg = f"the sandbox only listens on loopback addresses, not {host!r}"
            raise ValueError(msg)
        if processing_delay < 0 or time_scale < 0:
            msg = "processing_delay and time_scale must not be negative"
            raise ValueError(msg)
        self._host = host
        self._port = port
        self._merchant_keys = merchant_keys or generate_keypair()
        self._platform_keys = platform_keys or generate_keypair()
        self.app_id = app_id
        self.merchant_no = merchant_no
        self._processing_delay = processing_delay
        self._clock = clock or utc_now
        self._notify_url = notify_url
        self._verifier = RsaVerifier(self._merchant_keys.public_key)
        self._signer = RsaSigner(self._platform_keys.private_key)
        self._answers = Answers(self._signer)
        self._tasks = TaskTracker()
        self.faults = FaultSet(seed)
        self.ledger = Ledger()
        self._notifier = Notifier(
            signer=self._signer,
            app_id=app_id,
            merchant_no=merchant_no,
            time_scale=time_scale,
            clock=self._clock,
            tasks=self._tasks,
        )
        self._runner: web.ServerRunner | None = None
        self._stopping = asyncio.Event()
        self._flush = asyncio.Event()
        self._closing = asyncio.Event()
        self._late_commits: set[asyncio.Task[None]] = set()
        self._started = False
        self._apis = PayoutApis(
            app_id=app_id,
            merchant_no=merchant_no,
            verifier=self._verifier,
            clock=self._clock,
            ledger=self.ledger,
            default_notify_url=notify_url,
            on_commit=self._schedule_outcome,
        )

    # ------------------------------------------------------------------------------ public surface

    @property
    def base_url(self) -> str:
        """The gateway prefix to configure clients with (``http://127.0.0.1:<port>/aggregate-pay/...``)."""
        if not self._started:
            msg = "the sandbox is not started; use 'async with SandboxGateway() as gw'"
            raise RuntimeError(msg)
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}{API_PREFIX}"

    @property
    def port(self) -> int:
        """The port it listens on (known once started)."""
        return self._port

    @property
    def merchant_private_key(self) -> str:
        """The merchant private key clients sign with (one-line base64, PayerMax's format)."""
        return self._merchant_keys.private_key

    @property
    def merchant_public_key(self) -> str:
        """The merchant public key the gateway verifies requests with (one-line base64)."""
        return self._merchant_keys.public_key

    @property
    def platform_private_key(self) -> str:
        """The platform private key the gateway signs with (one-line base64)."""
        return self._platform_keys.private_key

    @property
    def platform_public_key(self) -> str:
        """The platform public key clients verify answers with (one-line base64)."""
        return self._platform_keys.public_key

    @property
    def notifications(self) -> list[Delivery]:
        """Every notification delivery attempt so far, oldest first."""
        return list(self._notifier.deliveries)

    def config(self, **overrides: object) -> PayerMaxConfig:
        """A ready :class:`PayerMaxConfig` for this gateway's merchant; keyword arguments override."""
        settings: dict[str, object] = {
            "app_id": self.app_id,
            "merchant_no": self.merchant_no,
            "merchant_private_key": self.merchant_private_key,
            "platform_public_key": self.platform_public_key,
            "base_url": self.base_url,
            **overrides,
        }
        return PayerMaxConfig(**settings)  # type: ignore[arg-type]

    async def deliver_again(self, out_trade_no: str) -> Delivery:
        """Deliver the latest notification of a payout once more (a duplicate), and return the attempt.

        Raises:
            KeyError: no notification was ever made for this payout.
        """
        return await self._notifier.deliver_again(out_trade_no)

    @property
    def pending_late_commits(self) -> int:
        """How many orders :attr:`~FaultKind.COMMIT_LATE` faults are holding back right now."""
        return sum(1 for task in self._late_commits if not task.done())

    async def flush_late_commits(self) -> int:
        """Commit now every order a :attr:`~FaultKind.COMMIT_LATE` fault is holding back, as if its
        delay had passed, and return how many there were. Lets tests use long delays without
        waiting for them.
        """
        pending = list(self._late_commits)
        self._flush.set()
        for _ in range(_CLOSE_PASSES):
            await asyncio.sleep(0)
        for task in pending:
            await asyncio.wait({task}, timeout=5)
        self._flush.clear()
        return len(pending)

    async def refuse_connections(self, refuse: bool = True) -> None:
        """Stop listening (clients get "connection refused"), or listen again on the same port."""
        if refuse:
            await self._stop_listening()
        elif self._runner is None:
            await self._listen()

    async def settle(self, timeout: float = 10.0) -> None:
        """Wait until every scheduled outcome and notification task has run.

        Raises:
            TimeoutError: some are still running after ``timeout`` seconds (e.g. a receiver that never
                acknowledges, with a large ``time_scale``).
        """
        await self._tasks.settle(timeout)

    # ------------------------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start listening (``async with`` does this)."""
        if self._started:
            return
        self._stopping.clear()
        self._closing.clear()
        await self._listen()
        self._started = True

    async def aclose(self) -> None:
        """Stop listening, cancel every background task and close the notification session."""
        self._closing.set()
        self._stopping.set()
        await self._stop_listening()
        await self._tasks.aclose()
        await self._notifier.aclose()
        self._started = False

    async def __aenter__(self) -> SandboxGateway:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _listen(self) -> None:
        runner = web.ServerRunner(web.Server(self._handle, access_log=None), shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self._host, self._port)
        try:
            await site.start()
        except OSError:
            await runner.cleanup()
            raise
        if self._port == 0:
            for address in runner.addresses:
                self._port = int(address[1])
                break
        self._runner = runner

    async def _stop_listening(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            self._stopping.set()
            try:
                await runner.cleanup()
            finally:
                self._stopping.clear()
            # Closing sent FINs on idle keep-alive connections; let in-process clients see them, so
            # their next request dials afresh and meets "connection refused" rather than a dead socket.
            for _ in range(_CLOSE_PASSES):
                await asyncio.sleep(0)

    # ------------------------------------------------------------------------------------- requests

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        api = request.path[len(API_PREFIX) + 1 :] if request.path.startswith(API_PREFIX) else ""
        if api not in APIS or request.method != "POST":
            # Counted too: a test proving that nothing reached the gateway must see these.
            self.ledger.record_post(api or request.path, None)
            if api not in APIS:
                return web.Response(status=404, text="Not Found")
            return web.Response(status=405, text="Method Not Allowed")
        raw = await read_body(request)
        if raw is None:
            self.ledger.record_post(api, None)
            return self._answers.signed(
                {"code": "PARAMS_INVALID", "msg": "The request is too large."}
            )
        document = parse_body(raw)
        data = document.get("data") if document is not None else None
        number = data.get("outTradeNo") if isinstance(data, Mapping) else None
        out_trade_no = number if isinstance(number, str) else None
        self.ledger.record_post(api, out_trade_no)
        fault = self.faults.draw(api, out_trade_no)
        if fault is not None and fault.kind is FaultKind.COMMIT_LATE:
            sign = request.headers.get("sign")
            late = asyncio.ensure_future(self._commit_late(fault.delay, api, raw, document, sign))
            self._late_commits.add(late)
            late.add_done_callback(self._late_commits.discard)
            self._tasks.spawn(_wait_for(late), name="payermax-sandbox-late-commit")
            log_request(api, out_trade_no, "fault COMMIT_LATE")
            abort(request, reset=False)
            return web.Response(status=500)  # never written: the connection is gone
        if fault is not None and fault.kind.before_commit:
            log_request(api, out_trade_no, f"fault {fault.kind.value}")
            return self._answers.before_commit(request, fault)
        answer = self._apis.process(api, raw, document, request.headers.get("sign"))
        faulty = f" (then fault {fault.kind.value})" if fault is not None else ""
        log_request(api, out_trade_no, f"{answer.get('code')}{faulty}")
        if fault is None:
            return self._answers.signed(answer)
        if fault.kind is FaultKind.NOTIFY_PENDING:
            self._notify_pending(answer, out_trade_no)
            return self._answers.signed(answer)
        return await self._answers.after_commit(request, fault, answer, self._stopping)

    def _notify_pending(self, answer: Mapping[str, object], out_trade_no: str | None) -> None:
        """Announce a just-committed payout's PENDING status (with its sub-status) before its
        outcome, as PayerMax may do when the sub-status changes."""
        order = self.ledger.orders.get(out_trade_no or "")
        accepted = answer.get("code") == "APPLY_SUCCESS"
        if accepted and order is not None and order.status is PayoutStatus.PENDING:
            self._notifier.notify(order)

    async def _commit_late(
        self,
        delay: float,
        api: str,
        raw: bytes,
        document: Mapping[str, object] | None,
        sign: str | None,
    ) -> None:
        # Only closing the gateway drops a pending commit; refusing connections does not.
        stop = asyncio.ensure_future(self._closing.wait())
        flush = asyncio.ensure_future(self._flush.wait())
        try:
            await asyncio.wait({stop, flush}, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            flush.cancel()
        if not self._closing.is_set():
            self._apis.process(api, raw, document, sign)

    def _schedule_outcome(self, order: SandboxOrder) -> None:
        outcome = outcome_for(order.data)
        if outcome is not PayoutStatus.PENDING:  # 100/10000 stay PENDING for ever: nothing to run
            self._tasks.spawn(self._settle_order(order, outcome), name="payermax-sandbox-outcome")

    async def _settle_order(self, order: SandboxOrder, outcome: PayoutStatus) -> None:
        """Apply a payout's outcome after the processing delay and announce each new status."""
        steps = (
            (PayoutStatus.SUCCESS, PayoutStatus.BOUNCEBACK)
            if outcome is PayoutStatus.BOUNCEBACK
            else (outcome,)
        )
        for status in steps:
            await asyncio.sleep(self._processing_delay)
            order.move_to(status, self._clock())
            self._notifier.notify(order)

    def __repr__(self) -> str:
        state = f"listening on {self._host}:{self._port}" if self._runner else "not listening"
        return f"SandboxGateway({state}, orders={len(self.ledger.orders)})"


async def _wait_for(task: asyncio.Task[None]) -> None:
    """Let the gateway's task tracker wait for (and on close, cancel) a late commit."""
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        task.cancel()
        raise
