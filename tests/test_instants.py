"""Aware instants and "N calendar days later" in the platform zone (BOOK-24).

The expected instants are written with fixed offsets (+01:00 winter, +02:00 summer in
Paris) so that they do not come from the code under test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skilltroc_core.errors import InvalidInputError, NaiveDatetimeError
from skilltroc_core.instants import (
    add_calendar_days,
    instant_text,
    microseconds_since_year_one,
    parse_instant,
    require_aware,
    time_zone,
    to_local,
)
from skilltroc_core.rules import DEFAULT_POLICY

PARIS = "Europe/Paris"
CET = timezone(timedelta(hours=1), "CET")
CEST = timezone(timedelta(hours=2), "CEST")
NEW_YORK_SUMMER = timezone(timedelta(hours=-4), "EDT")

AddDays = Callable[[datetime, int], datetime]


def _with_function(instant: datetime, days: int) -> datetime:
    return add_calendar_days(instant, days, PARIS)


ADDERS = [
    pytest.param(_with_function, id="add_calendar_days"),
    pytest.param(DEFAULT_POLICY.add_days, id="Policy.add_days"),
]


# --- the spring-forward change: 2027-03-28 02:00 -> 03:00 -------------------------------


@pytest.mark.parametrize("add_days", ADDERS)
def test_one_day_before_spring_forward_is_23_hours_at_the_same_local_time(
    add_days: AddDays,
) -> None:
    start = datetime(2027, 3, 27, 10, 0, tzinfo=CET)
    result = add_days(start, 1)
    assert result == datetime(2027, 3, 28, 10, 0, tzinfo=CEST)
    assert result - start == timedelta(hours=23)
    assert result.tzinfo is UTC
    assert result == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)


@pytest.mark.rule("BOOK-24")
@pytest.mark.parametrize("add_days", ADDERS)
def test_a_15_day_window_across_spring_forward_ends_at_the_same_local_time(
    add_days: AddDays,
) -> None:
    accepted = datetime(2027, 3, 20, 10, 0, tzinfo=CET)
    due = add_days(accepted, DEFAULT_POLICY.waitlist_window_days)
    assert due == datetime(2027, 4, 4, 10, 0, tzinfo=CEST)
    assert due - accepted == timedelta(days=15) - timedelta(hours=1)


@pytest.mark.parametrize("add_days", ADDERS)
def test_a_wall_time_inside_the_spring_gap_moves_forward_by_the_gap(add_days: AddDays) -> None:
    start = datetime(2027, 3, 27, 2, 30, tzinfo=CET)
    result = add_days(start, 1)
    # 02:30 does not exist on 2027-03-28: the result is 03:30 summer time.
    assert result == datetime(2027, 3, 28, 3, 30, tzinfo=CEST)
    assert result == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)
    local = to_local(result, PARIS)
    assert (local.hour, local.minute) == (3, 30)
    assert local.utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("add_days", ADDERS)
def test_negative_days_go_back_across_spring_forward(add_days: AddDays) -> None:
    start = datetime(2027, 3, 28, 10, 0, tzinfo=CEST)
    result = add_days(start, -1)
    assert result == datetime(2027, 3, 27, 10, 0, tzinfo=CET)
    assert start - result == timedelta(hours=23)


# --- the fall-back change: 2027-10-31 03:00 -> 02:00 -------------------------------------


@pytest.mark.parametrize("add_days", ADDERS)
def test_one_day_before_fall_back_is_25_hours_at_the_same_local_time(
    add_days: AddDays,
) -> None:
    start = datetime(2027, 10, 30, 10, 0, tzinfo=CEST)
    result = add_days(start, 1)
    assert result == datetime(2027, 10, 31, 10, 0, tzinfo=CET)
    assert result - start == timedelta(hours=25)
    assert result.tzinfo is UTC


@pytest.mark.rule("BOOK-30", "BOOK-32")
@pytest.mark.parametrize("add_days", ADDERS)
def test_the_confirmation_window_across_fall_back_ends_at_the_same_local_time(
    add_days: AddDays,
) -> None:
    session_end = datetime(2027, 10, 28, 18, 0, tzinfo=CEST)
    deadline = add_days(session_end, DEFAULT_POLICY.confirmation_window_days)
    assert deadline == datetime(2027, 11, 4, 18, 0, tzinfo=CET)
    assert deadline - session_end == timedelta(days=7, hours=1)


@pytest.mark.parametrize("add_days", ADDERS)
def test_an_ambiguous_wall_time_resolves_to_its_first_occurrence(add_days: AddDays) -> None:
    start = datetime(2027, 10, 30, 2, 30, tzinfo=CEST)
    result = add_days(start, 1)
    # 02:30 happens twice on 2027-10-31: first in summer time (+02:00), then in winter time.
    assert result == datetime(2027, 10, 31, 2, 30, tzinfo=CEST)
    assert result == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    assert to_local(result, PARIS).utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("add_days", ADDERS)
def test_the_second_occurrence_of_an_ambiguous_time_moves_to_the_same_wall_time(
    add_days: AddDays,
) -> None:
    second = datetime(2027, 10, 31, 2, 30, tzinfo=CET)  # 01:30 UTC, after the change
    assert add_days(second, 1) == datetime(2027, 11, 1, 2, 30, tzinfo=CET)
    assert add_days(second, -1) == datetime(2027, 10, 30, 2, 30, tzinfo=CEST)


@pytest.mark.parametrize("add_days", ADDERS)
def test_adding_zero_days_keeps_the_second_occurrence_of_an_ambiguous_time(
    add_days: AddDays,
) -> None:
    second = datetime(2027, 10, 31, 2, 30, tzinfo=CET)
    assert add_days(second, 0) == second


@pytest.mark.parametrize("add_days", ADDERS)
def test_negative_days_go_back_across_fall_back(add_days: AddDays) -> None:
    start = datetime(2027, 10, 31, 10, 0, tzinfo=CET)
    result = add_days(start, -1)
    assert result == datetime(2027, 10, 30, 10, 0, tzinfo=CEST)
    assert start - result == timedelta(hours=25)


# --- input shapes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "start",
    [
        datetime(2027, 3, 27, 9, 0, tzinfo=UTC),
        datetime(2027, 3, 27, 10, 0, tzinfo=CET),
        datetime(2027, 3, 27, 5, 0, tzinfo=NEW_YORK_SUMMER),
        datetime(2027, 3, 27, 10, 0, tzinfo=time_zone(PARIS)),
    ],
    ids=["utc", "fixed-offset", "other-zone", "paris-zone"],
)
def test_the_result_is_in_utc_whatever_zone_the_input_is_given_in(start: datetime) -> None:
    result = add_calendar_days(start, 1, PARIS)
    assert result.tzinfo is UTC
    assert result == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("days", [1.0, 1.5, "1", True, False, None, Decimal(1)])
def test_days_that_are_not_a_whole_number_are_refused(days: Any) -> None:
    start = datetime(2027, 3, 27, 10, 0, tzinfo=CET)
    with pytest.raises(InvalidInputError, match="whole number"):
        add_calendar_days(start, days, PARIS)
    with pytest.raises(InvalidInputError, match="whole number"):
        DEFAULT_POLICY.add_days(start, days)


def test_adding_days_refuses_a_naive_instant() -> None:
    with pytest.raises(NaiveDatetimeError):
        add_calendar_days(datetime(2027, 3, 27, 10, 0), 1, PARIS)  # noqa: DTZ001


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "", "   "])
def test_an_unknown_or_blank_zone_name_is_refused(name: str) -> None:
    start = datetime(2027, 3, 27, 10, 0, tzinfo=CET)
    with pytest.raises(InvalidInputError, match="unknown time zone"):
        add_calendar_days(start, 1, name)
    with pytest.raises(InvalidInputError, match="unknown time zone"):
        to_local(start, name)


def test_to_local_shows_the_same_instant_in_the_zone() -> None:
    instant = datetime(2027, 7, 14, 8, 0, tzinfo=UTC)
    local = to_local(instant, PARIS)
    assert local == instant
    assert (local.hour, local.utcoffset()) == (10, timedelta(hours=2))


# --- require_aware --------------------------------------------------------------------


class _OffsetlessZone(tzinfo):
    """A tzinfo that does not know its offset: the datetime is naive in practice."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_require_aware_refuses_a_naive_datetime_and_names_what_it_checked() -> None:
    with pytest.raises(NaiveDatetimeError, match="session start"):
        require_aware(datetime(2027, 1, 1, 12, 0), "session start")  # noqa: DTZ001


