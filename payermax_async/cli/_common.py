"""What every command module shares: the parser class and one way to print."""

from __future__ import annotations

import argparse
import enum
import json
import re
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, NoReturn, TypeAlias

__all__ = [
    "Commands",
    "Handler",
    "Parser",
    "flatten",
    "out",
    "print_fields",
    "print_json",
    "text",
    "whole_numbers",
    "wire",
]

#: The shape of an outTradeNo (the SDK's rule): only such values are written out whole.
_OUT_TRADE_NO = re.compile(r"[A-Za-z0-9_]{1,63}")
#: A command's handler: takes the parsed arguments, returns the exit status.
Handler = Callable[[argparse.Namespace], int]
#: Where a command module adds its parsers (generic only for type checkers).
if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Commands = argparse._SubParsersAction


class Parser(argparse.ArgumentParser):
    """Argument errors in one line, like every other error of this command."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def out(line: str = "") -> None:
    """Print one line on stdout."""
    sys.stdout.write(line + "\n")


def wire(model: object) -> object:
    """A model in wire form (camelCase mapping), for printing."""
    from ..models.wire import unstructure

    return unstructure(model)


def text(value: object) -> str:
    """A value as a table shows it: an enum as its value (``PENDING``, not ``PayoutStatus.PENDING``,
    which is what ``str()`` of a ``str`` enum gives from Python 3.11 on)."""
    return str(value.value) if isinstance(value, enum.Enum) else str(value)


def print_json(document: object) -> None:
    """Print a document as indented JSON."""
    out(json.dumps(document, indent=2, ensure_ascii=False, default=text))


def print_fields(document: object) -> None:
    """Print a wire mapping as ``key  value`` lines (nested keys dotted, empty values left out)."""
    rows = list(flatten(document, ""))
    width = max((len(key) for key, _ in rows), default=0)
    for key, value in rows:
        out(f"{key:<{width}}  {value}")


def flatten(document: object, prefix: str) -> Iterable[tuple[str, str]]:
    """``(dotted key, text)`` pairs of a nested mapping's non-empty values."""
    if isinstance(document, dict):
        for key, value in document.items():
            yield from flatten(value, f"{prefix}{key}.")
    elif document not in (None, ""):
        yield prefix.rstrip("."), text(document)


def whole_numbers(message: str, numbers: Iterable[object]) -> str:
    """``message`` with the operator's own ``outTradeNo`` values shown whole.

    The SDK names a payout by the last four characters of its number (``payout …0001``), as it
    masks payee data; at the command line the number is the operator's own and the one they will
    look up, so it is written out. A message that does not name the payout at all gets the number
    in front. Payee data stays masked: only these numbers are touched.
    """
    # Only well-formed numbers: anything else came from the command line or a file unchecked and
    # could carry a newline (a forged second line) or a payee's data typed into the wrong field.
    for number in {n for n in numbers if isinstance(n, str) and _OUT_TRADE_NO.fullmatch(n)}:
        if len(number) > 4:
            masked = re.escape(f"…{number[-4:]}")
            pattern = rf"\b(payout|record|order|for|outTradeNo) {masked}(?!\w)"
            message = re.sub(pattern, "\\g<1> " + number.replace("\\", "\\\\"), message)
        if number not in message:
            message = f"{number}: {message}"
    return message
