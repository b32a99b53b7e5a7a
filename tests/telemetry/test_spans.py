"""Spans and metrics from a client with ``Telemetry().middlewares``, against the sandbox."""

from __future__ import annotations

import pytest
from opentelemetry.trace import SpanKind, StatusCode

from payermax_async import PayoutOutcomeUnknown
from payermax_async.errors import InvalidRequestError
from payermax_async.sandbox import Fault, FaultKind
from tests.support.sandbox import payout

PAY = "paymentOrderPay"
QUERY = "paymentOrderQry"


async def test_one_operation_span_wraps_one_attempt_span(client, recorded):
    """create(): a payermax.create span (INTERNAL) with one payermax.paymentOrderPay child
    (CLIENT), both with api, out_trade_no and outcome; the attempt span has its number."""
    await client.payouts.create(payout("otel_1"))
    (operation,) = recorded.spans("payermax.create")
    (attempt,) = recorded.spans(f"payermax.{PAY}")
    assert operation.kind is SpanKind.INTERNAL
    assert attempt.kind is SpanKind.CLIENT
    assert attempt.parent is not None
    assert attempt.parent.span_id == operation.context.span_id
    assert attempt.context.trace_id == operation.context.trace_id
    assert dict(operation.attributes) == {
        "payermax.api": PAY,
        "payermax.out_trade_no": "otel_1",
        "payermax.outcome": "ok",
    }
    assert dict(attempt.attributes) == {
        "payermax.api": PAY,
        "payermax.out_trade_no": "otel_1",
        "payermax.attempt": 1,
        "payermax.outcome": "ok",
        "http.response.status_code": 200,
    }
    assert operation.status.status_code is StatusCode.UNSET
    assert recorded.total("client.attempts", api=PAY, outcome="ok") == 1
    assert recorded.total("client.retries") == 0
    assert recorded.total("client.attempt.duration", api=PAY) == 1
    assert recorded.total("client.operation.duration", api=PAY) == 1


async def test_retrieve_is_its_own_operation(client, recorded):
    """retrieve(): payermax.retrieve around one payermax.paymentOrderQry attempt."""
    await client.payouts.create(payout("otel_2"))
    await client.payouts.retrieve("otel_2")
    (operation,) = recorded.spans("payermax.retrieve")
    (attempt,) = recorded.spans(f"payermax.{QUERY}")
    assert attempt.parent.span_id == operation.context.span_id
    assert operation.attributes["payermax.out_trade_no"] == "otel_2"


async def test_a_retried_create_has_one_attempt_span_per_attempt(client, gateway, recorded):
    """Two TOO_MANY_REQUEST answers, then success: three numbered attempt spans under one
    operation span, two retries counted, attempts counted by outcome."""
    gateway.faults.add(Fault(FaultKind.RATE_LIMIT, api=PAY, times=2, retry_after=0))
    await client.payouts.create(payout("otel_3"))
    (operation,) = recorded.spans("payermax.create")
    attempts = recorded.spans(f"payermax.{PAY}")
    assert [s.attributes["payermax.attempt"] for s in attempts] == [1, 2, 3]
    assert [s.attributes["payermax.outcome"] for s in attempts] == [
        "RateLimitError",
        "RateLimitError",
        "ok",
    ]
    assert all(s.parent.span_id == operation.context.span_id for s in attempts)
    assert attempts[0].status.status_code is StatusCode.ERROR
    assert [e.attributes["exception.message"] for e in attempts[0].events] == ["TOO_MANY_REQUEST"]
    assert operation.attributes["payermax.outcome"] == "ok"
    assert recorded.total("client.retries", api=PAY) == 2
    assert recorded.total("client.attempts", api=PAY, outcome="RateLimitError") == 2
    assert recorded.total("client.attempts", api=PAY, outcome="ok") == 1


async def test_an_in_doubt_payout_is_counted_until_settled(client, gateway, recorded):
    """Answer lost and look-ups failing: the operation ends PayoutOutcomeUnknown (status ERROR),
    the look-ups are attempt spans inside it, the in-doubt count is 1; a later retrieve that finds
    the order brings it back to 0."""
    gateway.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, times=1))
    lookups = gateway.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=QUERY))
    with pytest.raises(PayoutOutcomeUnknown):
        await client.payouts.create(payout("otel_4"))
    (operation,) = recorded.spans("payermax.create")
    assert operation.attributes["payermax.outcome"] == "PayoutOutcomeUnknown"
    assert operation.attributes["error.type"] == "PayoutOutcomeUnknown"
    assert operation.status.status_code is StatusCode.ERROR
    inside = [
        s for s in recorded.spans() if s.parent and s.parent.span_id == operation.context.span_id
    ]
    assert {s.name for s in inside} == {f"payermax.{PAY}", f"payermax.{QUERY}"}
    assert recorded.total("client.payouts.in_doubt") == 1

    gateway.faults.remove(lookups)
    await client.payouts.retrieve("otel_4")
    assert recorded.total("client.payouts.in_doubt") == 0


async def test_a_replayed_create_has_no_attempt_span(client, recorded):
    """The operation span sits outside the journal: a create answered from it sends nothing and
    records an operation without attempts."""
    await client.payouts.create(payout("otel_5"))
    await client.payouts.create(payout("otel_5"))
    assert len(recorded.spans("payermax.create")) == 2
    assert len(recorded.spans(f"payermax.{PAY}")) == 1


async def test_no_payee_data_in_any_attribute_event_or_metric(client, gateway, recorded):
    """Accepted, rejected and in-doubt payouts with name, account, email and phone: none of those
    values appears in a span name, attribute, event or metric attribute."""
    secrets = {"081299887766", "Rahayu Siti", "siti.rahayu@example.com", "6281377665544"}
    payee = {
        "paymentMethodType": "WALLET",
        "targetOrg": "DANA",
        "accountInfo": {"accountNo": "081299887766"},
        "name": {"fullName": "Rahayu Siti"},
        "email": "siti.rahayu@example.com",
        "payeePhone": "6281377665544",
    }
    await client.payouts.create(payout("otel_6", payeeInfo=payee))
    bad = {**payee, "accountInfo": {"accountNo": "0812-ABC-7766"}}
    secrets.add("0812-ABC-7766")
    with pytest.raises(InvalidRequestError):
        await client.payouts.create(payout("otel_7", payeeInfo=bad))
    gateway.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY, times=1))
    gateway.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=QUERY))
    with pytest.raises(PayoutOutcomeUnknown):
        await client.payouts.create(payout("otel_8", payeeInfo=payee))
    texts: list[str] = []
    for span in recorded.spans():
        texts.append(span.name)
        texts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            texts += [f"{k}={v}" for k, v in (event.attributes or {}).items()]
    for metric in (
        "client.attempts",
        "client.retries",
        "client.attempt.duration",
        "client.operation.duration",
        "client.payouts.in_doubt",
    ):
        texts += [repr(attributes) for attributes, _ in recorded.points(f"payermax.{metric}")]
    blob = "\n".join(texts)
    assert "otel_7" in blob  # the merchant's own number is there (the check can see attributes)
    assert "PARAMS_INVALID" in blob
    for secret in secrets:
        assert secret not in blob
        assert secret[-8:] not in blob
    metric_keys = {key for text in texts if text.startswith("{") for key in eval_keys(text)}
    assert metric_keys == {"payermax.api", "payermax.outcome"}  # no outTradeNo in metrics


def eval_keys(text: str) -> list[str]:
    """The keys of a printed attributes dict."""
    import ast

    return list(ast.literal_eval(text))
