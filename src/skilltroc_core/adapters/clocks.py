"""Clock implementations: the real one, and a manual one for tests and scenarios."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..instants import add_calendar_days, later, require_aware
from ..refusals import refusal

__all__ = ["ManualClock", "SystemClock"]


class SystemClock:
    """The machine's clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to, and never backwards."""

    def __init__(self, start: datetime) -> None:
        self._now = require_aware(start, "clock start")

    def now(self) -> datetime:
        return self._now

    def set(self, instant: datetime) -> None:
        """Move to ``instant``; refuses naive datetimes and instants before now."""
        target = require_aware(instant, "clock instant")
        if target < self._now:
            raise refusal("manual_clock_backwards", now=self._now, requested=target)
        self._now = target

    def advance(
        self, delta: timedelta = timedelta(0), *, days: int = 0, zone: str = "Europe/Paris"
    ) -> datetime:
        """Move forward by ``days`` calendar days in ``zone`` and then by ``delta``."""
        if delta < timedelta(0) or days < 0:
            raise refusal("manual_clock_advance_negative")
        target = add_calendar_days(self._now, days, zone) if days else self._now
        self.set(later(target, delta, "clock instant"))
        return self._now