def test_require_aware_refuses_a_datetime_whose_zone_has_no_offset() -> None:
    with pytest.raises(NaiveDatetimeError):
        require_aware(datetime(2027, 1, 1, 12, 0, tzinfo=_OffsetlessZone()))


@pytest.mark.parametrize(
    "value",
    [None, "2027-01-01T12:00:00+00:00", date(2027, 1, 1), time(12, 0, tzinfo=UTC), 1_800_000_000],
    ids=["none", "iso-string", "date", "time", "timestamp"],
)
def test_require_aware_refuses_what_is_not_a_datetime(value: object) -> None:
    with pytest.raises(NaiveDatetimeError, match="must be a timezone-aware datetime"):
        require_aware(value)


def test_a_naive_datetime_error_is_an_invalid_input_error() -> None:
    with pytest.raises(InvalidInputError):
        require_aware(datetime(2027, 1, 1, 12, 0))  # noqa: DTZ001


@pytest.mark.parametrize(
    "value",
    [
        datetime(2027, 3, 27, 10, 0, tzinfo=CET),
        datetime(2027, 3, 27, 5, 0, tzinfo=NEW_YORK_SUMMER),
        datetime(2027, 3, 27, 10, 0, tzinfo=time_zone(PARIS)),
        datetime(2027, 3, 27, 9, 0, tzinfo=timezone.utc),  # noqa: UP017
    ],
    ids=["fixed-offset", "other-offset", "paris-zone", "timezone.utc"],
)
def test_require_aware_normalises_an_aware_datetime_to_utc(value: datetime) -> None:
    result = require_aware(value)
    assert result.tzinfo is UTC
    assert result == value
    assert (result.hour, result.minute) == (9, 0)


