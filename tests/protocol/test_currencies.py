"""The currency precision table: it loads, cites a source for every entry, and says what it says."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from payermax_async.errors import ConfigurationError
from payermax_async.protocol.currencies import BASES, amount_decimals, load_table, table
from payermax_async.protocol.rules import currency_decimals


def _raw() -> dict[str, object]:
    raw = resources.files("payermax_async.protocol").joinpath("currencies.json").read_bytes()
    document: dict[str, object] = json.loads(raw)
    return document


def test_every_entry_names_a_basis_and_a_cited_source() -> None:
    """Every rule has a basis and a cited source, and the file says when it was read."""
    loaded = table()
    assert loaded.retrieved == "2026-12-01"
    rules = [*loaded.currencies.values(), *loaded.methods.values()]
    assert len(rules) > 20
    for rule in rules:
        assert rule.basis in BASES
        assert rule.source in loaded.sources
    assert "docs.payermax.com" in loaded.sources["mea"]


@pytest.mark.parametrize(
    ("currency", "decimals", "basis"),
    [
        ("IDR", 0, "payermax"),
        ("VND", 0, "payermax"),
        ("KRW", 0, "payermax"),
        ("CLP", 0, "payermax"),
        ("KMF", 0, "payermax"),
        ("COP", 0, "reported"),
        ("PKR", 0, "reported"),
        ("JPY", 0, "iso4217"),
        ("KWD", 3, "iso4217"),
        ("BHD", 3, "iso4217"),
    ],
)
def test_documented_precisions(currency: str, decimals: int, basis: str) -> None:
    """The precisions issue 12 asked about, with how sure we are of each."""
    assert amount_decimals(currency) == decimals
    assert currency_decimals(currency) == decimals
    assert table().currencies[currency].basis == basis


def test_unlisted_currencies_take_the_default() -> None:
    """A currency the file does not list allows two decimals."""
    assert amount_decimals("USD") == amount_decimals("PHP") == 2


def test_a_country_and_method_rule_overrides_the_currency() -> None:
    """A rule for (country, payment method, currency) wins over the currency's own."""
    document = _raw()
    document["methods"] = [
        {"country": "XX", "payment_method": "WALLET", "currency": "USD", "decimals": 0,
         "basis": "reported", "source": "issue-12", "note": ""},
    ]  # fmt: skip
    custom = load_table(json.dumps(document).encode())
    assert custom.decimals("USD", "XX", "WALLET") == 0
    assert custom.decimals("USD", "XX", "BANK_TRANSFER") == 2
    assert custom.decimals("USD") == 2
    assert table().decimals("KMF", "KM", "BANK_TRANSFER") == 0


@pytest.mark.parametrize(
    "change",
    [
        {"currencies": {"IDR": {"decimals": 9, "basis": "payermax", "source": "openapi"}}},
        {"currencies": {"IDR": {"decimals": 0, "basis": "guess", "source": "openapi"}}},
        {"currencies": {"IDR": {"decimals": 0, "basis": "payermax", "source": "nowhere"}}},
        {"default_decimals": "2"},
        {"methods": [{"decimals": 0, "basis": "payermax", "source": "openapi"}]},
        {"sources": []},
    ],
)
def test_a_malformed_table_is_a_configuration_error(change: dict[str, object]) -> None:
    """A broken data file is refused as a whole, naming what is wrong."""
    with pytest.raises(ConfigurationError, match="currency table is malformed"):
        load_table(json.dumps(_raw() | change).encode())


def test_bytes_that_are_not_a_json_object_are_refused() -> None:
    """Not JSON, or JSON that is not an object, is a ConfigurationError too."""
    for raw in (b"{", b"[]"):
        with pytest.raises(ConfigurationError):
            load_table(raw)
