"""The payee fields of PayerMax's OpenAPI file: what ``payermax_async._redact`` masks by section.

``python -m tests.support.payee_fields`` prints the block to paste into ``_redact.py`` when
PayerMax's file changes; ``tests/test_redact.py`` fails until it is pasted.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from payermax_async._redact import PAYEE_SECTIONS
from tests.support.reference import REFERENCE

OPENAPI = REFERENCE / "payermax-payout-openapi.json"


def _leaves(schema: object, inside: bool) -> Iterator[str]:
    """Names of the leaf properties found inside a payee section, anywhere in ``schema``."""
    if isinstance(schema, list):
        for item in schema:
            yield from _leaves(item, inside)
        return
    if not isinstance(schema, dict):
        return
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for raw_name, child in properties.items():
            name = raw_name.strip()  # PayerMax's file has "payeeType " with a space
            nested = isinstance(child, dict) and "properties" in child
            if inside and not nested:
                yield name
            yield from _leaves(child, inside or name in PAYEE_SECTIONS)
    for key, value in schema.items():
        if key != "properties":
            yield from _leaves(value, inside)


def payee_fields() -> tuple[str, ...]:
    """Every leaf field under ``payeeInfo``, ``payerInfo`` or ``riskParams`` in the schema, sorted."""
    document = json.loads(OPENAPI.read_text(encoding="utf-8"))
    return tuple(sorted(set(_leaves(document, inside=False))))


def python_block(fields: tuple[str, ...]) -> str:
    """The generated tuple as it stands in ``_redact.py``."""
    lines, line = [], "   "
    for name in fields:
        item = f' "{name}",'
        if len(line) + len(item) > 99:
            lines.append(line)
            line = "   "
        line += item
    lines.append(line)
    return "_SCHEMA_PAYEE_FIELDS = (\n" + "\n".join(lines) + "\n)  # fmt: skip"


if __name__ == "__main__":
    print(python_block(payee_fields()))
