"""Text no store can hold the same way (NUL, lone surrogates) is refused at the door."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from skilltroc_core.errors import InvalidInputError, SkilltrocError
from skilltroc_core.service import Skilltroc
from skilltroc_core.service._text import MAX_DEPTH, check_text
from skilltroc_core.testing import changes_nothing

from .fuzz_support import BrokenZone
from .members_support import PARIS, make_world


class _Probe:
    """Calls checked as the service checks every declared operation's."""

    def take(self, name: str, *, tags: object = ()) -> str:
        check_text(_Probe.take, (name,), {"tags": tags})
        return name

    def count(self, items: Iterator[str]) -> int:
        check_text(_Probe.count, (items,), {})
        return sum(1 for _ in items)

    def plan(self, title: object, at: datetime) -> object:
        """An operation taking an instant: its own checks refuse a bad ``at``."""
        check_text(_Probe.plan, (title, at), {})
        return at


@pytest.mark.parametrize(("call", "argument"), [
    (lambda p: p.take("a\x00b"), "name"),
    (lambda p: p.take(name="\ud800"), "name"),
    (lambda p: p.take("fine", tags=["ok", ("deep", "x\x00")]), "tags"),
    (lambda p: p.take("fine", tags={"key\ud800": 1}), "tags"),
    (lambda p: p.take("fine", tags={"key": {"v\x00"}}), "tags"),
])
def test_the_refusal_names_the_argument_whatever_the_nesting(call: object, argument: str
                                                             ) -> None:
    with pytest.raises(InvalidInputError) as refused:
        call(_Probe())  # type: ignore[operator]
    assert refused.value.code == "invalid_input"
    assert refused.value.facts == {"argument": argument}
    assert f"{argument} must be valid Unicode text without NUL characters" in str(refused.value)


def test_ordinary_text_passes_untouched_and_generators_are_not_consumed() -> None:
    probe = _Probe()
    assert probe.take("Zoë 🍞 — 東京", tags={"a": ["b"]}) == "Zoë 🍞 — 東京"
    assert probe.count(iter(["a", "b\x00"])) == 2  # only lists, tuples, sets, dicts are read


def test_the_service_keeps_its_signatures_and_docstrings() -> None:
    assert list(inspect.signature(Skilltroc.request).parameters) == [
        "self", "member_id", "seats", "session_id", "workshop_id"]
    assert (Skilltroc.request.__doc__ or "").startswith("BOOK-11..13")


def test_a_refused_text_changes_nothing() -> None:
    world = make_world()
    app = world.service
    bob = app.signup("bob@example.org", provider="google").member_id
    with changes_nothing(world.store):
        with pytest.raises(InvalidInputError):
            app.gift(bob, "ann@example.org", 5, key="k\x00")
        with pytest.raises(InvalidInputError):
            app.signup("zoe@example.org", password="long enough\ud800")


class _Text(str):
    """Text of a host's own string type."""


class _Items(list[object]):
    """A host's own list type."""


def test_subclasses_of_text_and_containers_are_looked_into_too() -> None:
    probe = _Probe()
    for bad in (_Text("m\x00"), _Items(["ok", "x\ud800"]), {"k": _Text("\x00")}):
        with pytest.raises(InvalidInputError):
            probe.take("fine", tags=bad)
    world = make_world()
    with pytest.raises(InvalidInputError) as refused:
        world.service.member(_Text("mem_000001\x00"))
    assert refused.value.facts == {"argument": "member_id"}


def test_deep_or_cyclic_containers_are_left_to_the_command_not_a_recursion_error() -> None:
    cyclic: list[object] = []
    cyclic.append(cyclic)
    deep: object = "x\x00"
    for _ in range(1200):
        deep = [deep]
    probe = _Probe()
    assert probe.take("fine", tags=cyclic) == "fine"
    assert probe.take("fine", tags=deep) == "fine"  # past MAX_DEPTH: the command decides
    world = make_world()
    app = world.service
    bob = app.signup("bob@example.org", provider="google").member_id
    with pytest.raises(SkilltrocError):
        app.import_contacts(bob, [cyclic])  # type: ignore[list-item]


