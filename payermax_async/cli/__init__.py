"""The ``payermax`` command: keys, a local sandbox, the demo, payouts and webhooks from the shell.

Each command group lives in its own module with a ``register`` function that adds its parser and
sets ``handler``; a handler takes the parsed arguments and returns the exit status. Errors print one
line on stderr and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence

from .._version import __version__
from ..errors import ConnectError, PayerMaxError
from . import demo, journal, keys, payouts, reconcile, sandbox, webhook
from ._common import Commands, Handler, Parser, whole_numbers
from ._gateway import connect_failure
from ._logging import add_logging_options, logging_to_stderr, wanted_level

__all__ = ["build_parser", "main"]

#: One function per top-level command; a new command is one more entry.
_REGISTRARS: list[Callable[[Commands], None]] = [
    keys.register,
    sandbox.register,
    demo.register,
    payouts.register,
    webhook.register,
    journal.register,
    reconcile.register,
]


def build_parser() -> argparse.ArgumentParser:
    """The ``payermax`` argument parser with every registered subcommand."""
    parser = Parser(
        prog="payermax", description="PayerMax payouts from the shell, and a local sandbox."
    )
    parser.add_argument("--version", action="version", version=f"payermax-async {__version__}")
    add_logging_options(parser)
    commands: Commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=Parser
    )
    for register in _REGISTRARS:
        register(commands)
    return parser


def _fail(message: str) -> int:
    sys.stderr.write(f"payermax: error: {message}\n")
    return 1


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``payermax`` command; return its exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # --help, --version and usage errors: already printed
        return exit_.code if isinstance(exit_.code, int) else 2
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        level = wanted_level(args)
    except ValueError as exc:
        return _fail(str(exc))
    try:
        with logging_to_stderr(level):
            return handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (``payermax sandbox | head``): stop quietly, like other Unix tools,
        # and point stdout at /dev/null so the interpreter's final flush cannot fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except ConnectError as exc:
        return _fail(connect_failure(exc))
    except PayerMaxError as exc:
        # The operator's own outTradeNo, whole: the one the command was given, or the error's.
        numbers = (getattr(args, "out_trade_no", None), getattr(exc, "out_trade_no", None))
        return _fail(whole_numbers(str(exc) or type(exc).__name__, numbers))
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}")
    except ValueError as exc:
        return _fail(str(exc))
    except Exception as exc:  # the promise is one line, never a traceback
        return _fail(f"unexpected {type(exc).__name__}: {exc}")
