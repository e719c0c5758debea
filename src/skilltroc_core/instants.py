"""Aware instants and calendar-day arithmetic in the platform time zone.

Every instant the library stores is an aware ``datetime`` normalised to UTC, so that
comparisons never depend on a ``tzinfo`` object or a ``fold`` flag. Local time matters in
one place only: "N days later" means N calendar days at the same local wall-clock time
in the platform time zone (BOOK-24), which differs from ``N * 24h`` across a DST
change.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache

from dateutil import tz as dateutil_tz

from .errors import SkilltrocError
from .refusals import refusal, shown

__all__ = [
    "UTC", "add_calendar_days", "instant_text", "later", "parse_instant", "require_aware",
    "time_zone", "to_local",
]

def instant_text(instant: datetime) -> str:
    """An aware instant as fixed-width UTC text, ``0999-01-01T00:00:00.000000+00:00``: the
    one text form of a stored instant, which sorts like the instants it names (stores and
    queue keys compare them as text). ``isoformat`` writes every year with four digits
    (``strftime`` does not, before year 1000)."""
    if instant.tzinfo is not UTC:
        instant = instant.astimezone(UTC)
    return instant.isoformat(timespec="microseconds")


def parse_instant(text: str) -> datetime:
    """The instant :func:`instant_text` wrote."""
    # fromisoformat reads the fixed format exactly (and fast); the offset is always +00:00
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def require_aware(instant: object, what: str = "instant", rule: str | None = None
                  ) -> datetime:
    """Return ``instant`` normalised to UTC.

    Refused: naive datetimes and non-datetimes (:class:`NaiveDatetimeError`, a platform
    requirement no rule numbers), and, as an :class:`InvalidInputError` naming ``what``
    with ``rule``, an instant outside years 1 to 9999 in UTC or a ``tzinfo`` that gives no
    valid offset (24 hours or more, not a ``timedelta``, or an error of its own).
    """
    if not isinstance(instant, datetime):
        raise refusal("naive_datetime", field=what, got=type(instant).__name__)
    if instant.tzinfo is UTC:
        return instant
    try:
        if instant.utcoffset() is None:
            raise refusal("naive_datetime", field=what, got=_wall(instant))
        return instant.astimezone(UTC)
    except OverflowError as exc:  # e.g. 0001-01-01 00:00 at +05:00 is before year 1 in UTC
        raise refusal("instant_out_of_range", rule=rule, field=what,
                      wall=_wall(instant)) from exc
    except SkilltrocError:
        raise
    except Exception as exc:  # a host's tzinfo: any error of its own is bad input
        raise refusal("instant_bad_offset", rule=rule, field=what,
                      wall=_wall(instant)) from exc


def _wall(instant: datetime) -> str:
    """``instant`` as text without asking its ``tzinfo`` (which may be broken)."""
    return f"{instant.replace(tzinfo=None).isoformat()} ({type(instant.tzinfo).__name__})"


_YEAR_ONE = datetime(1, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def microseconds_since_year_one(instant: datetime) -> int:
    """``instant`` (aware) as a whole number: 0 at year 1, under 10**18 up to year 9999;
    as fixed-width digits its text sorts like the instants (store queue keys)."""
    return (instant - _YEAR_ONE) // _MICROSECOND


def later(instant: datetime, delta: timedelta, what: str = "instant",
          rule: str | None = None) -> datetime:
    """``instant + delta``, refused with :class:`InvalidInputError` past year 9999."""
    try:
        return instant + delta
    except OverflowError as exc:
        raise _too_far(instant, what, rule) from exc


def _too_far(instant: datetime, what: str, rule: str | None) -> SkilltrocError:
    return refusal("instant_too_late", rule=rule, field=what, instant=instant)


@cache
def time_zone(name: str) -> tzinfo:
    """The tz database zone called ``name`` (dateutil ships its own copy of the database)."""
    # gettz("") is the machine's local zone, never a platform zone: refuse blank names.
    zone = dateutil_tz.gettz(name) if isinstance(name, str) and name.strip() else None
    if zone is None:
        raise refusal("unknown_time_zone", zone=shown(name))
    return zone


def to_local(instant: datetime, zone_name: str) -> datetime:
    """The same instant shown in the zone ``zone_name`` (:class:`InvalidInputError` if
    that falls past year 9999 or before year 1)."""
    utc = require_aware(instant)
    try:
        return utc.astimezone(time_zone(zone_name))
    except (OverflowError, ValueError) as exc:
        raise refusal("instant_not_shown_in_zone", instant=utc, zone=zone_name) from exc


def add_calendar_days(instant: datetime, days: int, zone_name: str, *,
                      what: str = "instant", rule: str | None = None) -> datetime:
    """``instant`` moved by ``days`` calendar days at the same wall-clock time in the zone.

    - 2027-03-27 10:00 Paris (+01:00) + 1 day = 2027-03-28 10:00 Paris (+02:00): 23 hours.
    - A wall-clock time that does not exist on the target day (inside the spring-forward
      gap) moves forward by the gap: 02:30 becomes 03:30, the first instant the local
      clock shows a time at or after 02:30.
    - A wall-clock time that occurs twice on the target day (the autumn fall-back hour)
      is its first occurrence (summer time), the first moment the clock shows it.

    The result is in UTC, like every stored instant. A result outside years 1 to 9999
    (in UTC or in the zone) is refused with :class:`InvalidInputError` naming ``what``,
    with ``rule``.
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise refusal("days_not_whole", rule=rule, got=shown(days))
    zone = time_zone(zone_name)
    utc = require_aware(instant, what, rule)
    if days == 0:
        # Same instant: re-resolving an ambiguous wall time would pick the first occurrence.
        return utc
    try:
        local = utc.astimezone(zone)
        wall = local.replace(tzinfo=None) + timedelta(days=days)
        target = dateutil_tz.resolve_imaginary(wall.replace(tzinfo=zone, fold=0))
        return require_aware(target, what, rule)
    except (OverflowError, ValueError) as exc:  # past 9999 or before year 1, here or in UTC
        raise refusal("calendar_edge", rule=rule, field=what, instant=utc, days=days,
                      zone=zone_name) from exc
