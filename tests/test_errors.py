"""Gateway messages in errors: what str() shows is masked, .msg keeps the gateway's text."""

from __future__ import annotations

import pytest

from payermax_async import APIError
from payermax_async.errors import error_for_code


@pytest.mark.parametrize(
    ("msg", "name"),
    [
        ("Name 'siti rahayu' does not match the account", "siti rahayu"),
        ("Account holder SITI RAHAYU does not match", "SITI RAHAYU"),
        ("Payee Siti Rahayu is blocked", "Siti Rahayu"),
        ("The name “Budi Santoso” is invalid", "Budi Santoso"),
    ],
)
def test_a_payee_name_echoed_by_the_gateway_is_masked_in_str(msg: str, name: str) -> None:
    """A name the gateway echoes back never reaches str(APIError) (logs, tracebacks, the CLI)."""
    error = error_for_code("PARAMS_INVALID", msg)
    assert isinstance(error, APIError)
    assert name not in str(error)
    assert name.split()[0] not in str(error)
    assert str(error).startswith("PARAMS_INVALID: ")
    assert error.msg == msg  # the original text, for the caller's own handling


def test_ordinary_gateway_messages_stay_readable() -> None:
    """Messages naming fields and codes are shown as PayerMax wrote them."""
    for msg in (
        "The targetOrg is incorrect.",
        "Please enter numbers.",
        "System error, please retry.",
    ):
        assert str(error_for_code("PARAMS_INVALID", msg)) == f"PARAMS_INVALID: {msg}"
