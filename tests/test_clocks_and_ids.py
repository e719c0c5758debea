"""The ports' shipped implementations: clocks and id generators."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skilltroc_core.adapters.clocks import ManualClock, SystemClock
from skilltroc_core.adapters.ids import RandomIds, SequentialIds
from skilltroc_core.errors import InvalidInputError, NaiveDatetimeError, TimeWentBackwardsError
from skilltroc_core.ports import Clock, IdGenerator

CET = timezone(timedelta(hours=1), "CET")
CEST = timezone(timedelta(hours=2), "CEST")
START = datetime(2027, 3, 27, 10, 0, tzinfo=CET)


# --- ManualClock ----------------------------------------------------------------------


def test_a_manual_clock_refuses_a_naive_start() -> None:
    with pytest.raises(NaiveDatetimeError, match="clock start"):
        ManualClock(datetime(2027, 3, 27, 10, 0))  # noqa: DTZ001


def test_a_manual_clock_shows_its_start_in_utc() -> None:
    clock = ManualClock(START)
    assert clock.now() == START
    assert clock.now().tzinfo is UTC


def test_a_manual_clock_refuses_to_be_set_to_a_naive_instant_and_stays_put() -> None:
    clock = ManualClock(START)
    with pytest.raises(NaiveDatetimeError):
        clock.set(datetime(2027, 3, 28, 10, 0))  # noqa: DTZ001
    assert clock.now() == START


def test_a_manual_clock_refuses_to_go_backwards_and_stays_put() -> None:
    clock = ManualClock(START)
    earlier = START - timedelta(microseconds=1)
    with pytest.raises(TimeWentBackwardsError) as refused:
        clock.set(earlier)
    assert refused.value.facts == {"now": START, "requested": earlier}
    assert isinstance(refused.value, InvalidInputError)
    assert clock.now() == START


def test_a_manual_clock_can_be_set_to_now_or_later() -> None:
    clock = ManualClock(START)
    clock.set(START)
    assert clock.now() == START
    later = datetime(2027, 3, 27, 12, 0, tzinfo=CEST)  # 10:00 UTC, one hour after START
    clock.set(later)
    assert clock.now() == START + timedelta(hours=1)
    assert clock.now().tzinfo is UTC


@pytest.mark.parametrize(
    ("delta", "days"),
    [(timedelta(seconds=-1), 0), (timedelta(0), -1), (timedelta(hours=-1), 2)],
)
def test_a_manual_clock_refuses_to_advance_by_a_negative_amount(
    delta: timedelta, days: int
) -> None:
    clock = ManualClock(START)
    with pytest.raises(InvalidInputError):
        clock.advance(delta, days=days)
    assert clock.now() == START


def test_advancing_by_nothing_leaves_the_clock_where_it_is() -> None:
    clock = ManualClock(START)
    assert clock.advance() == START
    assert clock.now() == START


def test_advancing_by_a_duration_adds_real_time() -> None:
    clock = ManualClock(START)
    assert clock.advance(timedelta(hours=24)) == datetime(2027, 3, 28, 11, 0, tzinfo=CEST)


def test_advancing_one_day_across_spring_forward_keeps_the_wall_clock_time() -> None:
    clock = ManualClock(START)
    moved = clock.advance(days=1)
    assert moved == datetime(2027, 3, 28, 10, 0, tzinfo=CEST)
    assert clock.now() == moved
    assert moved - START == timedelta(hours=23)


def test_advancing_one_day_across_fall_back_keeps_the_wall_clock_time() -> None:
    start = datetime(2027, 10, 30, 10, 0, tzinfo=CEST)
    clock = ManualClock(start)
    assert clock.advance(days=1) == datetime(2027, 10, 31, 10, 0, tzinfo=CET)


def test_advancing_moves_by_calendar_days_first_and_then_by_the_duration() -> None:
    clock = ManualClock(START)
    # 1 day -> 2027-03-28 10:00 +02:00, then 24 real hours -> 2027-03-29 10:00 +02:00.
    assert clock.advance(timedelta(hours=24), days=1) == datetime(
        2027, 3, 29, 10, 0, tzinfo=CEST
    )


def test_advancing_days_uses_the_zone_it_is_given() -> None:
    est, edt = timezone(timedelta(hours=-5)), timezone(timedelta(hours=-4))
    clock = ManualClock(datetime(2027, 3, 13, 10, 0, tzinfo=est))
    assert clock.advance(days=1, zone="America/New_York") == datetime(
        2027, 3, 14, 10, 0, tzinfo=edt
    )


# --- SystemClock ----------------------------------------------------------------------


def test_the_system_clock_gives_an_aware_instant_in_utc() -> None:
    now = SystemClock().now()
    assert now.tzinfo is UTC
    assert now.utcoffset() == timedelta(0)


# --- the Clock port -------------------------------------------------------------------


def test_both_clocks_satisfy_the_clock_port() -> None:
    clocks: list[Clock] = [SystemClock(), ManualClock(START)]
    for clock in clocks:
        assert isinstance(clock, Clock)


def test_an_object_without_now_is_not_a_clock() -> None:
    assert not isinstance(object(), Clock)
    assert not isinstance(SequentialIds(), Clock)


# --- id generators --------------------------------------------------------------------


def test_sequential_ids_count_from_one_per_prefix() -> None:
    ids = SequentialIds()
    made = [ids.new_id("mem"), ids.new_id("mem"), ids.new_id("ws"), ids.new_id("mem")]
    assert made == ["mem_000001", "mem_000002", "ws_000001", "mem_000003"]


@given(prefixes=st.lists(st.sampled_from(["mem", "ws", "ses", "req", "hold"]), max_size=60))
def test_sequential_ids_are_the_same_for_the_same_calls_and_never_repeat(
    prefixes: list[str],
) -> None:
    first, second = SequentialIds(), SequentialIds()
    made = [first.new_id(prefix) for prefix in prefixes]
    assert made == [second.new_id(prefix) for prefix in prefixes]
    assert len(set(made)) == len(made)
    for prefix, new in zip(prefixes, made, strict=True):
        assert re.fullmatch(rf"{prefix}_\d{{6}}", new)


def test_random_ids_are_unique_and_carry_their_prefix() -> None:
    ids = RandomIds()
    made = [ids.new_id("mem") for _ in range(1000)]
    assert len(set(made)) == len(made)
    for new in made:
        assert re.fullmatch(r"mem_[0-9a-f]{32}", new)


def test_two_random_generators_do_not_repeat_each_other() -> None:
    made = {RandomIds().new_id("ws") for _ in range(200)}
    assert len(made) == 200


def test_both_id_generators_satisfy_the_id_generator_port() -> None:
    generators: list[IdGenerator] = [SequentialIds(), RandomIds()]
    for generator in generators:
        assert isinstance(generator, IdGenerator)
    assert not isinstance(SystemClock(), IdGenerator)
