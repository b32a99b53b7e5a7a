"""The quick constructor of the hot frozen classes builds exactly what their ``__init__`` builds."""

from __future__ import annotations

import attrs
import pytest

from payermax_async._frozen import positional_constructor
from payermax_async.pipeline.chain import Call, Reply, build_reply
from payermax_async.stores.base import PayoutRecord, RecordState, build_record


def _values(cls: type) -> list[object]:
    # A distinct value per field, so a field stored in the wrong slot shows.
    return [f"value-{index}" for index, _ in enumerate(attrs.fields(cls))]


@pytest.mark.parametrize("cls", [PayoutRecord, Call, Reply])
def test_it_builds_what_init_builds(cls: type) -> None:
    values = _values(cls)
    built: object = positional_constructor(cls)(*values)
    assert type(built) is cls
    assert built == cls(*values)
    assert [getattr(built, field.name) for field in attrs.fields(cls)] == values


def test_what_it_builds_stays_frozen() -> None:
    record = build_record(*_values(PayoutRecord))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        record.state = RecordState.FINAL  # type: ignore[misc]


def test_the_module_builders_take_fields_by_name() -> None:
    names = {field.name: f"v-{field.name}" for field in attrs.fields(Reply)}
    assert build_reply(**names) == Reply(**names)  # type: ignore[arg-type]


def test_a_field_with_a_validator_is_refused() -> None:
    @attrs.frozen
    class Checked:
        amount: int = attrs.field(validator=attrs.validators.instance_of(int))

    with pytest.raises(TypeError, match=r"Checked\.amount has a converter or validator"):
        positional_constructor(Checked)


def test_a_class_without_slots_is_refused() -> None:
    @attrs.frozen(slots=False)
    class Loose:
        amount: int

    with pytest.raises(TypeError, match="slotted"):
        positional_constructor(Loose)
