"""``frozen.evolve``: the same copies and the same errors as ``attrs.evolve``, faster."""

from __future__ import annotations

import inspect
import traceback
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from skilltroc_core.ads import Campaign
from skilltroc_core.frozen import _copier, evolve


@attrs.frozen
class _Plain:
    name: str
    count: int = 0
    tags: tuple[str, ...] = ()


@attrs.frozen
class _Checked:
    count: int = attrs.field(validator=attrs.validators.ge(0))


_AT = datetime(2027, 3, 1, 8, tzinfo=UTC)
_CAMPAIGN = Campaign(id="ad_1", owner="mem_1", budget=10, goal=1000, visual="a.png",
                     text="Pots", link=None, start=_AT, domains=("cooking",), created_at=_AT)


@given(name=st.text(), count=st.integers(), tags=st.lists(st.text()).map(tuple),
       which=st.sets(st.sampled_from(["name", "count", "tags"])))
def test_a_copy_equals_what_attrs_evolve_makes(name: str, count: int, tags: tuple[str, ...],
                                               which: set[str]) -> None:
    original = _Plain("first", 1, ("a",))
    changes: dict[str, Any] = {
        k: v for k, v in (("name", name), ("count", count), ("tags", tags)) if k in which}
    copy = evolve(original, **changes)
    assert copy == attrs.evolve(original, **changes)
    assert type(copy) is _Plain and copy is not original
    assert original == _Plain("first", 1, ("a",))  # the original is untouched


def test_an_entity_with_many_fields_is_copied_field_for_field() -> None:
    shown = evolve(_CAMPAIGN, impressions=1)
    assert shown == attrs.evolve(_CAMPAIGN, impressions=1)
    assert attrs.asdict(shown) == {**attrs.asdict(_CAMPAIGN), "impressions": 1}


def test_an_unknown_field_is_the_error_attrs_evolve_raises() -> None:
    with pytest.raises(TypeError):
        evolve(_Plain("x"), colour="blue")
    with pytest.raises(TypeError):
        evolve(_CAMPAIGN, impressions=2, nonsense=1)


def test_a_class_with_a_validator_still_goes_through_its_init() -> None:
    assert evolve(_Checked(1), count=2) == _Checked(2)
    with pytest.raises(ValueError, match="count"):
        evolve(_Checked(1), count=-1)


@attrs.frozen(cache_hash=True)
class _CachedHash:
    count: int


@attrs.frozen
class _Private:
    _secret: int


@attrs.frozen
class _OwnInit:
    count: int

    def __init__(self, count: int) -> None:
        if count < 0:
            raise ValueError("count below zero")
        self.__attrs_init__(count)  # type: ignore[attr-defined]


def test_classes_attrs_treats_specially_are_copied_as_attrs_evolve_copies_them() -> None:
    assert hash(evolve(_CachedHash(1), count=2)) == hash(_CachedHash(2))
    assert evolve(_Private(1), secret=5) == _Private(5)  # the init keyword, not the slot
    with pytest.raises(TypeError):
        evolve(_Private(1), _secret=5)
    with pytest.raises(ValueError, match="below zero"):
        evolve(_OwnInit(1), count=-1)


def test_the_same_fields_changed_in_another_order_give_the_same_copy() -> None:
    original = _Plain("first", 1, ("a",))
    assert evolve(original, count=2, name="b") == evolve(original, name="b", count=2) == (
        _Plain("b", 2, ("a",)))
    assert evolve(original) == original and evolve(original) is not original


def test_a_traceback_through_generated_code_shows_its_lines() -> None:
    """The copiers are compiled at run time: their text is in linecache, so
    a traceback (and inspect) shows the line that failed, not a blank."""
    copier = _copier(_Plain, ("count",))
    assert copier is not None
    assert "def copy(entity, v0):" in inspect.getsource(copier)
    with pytest.raises(AttributeError) as failed:
        copier(object(), 1)  # no .name to copy
    shown = "".join(traceback.format_exception(failed.value))
    assert "_set_0(new, entity.name)" in shown and "skilltroc_core.frozen copy of" in shown
