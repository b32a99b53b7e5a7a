"""Property tests: whatever arrives, the verifier raises only PayerMaxError subclasses."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from payermax_async import KeyPair, PayerMaxError, RsaSigner, WebhookVerifier, generate_keypair
from tests.support.webhooks import APP_ID, MERCHANT_NO, notification

FAST = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

signatures = st.one_of(
    st.none(),
    st.text(max_size=400),
    st.binary(min_size=0, max_size=300).map(lambda b: base64.b64encode(b).decode()),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=20), st.floats(allow_nan=False)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)


@pytest.fixture(scope="module")
def keys() -> tuple[WebhookVerifier, RsaSigner]:
    """A verifier with two key versions, and the signer of version 1."""
    current: KeyPair = generate_keypair()
    verifier = WebhookVerifier(
        {"1": current.public_key, "2": generate_keypair().public_key},
        merchant_no=MERCHANT_NO,
        app_id=APP_ID,
        max_body_bytes=4096,
    )
    return verifier, RsaSigner(current.private_key)


async def _outcome(verifier: WebhookVerifier, body: Any, sign: Any) -> None:
    with contextlib.suppress(PayerMaxError):  # the only kind of failure allowed
        await verifier.verify(body, sign)


@FAST
@given(body=st.binary(max_size=5000), sign=signatures)
async def test_arbitrary_bytes_and_signatures(
    keys: tuple[WebhookVerifier, RsaSigner], body: bytes, sign: str | None
) -> None:
    """Random bytes with random signatures raise only PayerMaxError subclasses."""
    await _outcome(keys[0], body, sign)


@FAST
@given(body=st.binary(max_size=5000))
async def test_arbitrary_bytes_correctly_signed(
    keys: tuple[WebhookVerifier, RsaSigner], body: bytes
) -> None:
    """Random bytes that do carry PayerMax's signature reach the parser and still fail cleanly."""
    verifier, signer = keys
    await _outcome(verifier, body, signer.sign_sync(body))


@FAST
@given(document=json_values)
async def test_arbitrary_json_correctly_signed(
    keys: tuple[WebhookVerifier, RsaSigner], document: Any
) -> None:
    """Any signed JSON value either parses as a notification or fails with a PayerMaxError."""
    verifier, signer = keys
    body = json.dumps(document).encode()
    await _outcome(verifier, body, signer.sign_sync(body))


@FAST
@given(
    top=st.dictionaries(
        st.sampled_from(["keyVersion", "notifyType", "merchantNo", "appId", "notifyTime", "code"]),
        json_values,
        max_size=3,
    ),
    data=st.dictionaries(
        st.sampled_from(["outTradeNo", "status", "trade", "source", "expiryTime", "extra"]),
        json_values,
        max_size=3,
    ),
)
async def test_mutated_notifications_correctly_signed(
    keys: tuple[WebhookVerifier, RsaSigner], top: dict[str, Any], data: dict[str, Any]
) -> None:
    """A real notification with fields replaced by arbitrary JSON fails only with PayerMaxError."""
    verifier, signer = keys
    document = notification() | top
    document["data"] = document["data"] | data
    body = json.dumps(document).encode()
    await _outcome(verifier, body, signer.sign_sync(body))


@FAST
@given(body=st.one_of(st.text(), json_values, st.integers(), st.lists(st.binary())))
async def test_non_bytes_bodies_refused(keys: tuple[WebhookVerifier, RsaSigner], body: Any) -> None:
    """Anything but bytes is refused with a PayerMaxError, never a TypeError."""
    with pytest.raises(PayerMaxError):
        await keys[0].verify(body, "c2lnbg==")
