"""The FastAPI and aiohttp examples answer every error with the same status and the same body.

Both apps run against their own sandbox, reached over loopback HTTP through the plugin's relay, and
play the same script of requests; their answers must be identical, and each must be the one the
shared mapping (``examples/http_errors.py``) promises.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import aiohttp
import pytest

from examples import aiohttp_app, fastapi_app
from examples.http_errors import Answer, error_answer
from payermax_async import (
    IdempotencyConflictError,
    KeyPair,
    PayerMaxError,
    PayoutOutcomeUnknown,
    ValidationError,
)
from payermax_async.errors import (
    AuthenticationError,
    ConnectError,
    DeadlineExceededError,
    GatewayError,
    InvalidRequestError,
    RateLimitError,
)
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.testing import fast_retry_policy
from payermax_async.testing.relay import WebhookRelay

APPS = ("fastapi", "aiohttp")
#: The apps' deadline per PayerMax call, short so that a slow gateway's answers arrive in time here.
DEADLINE = 0.5
Reply = tuple[int, object]


class Service:
    """One example app, served through a relay, and the sandbox behind it."""

    def __init__(self, http: aiohttp.ClientSession, url: str, gateway: SandboxGateway) -> None:
        self.http = http
        self.url = url
        self.gateway = gateway

    async def post(self, body: object) -> Reply:
        """POST /withdrawals with ``body`` as JSON."""
        async with self.http.post(f"{self.url}/withdrawals", json=body) as answer:
            return answer.status, await answer.json()

    async def get(self, withdrawal_id: str, *, refresh: bool = False) -> Reply:
        """GET /withdrawals/{id}."""
        params = {"refresh": "true"} if refresh else {}
        async with self.http.get(f"{self.url}/withdrawals/{withdrawal_id}", params=params) as a:
            return a.status, await a.json()


def withdrawal(withdrawal_id: str, amount: str = "50000", **fields: str) -> dict[str, str]:
    """A POST /withdrawals body both apps accept."""
    body = {
        "withdrawal_id": withdrawal_id,
        "amount": amount,
        "target_org": "DANA",
        "account_no": "081234567890",
        "full_name": "Siti Rahayu",
    }
    return body | fields


async def _attach(kind: str, relay: WebhookRelay, gateway: SandboxGateway) -> None:
    if kind == "fastapi":
        settings = fastapi_app.Settings(
            config=gateway.config(),
            notify_url=relay.url_for(fastapi_app.WEBHOOK_PATH),
            retry=fast_retry_policy(max_attempts=2),
            call_deadline=DEADLINE,
            reconcile_every=None,
        )
        await relay.attach(fastapi_app.create_app(settings), lifespan=True)
    else:
        await relay.attach(
            aiohttp_app.create_app(
                aiohttp_app.Settings(
                    config=gateway.config(),
                    notify_url=relay.url_for(aiohttp_app.WEBHOOK_PATH),
                    retry=fast_retry_policy(max_attempts=2),
                    call_deadline=DEADLINE,
                    reconcile_every=None,
                )
            )
        )


Serve = Callable[[str], AbstractAsyncContextManager[Service]]


@pytest.fixture
def serve(payermax_sandbox_keys: tuple[KeyPair, KeyPair]) -> Serve:
    """``async with serve(kind)``: the example app of that kind, against a sandbox of its own."""

    @asynccontextmanager
    async def running(kind: str) -> AsyncIterator[Service]:
        merchant, platform = payermax_sandbox_keys
        async with (
            SandboxGateway(merchant_keys=merchant, platform_keys=platform) as gateway,
            WebhookRelay() as relay,
            aiohttp.ClientSession() as http,
        ):
            await _attach(kind, relay, gateway)
            yield Service(http, relay.url, gateway)
            await relay.detach()

    return running


async def script(service: Service) -> list[Reply]:
    """Every error path the apps map, in one fixed order; the answers, in the same order."""
    gateway = service.gateway
    replies = [
        await service.post(withdrawal("WD_map_amount", "12.5.0")),
        await service.post(withdrawal("WD_map_payee", account_no="0812-34AB-CD")),
        await service.post(withdrawal("WD_map_ok")),
        await service.post(withdrawal("WD_map_ok", "60000")),
        await service.get("WD_map_nobody"),
        await service.post([1]),
    ]
    gateway.faults.add(
        Fault(FaultKind.REJECT, api="paymentOrderPay", times=1, code="BALANCE_INSUFFICIENT")
    )
    replies.append(await service.post(withdrawal("WD_map_rejected")))
    gateway.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api="paymentOrderPay", times=1))
    gateway.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api="paymentOrderQry"))
    replies.append(await service.post(withdrawal("WD_map_doubt")))
    replies.append(await service.get("WD_map_ok", refresh=True))
    gateway.faults.clear()
    # A gateway slower than the deadline: the payout taken but unanswered is in doubt; a slow
    # status query is the provider being unavailable.
    gateway.faults.add(Fault(FaultKind.DELAY, api="paymentOrderPay", times=1, delay=30))
    replies.append(await service.post(withdrawal("WD_map_slow")))
    gateway.faults.add(Fault(FaultKind.DELAY, api="paymentOrderQry", times=1, delay=30))
    replies.append(await service.get("WD_map_ok", refresh=True))
    await gateway.refuse_connections()
    replies.append(await service.post(withdrawal("WD_map_down")))
    await gateway.refuse_connections(False)
    return replies


async def play(serve: Serve, kind: str) -> list[Reply]:
    """The script's answers from one app (PayerMax's ``tradeNo`` carries the time: kept as present)."""
    async with serve(kind) as service:
        replies = await script(service)
    for _, body in replies:
        if isinstance(body, dict) and "trade_no" in body:
            body["trade_no"] = "<tradeNo>" if body["trade_no"] else None
    return replies


async def test_both_apps_give_identical_answers(serve: Serve):
    """Same script, same sandbox behaviour: the FastAPI and aiohttp answers are equal, one by one."""
    fastapi_replies = await play(serve, "fastapi")
    aiohttp_replies = await play(serve, "aiohttp")
    assert len(fastapi_replies) == 12
    for index, (left, right) in enumerate(zip(fastapi_replies, aiohttp_replies, strict=True)):
        if index == 5:  # a malformed body: each framework words its own complaint
            assert left[0] == right[0] == 400
            assert _error(left) == _error(right) == "bad_request"
            continue
        assert left == right, f"answer {index} differs"


@pytest.mark.parametrize("kind", APPS)
async def test_each_error_gets_the_promised_status_and_body(serve: Serve, kind: str):
    """Each answer of the script is the shared mapping's: 422, 409, 404, 400, 422, 202, 502, 503;
    a deadline that passes after sending is 202 in doubt, a slow query 503."""
    replies = await play(serve, kind)
    statuses = [status for status, _ in replies]
    assert statuses == [422, 422, 202, 409, 404, 400, 422, 202, 502, 202, 503, 503]
    assert [_error(reply) for reply in replies] == [
        "invalid",
        "payee_invalid",
        None,
        "conflict",
        "not_found",
        "bad_request",
        "rejected",
        None,
        "provider_error",
        None,
        "unavailable",
        "unavailable",
    ]
    invalid, payee, _, _, _, _, rejected, doubt, _, slow, _, _ = (body for _, body in replies)
    assert isinstance(invalid, dict)
    assert invalid["field"] == "trade.amount"
    assert isinstance(payee, dict)
    assert payee["fields"][0]["field"] == "payeeInfo.accountInfo.accountNo"
    assert isinstance(rejected, dict)
    assert rejected["code"] == "BALANCE_INSUFFICIENT"
    assert isinstance(doubt, dict)
    assert (doubt["withdrawal_id"], doubt["status"]) == ("WD_map_doubt", "IN_DOUBT")
    assert isinstance(slow, dict)
    assert (slow["withdrawal_id"], slow["status"]) == ("WD_map_slow", "IN_DOUBT")
    assert "deadline" in str(slow["detail"])


def _error(reply: Reply) -> object:
    body = reply[1]
    return body.get("error") if isinstance(body, dict) else None


@pytest.mark.parametrize(
    ("error", "status", "kind"),
    [
        (PayoutOutcomeUnknown("may exist", out_trade_no="WD_1"), 202, None),
        (ValidationError("bad", field="trade.amount"), 422, "invalid"),
        (IdempotencyConflictError("used", out_trade_no="WD_1"), 409, "conflict"),
        (InvalidRequestError("PARAMS_INVALID", "no"), 422, "rejected"),
        (RateLimitError("TOO_MANY_REQUEST", "slow down"), 503, "unavailable"),
        (ConnectError("refused"), 503, "unavailable"),
        (DeadlineExceededError("too slow", maybe_sent=False), 503, "unavailable"),
        (GatewayError("SYSTEM_ERROR", "boom"), 502, "provider_error"),
        (AuthenticationError("ILLEGAL_IP_REQUEST", "who"), 502, "provider_error"),
    ],
)
def test_the_mapping_covers_every_error_family(error: PayerMaxError, status: int, kind: str | None):
    """Each error family has its status; only an unknown outcome marks the withdrawal in doubt."""
    answer: Answer = error_answer(error, "WD_1")
    assert answer.status == status
    assert answer.body.get("error") == kind
    assert answer.in_doubt is (status == 202)
