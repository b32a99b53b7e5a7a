"""The FastAPI example against the sandbox: in-process ASGI, real signed webhooks through a relay."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from examples import fastapi_app
from payermax_async import PayerMaxClient
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.testing import fast_retry_policy
from payermax_async.testing.relay import WebhookRelay


def withdrawal(withdrawal_id: str, amount: str = "50000", **fields: str) -> dict[str, str]:
    """A POST /withdrawals body."""
    body = {
        "withdrawal_id": withdrawal_id,
        "amount": amount,
        "target_org": "DANA",
        "account_no": "081234567890",
        "full_name": "Siti Rahayu",
    }
    return body | fields


class Running:
    """The app with its lifespan entered, an HTTP client bound to it, and the sandbox."""

    def __init__(self, app: FastAPI, http: httpx.AsyncClient, gateway: SandboxGateway) -> None:
        self.app = app
        self.http = http
        self.gateway = gateway

    @property
    def client(self) -> PayerMaxClient:
        """The app's one PayerMaxClient."""
        client: PayerMaxClient = self.app.state.payermax
        return client

    @property
    def book(self) -> fastapi_app.WithdrawalBook:
        """The app's withdrawals."""
        book: fastapi_app.WithdrawalBook = self.app.state.book
        return book


@pytest.fixture
async def running(
    payermax_sandbox: SandboxGateway, payermax_webhook_relay: WebhookRelay
) -> AsyncIterator[Running]:
    """The example app, with its webhook reachable by the sandbox through the plugin's relay."""
    settings = fastapi_app.Settings(
        config=payermax_sandbox.config(),
        notify_url=payermax_webhook_relay.url_for(fastapi_app.WEBHOOK_PATH),
        retry=fast_retry_policy(max_attempts=2),
        reconcile_every=None,
    )
    app = fastapi_app.create_app(settings)
    async with app.router.lifespan_context(app):
        await payermax_webhook_relay.attach(app)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://app.test") as http:
            yield Running(app, http, payermax_sandbox)
        await payermax_webhook_relay.detach()


async def test_withdrawal_is_accepted_at_once_and_settled_by_the_webhook(running: Running):
    """POST answers 202 PENDING; the signed notification (through the mount) makes GET say SUCCESS."""
    answer = await running.http.post("/withdrawals", json=withdrawal("WD_api_1"))
    assert answer.status_code == 202
    assert answer.json()["status"] == "PENDING"
    assert answer.json()["trade_no"]
    await running.gateway.settle()
    status = await running.http.get("/withdrawals/WD_api_1")
    assert status.json()["status"] == "SUCCESS"
    assert [d.acked for d in running.gateway.notifications] == [True]
    assert running.gateway.ledger.orders["WD_api_1"].out_trade_no == "WD_api_1"


async def test_failed_payout_reports_its_reason(running: Running):
    """Amount 11000 fails in the sandbox; the status endpoint shows FAILED and the response code."""
    await running.http.post("/withdrawals", json=withdrawal("WD_api_fail", "11000"))
    await running.gateway.settle()
    body = (await running.http.get("/withdrawals/WD_api_fail")).json()
    assert body["status"] == "FAILED"
    assert body["response_code"]