def _nested(levels: int, inner: object, wrap: type = list) -> object:
    for _ in range(levels):
        inner = wrap([inner])
    return inner


def test_containers_are_looked_into_down_to_max_depth_levels_exactly() -> None:
    """The argument is level 0: a NUL inside MAX_DEPTH nested lists (or tuples) is found,
    inside one list more it is left to the command; on both sides of a dict too."""
    probe = _Probe()
    assert MAX_DEPTH == 8
    for wrap in (list, tuple):
        with pytest.raises(InvalidInputError):
            probe.take("fine", tags=_nested(MAX_DEPTH, "x\x00", wrap))
        assert probe.take("fine", tags=_nested(MAX_DEPTH + 1, "x\x00", wrap))
    # a dict's keys and values are one level below it
    with pytest.raises(InvalidInputError):
        probe.take("fine", tags={_nested(MAX_DEPTH - 1, "x\x00", tuple): 1})
    assert probe.take("fine", tags={_nested(MAX_DEPTH, "x\x00", tuple): 1})
    with pytest.raises(InvalidInputError):
        probe.take("fine", tags={"k": _nested(MAX_DEPTH - 1, "x\x00")})
    assert probe.take("fine", tags={"k": _nested(MAX_DEPTH, "x\x00")})


def test_values_that_are_not_text_pass_inside_containers() -> None:
    assert _Probe().take("fine", tags=[1, None, 2.5, b"\x00", ("é", {"k": 0})]) == "fine"


@pytest.mark.parametrize("zone", [BrokenZone(ValueError("no such zone")),
                                  BrokenZone(timedelta(hours=30)), BrokenZone("+02:00")],
                         ids=["raises", "30_hours", "text"])
def test_an_instant_with_no_valid_offset_is_refused_where_no_instant_is_taken(
    zone: BrokenZone,
) -> None:
    broken = datetime(2027, 3, 1, 9, tzinfo=zone)
    probe = _Probe()
    with pytest.raises(InvalidInputError) as refused:
        probe.take("fine", tags=broken)
    assert refused.value.reason == "instant_bad_offset"
    assert refused.value.facts["field"] == "tags"
    with pytest.raises(InvalidInputError) as refused:
        probe.take("fine", tags=[broken])  # inside a container: unstorable, named
    assert refused.value.facts == {"argument": "tags"}
    # where the operation takes an instant, its own check refuses it, with its rule
    assert probe.plan("Bread", broken) is broken


def test_instants_with_a_valid_offset_or_none_pass() -> None:
    probe = _Probe()
    for fine in (datetime(2027, 3, 1, 9, tzinfo=UTC),
                 datetime(2027, 3, 1, 9, tzinfo=timezone(timedelta(hours=-5))),
                 datetime(2027, 3, 1, 9, tzinfo=PARIS),
                 datetime(2027, 3, 1, 9)):  # noqa: DTZ001 - naive: the command's to refuse
        assert probe.take("fine", tags=[fine]) == "fine"
        assert probe.plan("Bread", fine) is fine


def test_an_instant_parameter_given_bad_text_is_refused_as_text() -> None:
    with pytest.raises(InvalidInputError) as refused:
        _Probe().plan("Bread", "x\x00")  # type: ignore[arg-type]
    assert refused.value.facts == {"argument": "at"}


def test_a_call_that_does_not_fit_the_signature_names_the_position() -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_text(_Probe.take, ("fine", "x\x00", "more"), {})
    assert refused.value.facts == {"argument": "argument 2"}
    with pytest.raises(InvalidInputError) as refused:
        check_text(_Probe.take, ("fine",), {"colour": "x\x00"})
    assert refused.value.facts == {"argument": "colour"}
