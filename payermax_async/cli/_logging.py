"""``payermax -v`` / ``--log-level LEVEL`` / ``PAYERMAX_LOG``: the SDK's logs on stderr.

Without them the command shows only ERROR records: its own errors are one line on stderr, and a
retry's warning would only repeat them. What is logged is what the SDK logs anywhere: payee data
masked, keys and signatures never.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from collections.abc import Iterator

__all__ = ["LEVELS", "LOG_ENV", "add_logging_options", "logging_to_stderr", "wanted_level"]

#: The environment variable read when neither ``-v`` nor ``--log-level`` is given.
LOG_ENV = "PAYERMAX_LOG"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_DEFAULT = "ERROR"
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _level(text: str) -> str:
    name = text.strip().upper()
    if name not in LEVELS:
        msg = f"unknown log level {text!r}; one of {', '.join(LEVELS)}"
        raise argparse.ArgumentTypeError(msg)
    return name


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """Add ``-v`` (repeatable) and ``--log-level`` to the top-level parser."""
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log the SDK's work on stderr: -v INFO, -vv DEBUG (every request, payee data masked)",
    )
    parser.add_argument(
        "--log-level",
        type=_level,
        metavar="LEVEL",
        help=f"log at LEVEL ({', '.join(LEVELS)}); wins over -v and ${LOG_ENV}",
    )


def wanted_level(args: argparse.Namespace) -> str:
    """The level asked for: ``--log-level``, else ``-v``, else ``$PAYERMAX_LOG``, else ERROR.

    Raises:
        ValueError: ``PAYERMAX_LOG`` names no level.
    """
    if args.log_level:
        return str(args.log_level)
    if args.verbose:
        return "DEBUG" if args.verbose > 1 else "INFO"
    env = os.environ.get(LOG_ENV, "").strip()
    if not env:
        return _DEFAULT
    try:
        return _level(env)
    except argparse.ArgumentTypeError as exc:
        raise ValueError(f"{LOG_ENV}: {exc}") from None


@contextlib.contextmanager
def logging_to_stderr(level: str) -> Iterator[None]:
    """While the command runs, the ``payermax_async`` logger's records at ``level`` and above go to
    stderr, and only there; the logger is put back as it was afterwards (``main()`` may run inside
    a program, or a test, with logging of its own)."""
    logger = logging.getLogger("payermax_async")
    saved = (logger.level, logger.propagate)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]
