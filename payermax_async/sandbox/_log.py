"""The sandbox's request log: one INFO line per request on the ``payermax_async.sandbox`` logger
(``payermax sandbox`` shows them on stderr; ``--quiet`` hides them)."""

from __future__ import annotations

import logging
import re

__all__ = ["log_request", "logger"]

#: One INFO record per request (``payermax sandbox`` shows them on stderr; ``--quiet`` hides them).
logger = logging.getLogger("payermax_async.sandbox")
_PLAIN_NUMBER = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def log_request(api: str, out_trade_no: str | None, outcome: object) -> None:
    """Log one request: its API, its outTradeNo and the code answered (or the fault injected)."""
    if not logger.isEnabledFor(logging.INFO):
        return
    # The number comes from the request: anything else than a plain one is shown escaped, so a
    # crafted value cannot forge log lines.
    number = out_trade_no if out_trade_no is None or _PLAIN_NUMBER.fullmatch(out_trade_no) else None
    shown = number or (ascii(out_trade_no[:64]) if out_trade_no else "-")
    logger.info("%s outTradeNo=%s -> %s", api, shown, outcome)
