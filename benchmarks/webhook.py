"""Webhook verification: WebhookVerifier.verify against raw cryptography verify + json.loads."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from payermax_async import KeyPair, RsaSigner, WebhookVerifier, generate_keypair

from ._common import spread
from .baseline import load_public, raw_verify_notification

MERCHANT_NO = "010213834123456"
APP_ID = "3b242b56a8b64274bcc37dac281120e3"


def notification(platform: KeyPair) -> tuple[bytes, str]:
    """A signed PAYOUT notification body as the gateway sends it, and its sign header."""
    document = {
        "code": "APPLY_SUCCESS",
        "msg": "",
        "keyVersion": "1",
        "appId": APP_ID,
        "merchantNo": MERCHANT_NO,
        "notifyTime": "2024-05-01T10:00:00.123+00:00",
        "notifyType": "PAYOUT",
        "data": {
            "outTradeNo": "BENCH_000001",
            "tradeNo": "20240501100000TRADE0001",
            "status": "SUCCESS",
            "trade": {"amount": "150000", "currency": "IDR"},
            "source": {"amount": "150000", "currency": "IDR", "fee": "2500", "feeCurrency": "IDR"},
            "destination": {"amount": "150000", "currency": "IDR"},
            "country": "ID",
            "paymentMethodType": "WALLET",
            "targetOrg": "DANA",
            "createTime": "2024-05-01T09:59:58.001+00:00",
            "completeTime": "2024-05-01T10:00:00.100+00:00",
        },
    }
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
    return body, RsaSigner(platform.private_key).sign_sync(body)


def _rate(fn: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        fn()
    return count / (time.perf_counter() - started)


def bench_webhook(rounds: int, count: int) -> dict[str, Any]:
    """Verified notifications per second, SDK and raw, alternating rounds on one core."""
    platform = generate_keypair()
    body, sign = notification(platform)
    verifier = WebhookVerifier(platform.public_key, merchant_no=MERCHANT_NO, app_id=APP_ID)
    public = load_public(platform.public_key)
    loop = asyncio.new_event_loop()
    try:

        async def verify_many(count: int) -> None:
            for _ in range(count):
                await verifier.verify(body, sign)

        def sdk(count: int) -> float:
            # The async API awaited in a running loop, as a web handler calls it (it runs inline).
            started = time.perf_counter()
            loop.run_until_complete(verify_many(count))
            return count / (time.perf_counter() - started)

        def sdk_sync(count: int) -> float:
            return _rate(lambda: verifier.verify_sync(body, sign), count)

        def raw(count: int) -> float:
            return _rate(lambda: raw_verify_notification(public, body, sign), count)

        for fn in (raw, sdk, sdk_sync):
            fn(min(count, 200))
        rows = []
        for round_no in range(rounds):
            order = (raw, sdk_sync, sdk) if round_no % 2 == 0 else (sdk, sdk_sync, raw)
            rates = {fn.__name__: fn(count) for fn in order}
            rows.append(
                {
                    "raw_per_s": rates["raw"],
                    "sdk_per_s": rates["sdk"],
                    "sdk_sync_per_s": rates["sdk_sync"],
                    "ratio": rates["sdk"] / rates["raw"],
                    "sync_ratio": rates["sdk_sync"] / rates["raw"],
                }
            )
    finally:
        loop.close()
    return {
        "name": "webhook verify: WebhookVerifier.verify vs raw verify + json.loads",
        "body_bytes": len(body),
        "per_round": count,
        "rounds": rows,
        "ratio": spread([row["ratio"] for row in rows]),
        "sync_ratio": spread([row["sync_ratio"] for row in rows]),
    }
