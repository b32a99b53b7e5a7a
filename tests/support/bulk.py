"""Fixtures of the bulk tests: the sandbox, its credentials as PAYERMAX_* variables, CSV files."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

from payermax_async.sandbox import SandboxGateway
from tests.support.sandbox import client, gateway

__all__ = ["client", "gateway"]

HEADER = (
    "outTradeNo",
    "country",
    "amount",
    "currency",
    "paymentMethodType",
    "targetOrg",
    "accountNo",
    "fullName",
)
#: Payee values that must never appear in a message, a results file or telemetry.
ACCOUNT = "081234567890"
NAME = "Siti Rahayu"


def row(out_trade_no: str, amount: str = "15000", **cells: str) -> dict[str, str]:
    """A valid DANA wallet payout row in Indonesia."""
    return {
        "outTradeNo": out_trade_no,
        "country": "ID",
        "amount": amount,
        "currency": "IDR",
        "paymentMethodType": "WALLET",
        "targetOrg": "DANA",
        "accountNo": ACCOUNT,
        "fullName": NAME,
        **cells,
    }


def write_csv(
    path: Path, rows: Iterable[Mapping[str, str]], header: Iterable[str] = HEADER
) -> Path:
    """Write ``rows`` as a payouts CSV (extra keys in a row add columns to the header)."""
    rows = list(rows)
    columns = list(header)
    for item in rows:
        columns += [key for key in item if key not in columns]
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_results(path: Path) -> list[dict[str, str]]:
    """The results file as dicts."""
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def env_for(gw: SandboxGateway) -> dict[str, str]:
    """The sandbox's credentials, the way PayerMaxConfig.from_env() reads them."""
    return {
        "PAYERMAX_APP_ID": gw.app_id,
        "PAYERMAX_MERCHANT_NO": gw.merchant_no,
        "PAYERMAX_PRIVATE_KEY": gw.merchant_private_key,
        "PAYERMAX_PLATFORM_PUBLIC_KEY": gw.platform_public_key,
        "PAYERMAX_BASE_URL": gw.base_url,
    }


@pytest.fixture
def sandbox_env(gateway: SandboxGateway, monkeypatch: pytest.MonkeyPatch) -> SandboxGateway:
    """The sandbox, with its credentials in the environment for the command."""
    for name in list(os.environ):
        if name.startswith("PAYERMAX_"):
            monkeypatch.delenv(name)
    for name, value in env_for(gateway).items():
        monkeypatch.setenv(name, value)
    return gateway
