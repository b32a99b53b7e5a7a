"""Fuzzing WebhookVerifier.verify with hostile, correctly signed notifications (issue 12): lone
surrogate escapes, deep nesting, huge numbers and odd types raise nothing but PayerMaxError.

A short fixed budget runs in CI; PAYERMAX_FUZZ_EXAMPLES=20000 runs a long one (docs/bad-input.md).
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payermax_async import PayerMaxError, RsaSigner, WebhookVerifier, generate_keypair
from tests.support.fuzz import budget, hostile_text
from tests.support.webhooks import APP_ID, MERCHANT_NO, notification


@pytest.fixture(scope="module")
def keys() -> tuple[WebhookVerifier, RsaSigner]:
    """A verifier and PayerMax's signer for it."""
    pair = generate_keypair()
    verifier = WebhookVerifier(pair.public_key, merchant_no=MERCHANT_NO, app_id=APP_ID)
    return verifier, RsaSigner(pair.private_key)


_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text,
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=10,
)
_FIELDS = ["outTradeNo", "status", "subStatus", "trade", "source", "destination", "expiryTime"]


def _encode(document: Any) -> bytes:
    # ensure_ascii writes a lone surrogate as a \ud800 escape: valid UTF-8 bytes that hold one.
    return json.dumps(document, ensure_ascii=True).encode()


@budget(150)
@given(
    st.dictionaries(st.sampled_from(_FIELDS), _values, max_size=3),
    st.sampled_from(["", "deep", "number", "big int"]),
)
async def test_signed_hostile_notifications_raise_only_payermax_errors(
    keys: tuple[WebhookVerifier, RsaSigner], data: dict[str, Any], twist: str
) -> None:
    """A correctly signed notification with hostile data fails only with PayerMaxError."""
    verifier, signer = keys
    document = notification()
    document["data"] = document["data"] | data
    body = _encode(document)
    if twist == "deep":
        body = body[:-1] + b',"x":' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    elif twist == "number":
        body = body.replace(b'"150000"', b"1e999999", 1)
    elif twist == "big int":
        body = body.replace(b'"150000"', b"9" * 5000, 1)
    with contextlib.suppress(PayerMaxError):
        await verifier.verify(body, signer.sign_sync(body))
