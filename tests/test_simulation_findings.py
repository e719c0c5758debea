"""What the simulator found, each as a named example.

- A unit of work whose *commit* failed was never rolled back: the service rolled back
  only when the command itself raised, so after a failed commit the memory store stayed
  locked (every later command waited, then failed as "busy") and a SQL transaction
  could stay open. Found with ``skilltroc simulate --faults`` (a store failure injected
  at the commit call); fixed in ``service/units.py`` (``commit``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.errors import StoreError
from skilltroc_core.ports import Change, OutboxItem, UnitOfWork
from skilltroc_core.rules import DEFAULT_POLICY
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import TEST_SECRET_KEY

START = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)


class _CommitFails:
    """A unit of work whose commit raises (as a lost connection or a full disk would)."""

    def __init__(self, inner: UnitOfWork) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def commit(self) -> None:
        raise StoreError("the disk is full")


class CommitFailsOnce:
    """A memory store whose next unit of work, once armed, fails at its commit."""

    keeps_data = False

    def __init__(self) -> None:
        self.inner = MemoryStore()
        self.armed = False

    def begin(self, *, read_only: bool = False) -> UnitOfWork:
        uow = self.inner.begin(read_only=read_only)
        if self.armed and not read_only:
            self.armed = False
            return _CommitFails(uow)
        return uow

    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        return self.inner.drain_notifications(limit)

    def ack(self, seqs: Iterable[int]) -> None:
        self.inner.ack(seqs)

    def recent_instant(self) -> datetime | None:
        return self.inner.recent_instant()

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        return self.inner.changes(after, limit)

    def close(self) -> None:
        self.inner.close()


def _app() -> tuple[Skilltroc, CommitFailsOnce, ManualClock]:
    store = CommitFailsOnce()
    clock = ManualClock(START)
    app = Skilltroc(store, clock, policy=attrs.evolve(
        DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8), secret_key=TEST_SECRET_KEY)
    return app, store, clock


def _events(app: Skilltroc) -> list[str]:
    items = app.drain_notifications(1000)
    app.ack([item.seq for item in items])
    return [item.notification.event for item in items]


@pytest.mark.rule("STAR-2")
def test_a_command_whose_commit_fails_changes_nothing_and_the_store_stays_usable() -> None:
    app, store, _ = _app()
    member = app.signup("ana@example.org", provider="google").member_id
    store.armed = True

    with pytest.raises(StoreError):
        app.buy_stars(member, 5, "pay-1")

    assert app.balance(member) == (10, 0)
    app.buy_stars(member, 5, "pay-1")  # the retry goes through, once
    assert app.balance(member) == (15, 0)
    app.check_invariants(deep=True)


@pytest.mark.rule("BOOK-16", "REFUND-1")
def test_a_deadline_whose_commit_fails_is_applied_once_by_the_next_run_due() -> None:
    app, store, clock = _app()
    organizer = app.signup("olga@example.org", provider="google").member_id
    member = app.signup("ben@example.org", provider="google").member_id
    workshop = app.create_workshop(organizer, title="Bread", description="Sourdough",
                                   domain="cooking", cost=3, capacity=4)
    session = app.plan_session(organizer, workshop, START + timedelta(days=2))
    request = app.request(member, seats=1, session_id=session)
    assert app.balance(member) == (7, 3)
    _events(app)
    clock.advance(timedelta(days=3))
    store.armed = True

    with pytest.raises(StoreError):
        app.run_due()

    assert _events(app) == []
    assert app.run_due() >= 1  # the request expires at the session's start (BOOK-16)
    assert app.registration(request).state == "expired"
    assert app.balance(member) == (10, 0)
    assert _events(app).count("RequestExpired") == 1
    app.check_invariants(deep=True)
