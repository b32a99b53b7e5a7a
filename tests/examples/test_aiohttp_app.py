"""The aiohttp example against the sandbox, served on a real loopback port."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from examples import aiohttp_app
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.testing import fast_retry_policy


def withdrawal(withdrawal_id: str, amount: str = "50000", **fields: str) -> dict[str, str]:
    """A POST /withdrawals body."""
    body = {
        "withdrawal_id": withdrawal_id,
        "amount": amount,
        "target_org": "DANA",
        "account_no": "081234567890",
    }
    return body | fields


class Served:
    """The running app, an HTTP session to it, and the sandbox."""

    def __init__(
        self, app: web.Application, http: aiohttp.ClientSession, url: str, gateway: SandboxGateway
    ) -> None:
        self.app = app
        self.http = http
        self.url = url
        self.gateway = gateway

    async def post(self, body: dict[str, str]) -> tuple[int, dict[str, object]]:
        """POST /withdrawals; the status and JSON answer."""
        async with self.http.post(f"{self.url}/withdrawals", json=body) as answer:
            return answer.status, await answer.json()

    async def get(self, withdrawal_id: str, **params: str) -> tuple[int, dict[str, object]]:
        """GET /withdrawals/{id}; the status and JSON answer."""
        async with self.http.get(f"{self.url}/withdrawals/{withdrawal_id}", params=params) as a:
            return a.status, await a.json()


@pytest.fixture
async def served(payermax_sandbox: SandboxGateway) -> AsyncIterator[Served]:
    """The example app on 127.0.0.1 with the sandbox posting notifications to it."""
    # Bind first, so the notify URL (which names the port) is known before the app is built.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    settings = aiohttp_app.Settings(
        config=payermax_sandbox.config(),
        notify_url=f"http://127.0.0.1:{port}{aiohttp_app.WEBHOOK_PATH}",
        retry=fast_retry_policy(max_attempts=2),
        reconcile_every=None,
    )
    app = aiohttp_app.create_app(settings)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.SockSite(runner, sock).start()
    async with aiohttp.ClientSession() as http:
        yield Served(app, http, f"http://127.0.0.1:{port}", payermax_sandbox)
    await runner.cleanup()


async def test_withdrawal_accepted_then_settled_by_the_webhook(served: Served):
    """POST answers 202 PENDING; the sandbox's signed notification makes GET answer SUCCESS."""
    status, body = await served.post(withdrawal("WD_aio_1"))
    assert (status, body["status"]) == (202, "PENDING")
    await served.gateway.settle()
    assert (await served.get("WD_aio_1"))[1]["status"] == "SUCCESS"
    assert [d.acked for d in served.gateway.notifications] == [True]


async def test_errors_map_to_http_statuses(served: Served):
    """Payee refused → 422, bad amount → 422 with its field, reused id → 409, bad body → 400."""
    status, body = await served.post(withdrawal("WD_aio_bad", account_no="0812-34AB-CD"))
    assert (status, body["error"]) == (422, "payee_invalid")
    status, body = await served.post(withdrawal("WD_aio_amt", "1,000"))
    assert (status, body["field"]) == (422, "trade.amount")
    await served.post(withdrawal("WD_aio_dup", "50000"))
    assert (await served.post(withdrawal("WD_aio_dup", "60000")))[0] == 409
    async with served.http.post(f"{served.url}/withdrawals", data=b"[1]") as answer:
        assert answer.status == 400
    assert served.gateway.ledger.post_count(api="paymentOrderPay") == 1


async def test_unknown_outcome_is_in_doubt_and_reconciled_once(served: Served):
    """A dropped answer with failing queries is 202 IN_DOUBT; reconcile adopts the one order."""
    served.gateway.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api="paymentOrderPay", times=1))
    served.gateway.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api="paymentOrderQry"))
    status, body = await served.post(withdrawal("WD_aio_doubt"))
    assert (status, body["status"]) == (202, "IN_DOUBT")
    served.gateway.faults.clear()
    await aiohttp_app.reconcile_once(served.app[aiohttp_app.CLIENT], served.app[aiohttp_app.BOOK])
    await served.gateway.settle()
    assert (await served.get("WD_aio_doubt"))[1]["status"] == "SUCCESS"
    assert served.gateway.ledger.post_count(api="paymentOrderPay") == 1


async def test_refresh_and_not_found(served: Served):
    """GET ?refresh=true queries the gateway; an unknown id is 404."""
    await served.post(withdrawal("WD_aio_pending", "10000"))
    status, body = await served.get("WD_aio_pending", refresh="true")
    assert (status, body["status"]) == (200, "PENDING")
    assert (await served.get("WD_aio_nobody"))[0] == 404