async def test_invalid_payee_is_422_and_nothing_is_paid(running: Running):
    """A payee the gateway's field validation refuses gets 422 with the field; no order exists."""
    answer = await running.http.post(
        "/withdrawals", json=withdrawal("WD_api_bad", account_no="0812-34AB-CD")
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "payee_invalid"
    assert answer.json()["fields"][0]["field"] == "payeeInfo.accountInfo.accountNo"
    assert running.gateway.ledger.post_count(api="paymentOrderPay") == 0


async def test_malformed_amount_is_422_naming_the_field(running: Running):
    """A ValidationError from the SDK becomes 422 with its wire field, before any payout is sent."""
    answer = await running.http.post("/withdrawals", json=withdrawal("WD_api_amt", "12.5.0"))
    assert answer.status_code == 422
    assert answer.json()["field"] == "trade.amount"
    assert running.gateway.ledger.post_count(api="paymentOrderPay") == 0


async def test_retried_post_pays_once(running: Running):
    """The same withdrawal POSTed twice is one payout: the second answer comes from the journal."""
    first = await running.http.post("/withdrawals", json=withdrawal("WD_api_twice"))
    second = await running.http.post("/withdrawals", json=withdrawal("WD_api_twice"))
    assert first.status_code == second.status_code == 202
    assert second.json()["trade_no"] == first.json()["trade_no"]
    assert running.gateway.ledger.post_count(api="paymentOrderPay") == 1


async def test_reused_id_with_other_data_is_409(running: Running):
    """A withdrawal id reused for another amount is refused with 409 and nothing is sent."""
    await running.http.post("/withdrawals", json=withdrawal("WD_api_conflict", "50000"))
    answer = await running.http.post("/withdrawals", json=withdrawal("WD_api_conflict", "70000"))
    assert answer.status_code == 409
    assert running.gateway.ledger.post_count(api="paymentOrderPay") == 1


async def test_unknown_outcome_is_202_in_doubt_then_reconciled_under_the_same_number(
    running: Running,
):
    """Connection dropped after commit and queries failing: 202 IN_DOUBT; the reconciler settles it."""
    gateway = running.gateway
    gateway.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api="paymentOrderPay", times=1))
    gateway.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api="paymentOrderQry"))
    answer = await running.http.post("/withdrawals", json=withdrawal("WD_api_doubt"))
    assert answer.status_code == 202
    assert answer.json()["status"] == "IN_DOUBT"
    gateway.faults.clear()
    await fastapi_app.reconcile_once(running.client, running.book)
    await gateway.settle()
    status = (await running.http.get("/withdrawals/WD_api_doubt")).json()
    assert status["status"] == "SUCCESS"
    assert list(gateway.ledger.orders) == ["WD_api_doubt"]
    assert gateway.ledger.post_count(api="paymentOrderPay") == 1


async def test_in_doubt_payout_that_never_arrived_is_sent_with_the_same_number(running: Running):
    """A payout refused before commit while queries fail is in doubt; reconciling sends it once."""
    gateway = running.gateway
    gateway.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, api="paymentOrderPay", times=1))
    gateway.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api="paymentOrderQry"))
    answer = await running.http.post("/withdrawals", json=withdrawal("WD_api_lost"))
    assert answer.json()["status"] == "IN_DOUBT"
    assert "WD_api_lost" not in gateway.ledger.orders
    gateway.faults.clear()
    await fastapi_app.reconcile_once(running.client, running.book)
    assert list(gateway.ledger.orders) == ["WD_api_lost"]
    assert running.book.get("WD_api_lost") is not None


async def test_pending_payout_without_notification_is_queried_by_the_reconciler(running: Running):
    """A payout whose webhook never comes is settled by the reconciler's query."""
    body = withdrawal("WD_api_quiet")
    request = fastapi_app.payout_request(fastapi_app.WithdrawalIn(**body), notify_url=None)
    result = await running.client.payouts.create(request)
    running.book.open("WD_api_quiet", request)
    running.book.update("WD_api_quiet", result.status.value)
    await running.gateway.settle()
    assert running.gateway.notifications == []
    await fastapi_app.reconcile_once(running.client, running.book, stale_after=0.0)
    assert (await running.http.get("/withdrawals/WD_api_quiet")).json()["status"] == "SUCCESS"


async def test_status_endpoint_refresh_and_unknown(running: Running):
    """GET ?refresh=true asks the gateway; an unknown withdrawal is 404."""
    await running.http.post("/withdrawals", json=withdrawal("WD_api_refresh", "10000"))
    refreshed = await running.http.get("/withdrawals/WD_api_refresh", params={"refresh": "true"})
    assert refreshed.json()["status"] == "PENDING"
    assert (await running.http.get("/withdrawals/WD_nobody")).status_code == 404


async def test_posting_to_the_exact_mount_path_is_redirected(running: Running):
    """Why the webhook path sits below the mount: Starlette 307-redirects the mount path itself."""
    answer = await running.http.post(fastapi_app.WEBHOOK_MOUNT, content=b"{}")
    assert answer.status_code == 307
