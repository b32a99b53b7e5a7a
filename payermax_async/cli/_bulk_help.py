"""What ``payermax payouts bulk --help`` says about the CSV file: every column, whether it is
required, the field it fills and what it means (an operator reads this, not the Python module)."""

from __future__ import annotations

from ..bulk import COLUMNS, REQUIRED_CELLS, REQUIRED_COLUMNS, RESULT_COLUMNS

__all__ = ["COLUMN_MEANINGS", "columns_help"]

#: One short meaning per column; tests/bulk checks that every column of the format has one.
COLUMN_MEANINGS: dict[str, str] = {
    "outTradeNo": "your unique number for the payout (letters, digits, _); it makes reruns safe",
    "country": "the payee's country, two letters (ID, PH, ...)",
    "amount": "the amount, sent as written (150000, 12.50); decimals as the currency allows",
    "currency": "the currency, three letters (IDR, PHP, ...)",
    "paymentMethodType": "how the payee is paid (WALLET, BANK_TRANSFER, ...)",
    "targetOrg": "the wallet or bank network (DANA, GCASH, ...); empty if the method needs none",
    "accountNo": "the payee's account or wallet number",
    "fullName": "the payee's full name; empty if the method needs none",
    "firstName": "the payee's first name",
    "lastName": "the payee's last name",
    "accountType": "the account type, where the method asks for one",
    "bankCode": "the bank's code (bank transfers)",
    "bankName": "the bank's name (bank transfers)",
    "email": "the payee's email",
    "phone": "the payee's phone number",
    "remark": "a remark shown with the payout",
    "reference": "your reference, echoed back in queries and notifications",
    "notifyUrl": "where PayerMax posts the payout's result notifications (https)",
    "purpose": "the payout's purpose, where the corridor asks for one",
    "destinationCurrency": "the currency the payee receives, if it differs",
}


def _need(column: str) -> str:
    if column in REQUIRED_CELLS:
        return "required"
    if column in REQUIRED_COLUMNS:
        return "column required, cell may be empty"
    return "optional"


def columns_help() -> str:
    """The epilog of ``payouts bulk --help``: the file's format and the results file's."""
    width = max(len(column) for column in COLUMNS)
    lines = [
        "CSV columns (UTF-8, comma-separated, a header row naming the columns in any order;",
        "cells are trimmed, an empty cell is left out of the request; a column not listed here",
        "is an error):",
        "",
    ]
    for column, field in COLUMNS.items():
        lines.append(f"  {column:<{width}}  {_need(column)}; wire field {field}")
        lines.append(f"  {'':<{width}}  {COLUMN_MEANINGS[column]}")
    lines += [
        "",
        f"Results file: {','.join(RESULT_COLUMNS)}, one line per input row, in input order.",
        "status is the payout's status when the gateway accepted it (PENDING, SUCCESS, FAILED,",
        "BOUNCEBACK), else INVALID (not sent), REJECTED (refused, no order), IN_DOUBT (may exist:",
        "run again or --refresh), ERROR (not paid) or NOT_SENT (stopped before it).",
        "",
        "Exit status: 0 every row accepted; 1 invalid rows (nothing sent) or the run could not",
        "start; 3 some rows not paid; 130 interrupted (run the same command again to resume).",
    ]
    return "\n".join(lines)
