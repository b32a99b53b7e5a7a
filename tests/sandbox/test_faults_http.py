"""Every FaultKind is observable from a raw HTTP client, and commits exactly what it says."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from payermax_async.errors import SignatureError
from payermax_async.sandbox import Fault, FaultKind
from payermax_async.signing import RsaVerifier
from tests.support.sandbox import envelope, payout, raw_post

PAY = "paymentOrderPay"


async def send(gateway, merchant_signer, number, *, timeout=5.0):
    body, headers = envelope(gateway, payout(number), merchant_signer)
    return await raw_post(gateway, PAY, body, headers, timeout=timeout)


async def test_reset_before_read_aborts_and_commits_nothing(gateway, merchant_signer):
    """RESET_BEFORE_READ: the connection is reset, no order exists, the POST was counted."""
    gateway.faults.add(Fault(FaultKind.RESET_BEFORE_READ, api=PAY))
    with pytest.raises(aiohttp.ClientConnectionError):
        await send(gateway, merchant_signer, "f_reset")
    assert "f_reset" not in gateway.ledger.orders
    assert gateway.ledger.post_count(api=PAY, out_trade_no="f_reset") == 1


async def test_http_503_is_not_json_and_commits_nothing(gateway, merchant_signer):
    """HTTP_503_BEFORE_COMMIT: an HTML 503 page, no order."""
    gateway.faults.add(Fault(FaultKind.HTTP_503_BEFORE_COMMIT))
    answer = await send(gateway, merchant_signer, "f_503")
    assert answer.status == 503
    assert answer.body.startswith(b"<html>")
    assert "f_503" not in gateway.ledger.orders


@pytest.mark.parametrize(
    ("kind", "committed"),
    [(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, False), (FaultKind.SYSTEM_ERROR_AFTER_COMMIT, True)],
)
async def test_system_error_before_and_after_commit(gateway, merchant_signer, kind, committed):
    """SYSTEM_ERROR is signed either way; only the AFTER_COMMIT kind leaves an order behind."""
    gateway.faults.add(Fault(kind))
    answer = await send(gateway, merchant_signer, "f_sys")
    RsaVerifier(gateway.platform_public_key).verify(answer.body, answer.headers["sign"])
    assert answer.json()["code"] == "SYSTEM_ERROR"
    assert ("f_sys" in gateway.ledger.orders) is committed


async def test_drop_after_commit_commits_then_disconnects(gateway, merchant_signer):
    """DROP_AFTER_COMMIT: the order exists but the client gets no answer at all."""
    gateway.faults.add(Fault(FaultKind.DROP_AFTER_COMMIT, api=PAY))
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await send(gateway, merchant_signer, "f_drop")
    assert "f_drop" in gateway.ledger.orders


async def test_delay_commits_then_outlasts_the_client_timeout(gateway, merchant_signer):
    """DELAY: the order exists, the answer comes after the client gave up."""
    gateway.faults.add(Fault(FaultKind.DELAY, delay=5.0))
    with pytest.raises(asyncio.TimeoutError):
        await send(gateway, merchant_signer, "f_delay", timeout=0.2)
    assert "f_delay" in gateway.ledger.orders


async def test_delay_answers_normally_when_the_client_waits(gateway, merchant_signer):
    """DELAY with a short delay still delivers a correct, signed answer."""
    gateway.faults.add(Fault(FaultKind.DELAY, delay=0.01))
    answer = await send(gateway, merchant_signer, "f_short")
    RsaVerifier(gateway.platform_public_key).verify(answer.body, answer.headers["sign"])
    assert answer.json()["code"] == "APPLY_SUCCESS"


async def test_bad_signature_commits_and_signs_other_bytes(gateway, merchant_signer):
    """BAD_SIGNATURE: APPLY_SUCCESS and an order, but the sign header does not match the body."""
    gateway.faults.add(Fault(FaultKind.BAD_SIGNATURE))
    answer = await send(gateway, merchant_signer, "f_sign")
    assert answer.json()["code"] == "APPLY_SUCCESS"
    with pytest.raises(SignatureError):
        RsaVerifier(gateway.platform_public_key).verify(answer.body, answer.headers["sign"])
    assert "f_sign" in gateway.ledger.orders


async def test_rate_limit_carries_retry_after_and_commits_nothing(gateway, merchant_signer):
    """RATE_LIMIT: a signed TOO_MANY_REQUEST with Retry-After, no order."""
    gateway.faults.add(Fault(FaultKind.RATE_LIMIT, retry_after=2.5))
    answer = await send(gateway, merchant_signer, "f_rate")
    assert answer.json()["code"] == "TOO_MANY_REQUEST"
    assert answer.headers["Retry-After"] == "2.5"
    assert "f_rate" not in gateway.ledger.orders


async def test_faults_filter_by_api_and_out_trade_no_and_stop_after_times(gateway, merchant_signer):
    """Filters pick the requests a fault hits; ``times`` bounds it; the first fault to fire wins."""
    only_b = gateway.faults.add(
        Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT, out_trade_no="f_b", times=1)
    )
    gateway.faults.add(Fault(FaultKind.RATE_LIMIT, api="paymentOrderQry"))
    assert (await send(gateway, merchant_signer, "f_a")).json()["code"] == "APPLY_SUCCESS"
    assert (await send(gateway, merchant_signer, "f_b")).json()["code"] == "SYSTEM_ERROR"
    assert (await send(gateway, merchant_signer, "f_b")).json()["code"] == "APPLY_SUCCESS"
    assert only_b.fired == 1
    body, headers = envelope(gateway, {"outTradeNo": "f_a"}, merchant_signer)
    answer = await raw_post(gateway, "paymentOrderQry", body, headers)
    assert answer.json()["code"] == "TOO_MANY_REQUEST"
    assert gateway.ledger.post_count() == 4
    assert gateway.ledger.post_count(out_trade_no="f_b") == 2


async def test_removed_and_cleared_faults_stop_acting(gateway, merchant_signer):
    """remove() and clear() take faults out of play."""
    fault = gateway.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT))
    gateway.faults.remove(fault)
    assert (await send(gateway, merchant_signer, "f_r1")).json()["code"] == "APPLY_SUCCESS"
    gateway.faults.add(Fault(FaultKind.SYSTEM_ERROR_BEFORE_COMMIT))
    gateway.faults.clear()
    assert (await send(gateway, merchant_signer, "f_r2")).json()["code"] == "APPLY_SUCCESS"
