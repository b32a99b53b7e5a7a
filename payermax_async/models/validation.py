"""The answer of ``paymentFieldValidation``: which payee fields passed, failed or were ignored."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from ..errors import ValidationError

__all__ = [
    "FieldError",
    "FieldValidationResult",
    "structure_validation",
    "unstructure_validation",
]


@attrs.frozen(weakref_slot=False)
class FieldError:
    """One payee field that failed validation, with PayerMax's explanation."""

    field: str
    error_msg: str


@attrs.frozen(weakref_slot=False)
class FieldValidationResult:
    """Result of a payee field validation.

    ``ok`` is true when ``validation_code`` is ``PASS``. The gateway answers ``APPLY_SUCCESS`` even when
    fields failed, so check ``ok`` (or ``failed_fields``), not the absence of an exception.
    """

    validation_code: str
    passed_fields: tuple[str, ...] = ()
    ignored_fields: tuple[str, ...] = ()
    failed_fields: tuple[FieldError, ...] = ()
    extra: dict[str, Any] = attrs.field(factory=dict, repr=False)

    @property
    def ok(self) -> bool:
        """Whether every checked field passed."""
        return self.validation_code == "PASS" and not self.failed_fields


_KNOWN = frozenset(
    {"validationCode", "validationPassedFields", "ignoredFields", "validationFailedFields"}
)


def _field_names(items: object, what: str) -> tuple[str, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        msg = f"{what} must be a list"
        raise ValidationError(msg)
    names = []
    for item in items:
        name = item.get("field") if isinstance(item, Mapping) else item
        if not isinstance(name, str):
            msg = f"{what} holds an entry without a field name"
            raise ValidationError(msg)
        names.append(name)
    return tuple(names)


def structure_validation(data: Mapping[str, Any], _type: object) -> FieldValidationResult:
    code = data.get("validationCode")
    if not isinstance(code, str):
        msg = "validation result has no validationCode"
        raise ValidationError(msg)
    failed_raw = data.get("validationFailedFields") or []
    if not isinstance(failed_raw, list):
        msg = "validationFailedFields must be a list"
        raise ValidationError(msg)
    failed = tuple(
        FieldError(field=str(item.get("field", "")), error_msg=str(item.get("errorMsg", "")))
        for item in failed_raw
        if isinstance(item, Mapping)
    )
    return FieldValidationResult(
        validation_code=code,
        passed_fields=_field_names(data.get("validationPassedFields"), "validationPassedFields"),
        ignored_fields=_field_names(data.get("ignoredFields"), "ignoredFields"),
        failed_fields=failed,
        extra={key: value for key, value in data.items() if key not in _KNOWN},
    )


def unstructure_validation(result: FieldValidationResult) -> dict[str, Any]:
    return {
        "validationCode": result.validation_code,
        "validationPassedFields": [{"field": name} for name in result.passed_fields],
        "ignoredFields": [{"field": name} for name in result.ignored_fields],
        "validationFailedFields": [
            {"field": item.field, "errorMsg": item.error_msg} for item in result.failed_fields
        ],
        **result.extra,
    }
