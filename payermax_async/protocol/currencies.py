"""Amount precision per currency (and per country and payment method where PayerMax documents one).

The facts live in ``currencies.json`` next to this module, with their sources and the date they were
read (docs/bad-input.md lists them). The client's checks (``rules``) and the sandbox gateway both ask
:func:`amount_decimals`, so a text one of them accepts the other accepts too.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources

import attrs

from ..errors import ConfigurationError

__all__ = ["BASES", "CurrencyRule", "CurrencyTable", "amount_decimals", "load_table", "table"]

#: How sure an entry is: PayerMax's own text, reported from PayerMax's lists, or ISO 4217 only.
BASES = frozenset({"payermax", "reported", "iso4217"})


@attrs.frozen
class CurrencyRule:
    """How many decimals an amount may have, and why we believe it.

    Attributes:
        decimals: the most digits allowed after the decimal point (0: no decimal point at all).
        basis: ``payermax``, ``reported`` or ``iso4217`` (see the data file's ``about``).
        source: a key of the data file's ``sources``.
        note: what the source says beyond the number (minimums, doubts).
    """

    decimals: int
    basis: str
    source: str
    note: str = ""


@attrs.frozen
class CurrencyTable:
    """The parsed data file: per-currency rules, per country and method overrides, and sources."""

    default_decimals: int
    currencies: Mapping[str, CurrencyRule]
    methods: Mapping[tuple[str, str, str], CurrencyRule]
    sources: Mapping[str, str]
    retrieved: str

    def decimals(self, currency: str, country: str | None = None, method: str | None = None) -> int:
        """The decimals allowed for ``currency``, paid in ``country`` by ``method`` if given."""
        if country is not None and method is not None:
            rule = self.methods.get((country, method, currency))
            if rule is not None:
                return rule.decimals
        rule = self.currencies.get(currency)
        return rule.decimals if rule is not None else self.default_decimals


def _fail(what: str) -> ConfigurationError:
    return ConfigurationError(f"the currency table is malformed: {what}")


def _rule(entry: object, where: str, sources: Mapping[str, str]) -> CurrencyRule:
    if not isinstance(entry, dict):
        raise _fail(f"{where} is not an object")
    decimals, basis, source = entry.get("decimals"), entry.get("basis"), entry.get("source")
    if type(decimals) is not int or not 0 <= decimals <= 4:
        raise _fail(f"{where}.decimals must be an integer from 0 to 4")
    if basis not in BASES:
        raise _fail(f"{where}.basis must be one of {sorted(BASES)}")
    if not isinstance(source, str) or source not in sources:
        raise _fail(f"{where}.source must name one of the sources")
    note = entry.get("note", "")
    return CurrencyRule(decimals, str(basis), source, note if isinstance(note, str) else "")


def load_table(raw: bytes) -> CurrencyTable:
    """Parse and check a currency data file.

    Raises:
        ConfigurationError: the file is not the expected shape (a packaging bug, caught by the tests).
    """
    try:
        document = json.loads(raw)
    except ValueError:
        raise _fail("not JSON") from None
    if not isinstance(document, dict):
        raise _fail("not an object")
    sources = document.get("sources")
    if not isinstance(sources, dict) or not all(isinstance(v, str) for v in sources.values()):
        raise _fail("sources must map names to descriptions")
    default = document.get("default_decimals")
    if type(default) is not int or not 0 <= default <= 4:
        raise _fail("default_decimals must be an integer from 0 to 4")
    currencies = document.get("currencies")
    methods = document.get("methods", [])
    if not isinstance(currencies, dict) or not isinstance(methods, list):
        raise _fail("currencies must be an object and methods a list")
    by_currency = {
        code: _rule(entry, f"currencies.{code}", sources) for code, entry in currencies.items()
    }
    by_method: dict[tuple[str, str, str], CurrencyRule] = {}
    for index, entry in enumerate(methods):
        rule = _rule(entry, f"methods[{index}]", sources)
        key = (entry.get("country"), entry.get("payment_method"), entry.get("currency"))
        if not all(isinstance(part, str) and part for part in key):
            raise _fail(f"methods[{index}] needs country, payment_method and currency")
        by_method[key] = rule
    return CurrencyTable(
        default_decimals=default,
        currencies=by_currency,
        methods=by_method,
        sources=dict(sources),
        retrieved=str(document.get("retrieved", "")),
    )


@functools.cache
def table() -> CurrencyTable:
    """The package's currency table, read once."""
    return load_table(
        resources.files("payermax_async.protocol").joinpath("currencies.json").read_bytes()
    )


def amount_decimals(currency: str, country: str | None = None, method: str | None = None) -> int:
    """How many decimals PayerMax accepts in an amount of ``currency`` (paid in ``country`` by
    payment method ``method``, when both are given and the data file has a rule for them)."""
    return table().decimals(currency, country, method)
