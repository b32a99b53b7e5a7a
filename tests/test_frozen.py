"""The quick constructor of the hot frozen classes builds exactly what their ``__init__`` builds."""

from __future__ import annotations

import gc
import pickle

import attrs
import pytest

from payermax_async._frozen import positional_constructor
from payermax_async.models import PayoutNotification, PayoutOrder, PayoutResult
from payermax_async.models.payouts import FundsDetail
from payermax_async.pipeline.chain import Call, Reply, build_reply
from payermax_async.stores.base import Claim, PayoutRecord, RecordState, build_record
from payermax_async.stores.intent import PayoutIntent

# The classes built per payout or notification: declared without a __weakref__ slot so that their
# constructor fills a draft and assigns __class__ (see payermax_async._frozen).
HOT = [
    *(PayoutRecord, Claim, PayoutIntent, Call, Reply),
    *(PayoutResult, PayoutNotification, PayoutOrder, FundsDetail),
]


@attrs.frozen
class WithWeakref:
    """A class CPython will not let a draft become (its weak-reference slot follows the fields)."""

    amount: object
    currency: object = None


@attrs.frozen(weakref_slot=False, cache_hash=True)
class CachedHash:
    """Its slots are not exactly its fields (attrs adds one for the hash)."""

    amount: object
    currency: object = None


@attrs.frozen(weakref_slot=False)
class Base:
    amount: object


@attrs.frozen(weakref_slot=False)
class Derived(Base):
    """Slots inherited from a base: not a layout a plain draft has."""

    currency: object = None


def _values(cls: type) -> list[object]:
    # A distinct value per field, so a field stored in the wrong slot shows.
    return [f"value-{index}" for index, _ in enumerate(attrs.fields(cls))]


@pytest.mark.parametrize("cls", [*HOT, WithWeakref, Derived])
def test_it_builds_what_init_builds(cls: type) -> None:
    values = _values(cls)
    built: object = positional_constructor(cls)(*values)
    made = cls.__new__(cls)
    made.__init__(*values)  # __init__ itself, whatever the class's own __new__/__init__ checks
    assert type(built) is cls
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    assert [getattr(built, field.name) for field in attrs.fields(cls)] == values
    assert pickle.loads(pickle.dumps(built)) == built  # noqa: S301 - our own bytes
    assert gc.is_tracked(built)  # an ordinary instance: the collector sees what it holds


@pytest.mark.parametrize("cls", HOT)
def test_the_hot_classes_are_built_from_a_draft(cls: type) -> None:
    # A __weakref__ slot (attrs' default) would silently send them back to the slower path.
    build = positional_constructor(cls)
    assert "__class__" in build.__code__.co_names
    assert not hasattr(build(*_values(cls)), "__weakref__")


@pytest.mark.parametrize("cls", [WithWeakref, Derived])
def test_classes_a_draft_cannot_become_use_the_slots_descriptors(cls: type) -> None:
    assert "__class__" not in positional_constructor(cls).__code__.co_names


def test_a_class_with_a_slot_that_is_no_field_is_refused() -> None:
    # Its __init__ fills the cached hash's slot; a constructor that skipped it would build an
    # instance whose hash() fails.
    with pytest.raises(TypeError, match="slots that are not its fields"):
        positional_constructor(CachedHash)


def test_a_draft_never_outlives_its_build() -> None:
    builds = [positional_constructor(cls) for cls in HOT]
    kept = [build(*_values(cls)) for build, cls in zip(builds, HOT, strict=True)]
    assert [type(obj) for obj in kept] == HOT
    # A draft that escaped (or was kept by a failed __class__ assignment) would be a tracked object
    # whose class is a plain *Draft class, not the model.
    gc.collect()
    assert not [obj for obj in gc.get_objects() if type(obj).__name__.endswith("Draft")]


@pytest.mark.parametrize("hook", ["__attrs_pre_init__", "__attrs_post_init__"])
def test_a_class_with_an_init_hook_is_refused(hook: str) -> None:
    @attrs.frozen(weakref_slot=False)
    class Hooked:
        amount: object

    setattr(Hooked, hook, lambda self: None)  # as attrs finds it: a method of the class
    with pytest.raises(TypeError, match=f"has {hook}"):
        positional_constructor(Hooked)


def test_a_class_with_its_own_init_is_refused() -> None:
    @attrs.frozen(init=False, weakref_slot=False)
    class OwnInit:
        amount: object

        def __init__(self, amount: object) -> None:
            self.__attrs_init__(amount=str(amount))  # type: ignore[attr-defined]

    with pytest.raises(TypeError, match="has __attrs_init__"):
        positional_constructor(OwnInit)


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
