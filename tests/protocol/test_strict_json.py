"""One strict JSON reader for gateway answers and notifications (issue 12).

Answers are parsed through the public client against a real loopback server; the reader's own
rules are checked directly, and the webhook verifier is shown to read the same way.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from payermax_async import KeyPair, PayerMaxClient, RsaSigner, SQLiteStore, WebhookVerifier
from payermax_async.errors import InvalidResponseError, ValidationError
from payermax_async.protocol.envelope import parse_response
from payermax_async.protocol.strict_json import read_json
from tests.support.mock_gateway import (
    SINGLE_ATTEMPT,
    LoopbackGateway,
    loopback_config,
    valid_payout,
)
from tests.support.webhooks import notification


def _serve_raw(gateway: LoopbackGateway, signer: RsaSigner, body: bytes) -> None:
    async def handler(_request: web.Request) -> web.Response:
        return web.Response(
            body=body, headers={"sign": signer.sign_sync(body)}, content_type="application/json"
        )

    gateway.handler = handler


async def test_a_numeric_amount_in_a_query_answer_parses_exactly(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
) -> None:
    """A signed answer with JSON numbers for amounts (not strings) parses, keeping every digit."""
    body = (
        b'{"code":"APPLY_SUCCESS","msg":"Success.","data":{"outTradeNo":"PO20261129000001",'
        b'"tradeNo":"T1","status":"SUCCESS","trade":{"amount":12345678901234567.89,'
        b'"currency":"IDR"},"fee":2500}}'
    )
    _serve_raw(loopback_gateway, platform_signer, body)
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        order = await client.payouts.retrieve("PO20261129000001")
    assert order.trade is not None
    assert order.trade.amount == Decimal("12345678901234567.89")
    assert str(order.trade.amount) == "12345678901234567.89"


async def test_a_repeated_member_name_in_an_answer_is_refused(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
) -> None:
    """A signed answer naming one member twice ("status" FAILED then SUCCESS) is
    InvalidResponseError, not read as whichever value a parser keeps."""
    body = (
        b'{"code":"APPLY_SUCCESS","msg":"","data":{"outTradeNo":"PO20261129000001",'
        b'"tradeNo":"T1","status":"FAILED","status":"SUCCESS"}}'
    )
    _serve_raw(loopback_gateway, platform_signer, body)
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with PayerMaxClient(config, retry=SINGLE_ATTEMPT) as client:
        with pytest.raises(InvalidResponseError, match="duplicate member name"):
            await client.payouts.retrieve("PO20261129000001")


async def test_a_numeric_field_in_a_pay_answer_survives_a_durable_journal(
    loopback_gateway: LoopbackGateway,
    merchant_keys: KeyPair,
    platform_keys: KeyPair,
    platform_signer: RsaSigner,
    tmp_path: Path,
) -> None:
    """A pay answer carrying a JSON number is recorded in a SQLite journal (Decimal written as its
    text), and the same create() afterwards is answered from the journal without a request."""
    body = (
        b'{"code":"APPLY_SUCCESS","msg":"","data":{"outTradeNo":"PO20261129000001",'
        b'"tradeNo":"T1","status":"PENDING","fee":2500.50,"exchangeRate":1.25}}'
    )
    _serve_raw(loopback_gateway, platform_signer, body)
    config = loopback_config(merchant_keys, platform_keys, loopback_gateway.base_url)
    async with (
        SQLiteStore(tmp_path / "journal.sqlite") as store,
        PayerMaxClient(config, retry=SINGLE_ATTEMPT, store=store) as client,
    ):
        first = await client.payouts.create(valid_payout())
        again = await client.payouts.create(valid_payout())
    assert first.trade_no == again.trade_no == "T1"
    assert len(loopback_gateway.received) == 1


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b'{"a":1,"a":2}', "duplicate member name"),
        (b'{"data":{"x":{"k":1,"k":1}}}', "duplicate member name"),
        (b'{"a":NaN}', "not well-formed JSON"),
        (b'{"a":-Infinity}', "not well-formed JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply|not well-formed"),
        (b'{"a":1', "not well-formed JSON"),
        (b"\xff\xfe{\x00}\x00\x00", "not well-formed JSON"),
        (b'{"a":' + b"9" * 5000 + b"}", "not well-formed JSON"),
    ],
    ids=["dup", "nested-dup", "nan", "infinity", "deep", "truncated", "bad-utf16", "huge-int"],
)
def test_the_reader_refuses_what_two_parsers_could_read_differently(
    raw: bytes, problem: str
) -> None:
    """Duplicates at any depth, non-standard constants, deep nesting, truncation, bad encodings
    and integers past Python's digit limit are ValidationError naming the problem."""
    with pytest.raises(ValidationError, match=problem) as info:
        read_json(raw, what="body")
    assert "9999" not in str(info.value)


def test_the_reader_keeps_numbers_exact() -> None:
    """Fractions and exponents become Decimal, integers stay int, UTF-16 is detected."""
    document: Any = read_json('{"a":0.1,"b":1E+2,"c":7}'.encode("utf-16"), what="body")
    assert document == {"a": Decimal("0.1"), "b": Decimal("1E+2"), "c": 7}
    assert type(document["c"]) is int


@pytest.mark.parametrize(
    "raw",
    [b'{"code":"APPLY_SUCCESS","code":"APPLY_SUCCESS"}', b'{"code":"APPLY_SUCCESS","x":NaN}'],
)
async def test_answers_and_notifications_are_read_alike(
    platform_keys: KeyPair, platform_signer: RsaSigner, raw: bytes
) -> None:
    """What the response parser refuses, the webhook verifier refuses too (one reader)."""
    with pytest.raises(InvalidResponseError):
        parse_response(raw, http_status=200)
    verifier = WebhookVerifier(platform_keys.public_key)
    with pytest.raises(ValidationError):
        await verifier.verify(raw, platform_signer.sign_sync(raw))


async def test_a_notification_with_a_numeric_amount_parses_exactly(
    platform_keys: KeyPair, platform_signer: RsaSigner
) -> None:
    """The verifier reads a numeric amount as the same exact Decimal as the response parser."""
    document = notification()
    body = json.dumps(document).replace('"150000"', "150000.10").encode()
    verifier = WebhookVerifier(platform_keys.public_key)
    parsed = await verifier.verify(body, platform_signer.sign_sync(body))
    assert parsed.data.trade is not None
    assert parsed.data.trade.amount == Decimal("150000.10")