def test_require_aware_returns_a_utc_datetime_unchanged() -> None:
    value = datetime(2027, 3, 27, 9, 0, tzinfo=UTC)
    assert require_aware(value) is value


# --- properties -----------------------------------------------------------------------

PARIS_ZONE = time_zone(PARIS)
ZONES = st.sampled_from(
    [UTC, CET, CEST, NEW_YORK_SUMMER, timezone(timedelta(hours=5, minutes=30)), PARIS_ZONE]
)
INSTANTS = st.datetimes(
    min_value=datetime(2000, 1, 1),  # noqa: DTZ001
    max_value=datetime(2099, 12, 31),  # noqa: DTZ001
    timezones=ZONES,
)


def _last_sunday(year: int, month: int) -> date:
    day = date(year, month, 31)
    return day - timedelta(days=(day.weekday() - 6) % 7)


def _in_spring_gap(wall: datetime) -> bool:
    """EU rule: Paris clocks jump from 02:00 to 03:00 on the last Sunday of March."""
    return wall.date() == _last_sunday(wall.year, 3) and wall.hour == 2


def _in_autumn_overlap(wall: datetime) -> bool:
    """EU rule: Paris clocks go back from 03:00 to 02:00 on the last Sunday of October."""
    return wall.date() == _last_sunday(wall.year, 10) and wall.hour == 2


