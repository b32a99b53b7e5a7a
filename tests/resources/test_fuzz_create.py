"""Fuzzing create() against the sandbox gateway with every request counted (issue 12): the only
exceptions are PayerMaxError subclasses, and a refused input never leaves the process.

A short fixed budget runs in CI; PAYERMAX_FUZZ_EXAMPLES=20000 runs a long one (docs/bad-input.md).
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from payermax_async import PayerMaxClient, PayerMaxError, PayoutOrder, ValidationError
from payermax_async.errors import InvalidResponseError
from payermax_async.resources.parsing import parse_data
from payermax_async.sandbox import SandboxGateway
from payermax_async.testing import fast_retry_policy
from tests.support.fuzz import HOSTILE, budget, hostile_payouts

_numbers = itertools.count()


@budget(40)
@given(st.data())
async def test_create_refuses_hostile_payouts_before_any_request(
    gw: SandboxGateway, data: st.DataObject
) -> None:
    """A hostile payout raises only PayerMaxError; a ValidationError one sends no request."""
    request: dict[str, Any] = data.draw(hostile_payouts(f"FZ_{next(_numbers)}"))
    before = gw.ledger.post_count()
    async with PayerMaxClient(gw.config(), retry=fast_retry_policy(max_attempts=1)) as client:
        try:
            await client.payouts.create(request)
        except ValidationError:
            assert gw.ledger.post_count() == before
        except PayerMaxError:
            pass


@budget(100)
@given(st.dictionaries(st.text(max_size=10), HOSTILE, max_size=6))
def test_parsing_arbitrary_order_data_raises_only_invalid_response_error(data: Any) -> None:
    """Arbitrary data under an accepted answer parses as an order or is InvalidResponseError."""
    with contextlib.suppress(InvalidResponseError):
        parse_data(data, PayoutOrder, api="paymentOrderQry", http_status=200)
