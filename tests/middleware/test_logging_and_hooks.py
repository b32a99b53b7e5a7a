"""The single redaction point, and hooks that can never change a payout's fate."""

from __future__ import annotations

import pytest

from payermax_async import PayerMaxClient
from payermax_async._redact import redact_text
from payermax_async.middleware.hooks import HookEvent, Hooks
from payermax_async.middleware.logging import redact
from payermax_async.sandbox import Fault, FaultKind, SandboxGateway
from payermax_async.testing import fast_retry_policy
from tests.support.payloads import payout


def test_redact_masks_payee_fields_and_drops_secrets() -> None:
    """Account numbers, names and emails keep only four characters; sign values vanish."""
    safe = redact({**payout("KEEP_0001"), "sign": "c2lnbmF0dXJl" * 10})
    assert isinstance(safe, dict)
    assert safe["outTradeNo"] == "KEEP_0001"
    assert safe["trade"] == {"amount": "10", "currency": "USD"}
    payee = safe["payeeInfo"]
    assert payee["accountInfo"] == {"accountNo": "…4444"}
    assert payee["name"] == {"fullName": "…etti"}
    assert payee["email"] == "….org"
    assert safe["sign"] == "[redacted]"


def test_redact_text_masks_free_text() -> None:
    """Emails, long digit runs and key-sized base64 disappear from messages."""
    text = redact_text("account 4111 2222 3333 4444 of ann@example.org key " + "A" * 60)
    assert "4111" not in text
    assert "ann@" not in text
    assert "AAAA" * 10 not in text


async def test_hooks_see_every_attempt_and_a_failing_hook_changes_nothing(
    gw: SandboxGateway,
) -> None:
    """on_request/on_response fire per attempt with latency; a hook that raises is ignored."""
    events: list[tuple[str, HookEvent]] = []

    def broken(_event: HookEvent) -> None:
        raise RuntimeError

    hooks = Hooks(
        on_request=lambda e: events.append(("request", e)),
        on_response=lambda e: events.append(("response", e)),
        on_retry=broken,
    )
    gw.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT, api="paymentOrderPay", times=1))
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy(), hooks=hooks) as client:
        result = await client.payouts.create(payout("HOOK_0001"))
    assert result.trade_no == gw.ledger.orders["HOOK_0001"].trade_no
    responses = [e for name, e in events if name == "response"]
    # pay (503), query (ORDER_NOT_EXIST licenses the resend), pay again
    assert [e.outcome for e in responses] == ["GatewayError", "OrderNotFoundError", "ok"]
    assert all(e.latency is not None and e.latency >= 0 for e in responses)
    assert responses[0].out_trade_no == "HOOK_0001"


@pytest.mark.parametrize("bad", [object(), "memory"])
def test_client_refuses_a_store_that_is_not_one(bad: object, gw: SandboxGateway) -> None:
    """store= must implement IdempotencyStore."""
    from payermax_async import ConfigurationError

    with pytest.raises(ConfigurationError):
        PayerMaxClient(gw.config(), store=bad)  # type: ignore[arg-type]
