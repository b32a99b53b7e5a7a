"""Turning verified replies into models; an answer that does not parse is never a definite failure."""

from __future__ import annotations

from typing import TypeVar

from ..errors import InvalidResponseError, ValidationError
from ..models._fast import structure_fast
from ..pipeline.chain import Reply

__all__ = ["parse_data", "parse_reply"]

T = TypeVar("T")


def parse_reply(reply: Reply, cls: type[T]) -> T:
    """The reply's ``data`` as a ``cls`` model."""
    return parse_data(reply.data, cls, api=reply.api, http_status=reply.http_status)


def parse_data(data: object, cls: type[T], *, api: str, http_status: int) -> T:
    """``data`` as a ``cls`` model.

    Raises:
        InvalidResponseError: the gateway accepted the call but its data is not what the protocol
            says (for a payout an unknown outcome, never a definite failure).
    """
    try:
        # A plain dict (nearly every answer) is built directly; anything else goes to the converter
        # inside structure_fast: the same model, or the converter's own refusal, either way.
        return structure_fast(data, cls, what=f"{api} data")  # type: ignore[arg-type]
    except ValidationError as exc:
        raise InvalidResponseError(str(exc), http_status=http_status) from None