@given(instant=INSTANTS, days=st.integers(min_value=-400, max_value=400))
def test_adding_days_keeps_the_local_wall_time_and_moves_the_local_date_by_that_many_days(
    instant: datetime, days: int
) -> None:
    result = add_calendar_days(instant, days, PARIS)
    assert result.tzinfo is UTC
    before = to_local(instant, PARIS)
    after = to_local(result, PARIS)
    wanted = before.replace(tzinfo=None) + timedelta(days=days)
    assert after.date() == wanted.date()
    if _in_spring_gap(wanted):
        assert after.replace(tzinfo=None) == wanted + timedelta(hours=1)
        assert after.utcoffset() == timedelta(hours=2)
    else:
        assert after.time() == before.time()
    if days != 0 and _in_autumn_overlap(wanted):
        assert after.utcoffset() == timedelta(hours=2)


@given(instant=INSTANTS)
def test_adding_zero_days_is_the_same_instant(instant: datetime) -> None:
    assert add_calendar_days(instant, 0, PARIS) == instant


@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)),
    wall=st.times(min_value=time(4, 0), max_value=time(23, 0)),
    days=st.integers(min_value=-400, max_value=400),
)
def test_adding_then_subtracting_days_returns_to_the_same_instant_outside_dst_hours(
    day: date, wall: time, days: int
) -> None:
    instant = datetime.combine(day, wall, tzinfo=PARIS_ZONE)
    there = DEFAULT_POLICY.add_days(instant, days)
    assert DEFAULT_POLICY.add_days(there, -days) == instant
    assert there - instant - timedelta(days=days) in {
        timedelta(hours=-1),
        timedelta(0),
        timedelta(hours=1),
    }


# --- the text and the number of a stored instant ---------------------------------------


@pytest.mark.rule("STAR-5")
@pytest.mark.parametrize(("instant", "text"), [
    (datetime(2027, 3, 1, 9, tzinfo=UTC), "2027-03-01T09:00:00.000000+00:00"),
    (datetime(2027, 3, 1, 10, 0, 0, 5, tzinfo=timezone(timedelta(hours=1))),
     "2027-03-01T09:00:00.000005+00:00"),
    (datetime(1000, 1, 1, tzinfo=UTC), "1000-01-01T00:00:00.000000+00:00"),
    (datetime(999, 12, 31, 23, 59, tzinfo=UTC), "0999-12-31T23:59:00.000000+00:00"),
    (datetime(5, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))),
     "0005-01-01T00:00:00.000000+00:00"),
    (datetime.max.replace(tzinfo=UTC), "9999-12-31T23:59:59.999999+00:00"),
])
def test_an_instant_is_stored_as_fixed_width_utc_text_and_read_back(
    instant: datetime, text: str
) -> None:
    """Regression: before year 1000 the text lost its fixed width (strftime writes 999,
    not 0999), so it sorted wrong and could not be read back."""
    assert instant_text(instant) == text
    assert parse_instant(text) == instant
    assert parse_instant(text).tzinfo is UTC


@pytest.mark.rule("STAR-5")
@given(st.datetimes(timezones=st.just(UTC)), st.datetimes(timezones=st.just(UTC)))
def test_instant_texts_sort_like_the_instants_in_every_year(a: datetime, b: datetime) -> None:
    assert (instant_text(a) < instant_text(b)) == (a < b)
    assert len(instant_text(a)) == 32


@pytest.mark.rule("AD-7")
def test_an_instant_as_a_number_counts_microseconds_from_year_one() -> None:
    year_one = datetime(1, 1, 1, tzinfo=UTC)
    assert microseconds_since_year_one(year_one) == 0
    assert microseconds_since_year_one(year_one + timedelta(microseconds=1)) == 1
    assert microseconds_since_year_one(datetime(1, 1, 2, tzinfo=UTC)) == 86_400 * 10**6
    assert microseconds_since_year_one(datetime(1, 2, 1, tzinfo=UTC)) == 31 * 86_400 * 10**6
    assert microseconds_since_year_one(datetime(2, 1, 1, tzinfo=UTC)) == 365 * 86_400 * 10**6
    assert microseconds_since_year_one(datetime.max.replace(tzinfo=UTC)) < 10**18
