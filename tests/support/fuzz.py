"""Hypothesis strategies for hostile request data, and the fuzz budget.

The budget is small in CI (seconds). For a long run set ``PAYERMAX_FUZZ_EXAMPLES`` (examples per fuzz
test), e.g. ``PAYERMAX_FUZZ_EXAMPLES=20000 pytest -p no:cacheprovider -k fuzz`` (docs/bad-input.md).
"""

from __future__ import annotations

import copy
import os
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = ["HOSTILE", "budget", "hostile_payouts", "hostile_text"]


def budget(default: int) -> settings:
    """Hypothesis settings: ``default`` examples, or ``PAYERMAX_FUZZ_EXAMPLES`` when set."""
    examples = int(os.environ.get("PAYERMAX_FUZZ_EXAMPLES", "0")) or default
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
        ],
    )


#: Texts that broke things before: lone surrogates, controls, bidi overrides, non-ASCII digits,
#: exponents, separators, and ordinary text of any code point.
hostile_text = st.one_of(
    st.text(max_size=24),
    st.text(alphabet=st.characters(exclude_categories=()), max_size=12),  # surrogates included
    st.sampled_from(
        [
            "\ud800",
            "a\udfffb",
            "\u202eevil",
            "tab\there",
            "\x00",
            "١٠٠٠",
            "１００",
            "1e3",
            "1_000",
            " 2000 ",
            "0012.50",
            "150000.00",
            "1E+999999999",
            "NaN",
            "-0",
            "http://[::1",
            "https://user:pw@example.com/",
            "javascript:alert(1)",
        ]
    ),
)
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63, max_value=2**200),
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.just(Decimal("1E+999999999")),
    hostile_text,
    st.binary(max_size=4),
    st.just(object()),
)
_keys = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["trade", "amount", "payeeInfo", "name", "fullName", "\ud800", "payeeType "]),
    st.integers(),
)
#: Arbitrary JSON-shaped (and not quite JSON-shaped) values.
HOSTILE = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner),
        st.dictionaries(_keys, inner, max_size=4),
    ),
    max_leaves=12,
)

_VALID: dict[str, Any] = {
    "outTradeNo": "FUZZ_0001",
    "country": "ID",
    "trade": {"amount": "15000", "currency": "IDR"},
    "payeeInfo": {
        "paymentMethodType": "WALLET",
        "targetOrg": "DANA",
        "accountInfo": {"accountNo": "081234567890"},
        "name": {"fullName": "Siti Rahayu"},
    },
}
_PATHS = [
    ("outTradeNo",),
    ("country",),
    ("trade",),
    ("trade", "amount"),
    ("trade", "currency"),
    ("payeeInfo",),
    ("payeeInfo", "paymentMethodType"),
    ("payeeInfo", "targetOrg"),
    ("payeeInfo", "accountInfo", "accountNo"),
    ("payeeInfo", "name", "fullName"),
    ("payeeInfo", "payeeGender"),
    ("payeeInfo", "payeeNationality"),
    ("payerInfo",),
    ("notifyUrl",),
    ("remark",),
    ("riskParams",),
    ("unknownKey",),
    ("payeeInfo", "unknownKey"),
]


@st.composite
def hostile_payouts(draw: st.DrawFn, out_trade_no: str = "FUZZ_0001") -> dict[str, Any]:
    """A valid payout with one to three values (known fields or unknown keys) replaced by hostile
    values or texts."""
    data = copy.deepcopy(_VALID) | {"outTradeNo": out_trade_no}
    for path in draw(st.lists(st.sampled_from(_PATHS), min_size=1, max_size=3)):
        node: Any = data
        for part in path[:-1]:
            child = node.get(part) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                break
            node = child
        else:
            node[path[-1]] = draw(st.one_of(hostile_text, HOSTILE))
    return data
