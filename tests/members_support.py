"""Helpers for the members-layer tests: a service over a memory store, a manual clock,
signups that complete and notification filters. (What a store holds, to check that a
refusal changed nothing, is :func:`skilltroc_core.testing.state_of`.)

Not a test module (no ``test_`` prefix); the test files import from it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
from dateutil import tz

from skilltroc_core import DEFAULT_POLICY, ManualClock, Policy
from skilltroc_core.accounts import Member
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.events import Notification
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.testing import TEST_SECRET_KEY

__all__ = [
    "CHEAP_POLICY",
    "PARIS",
    "PASSWORD",
    "START",
    "World",
    "email_of",
    "make_world",
    "notices",
    "reset_link",
    "signup_confirmed",
    "signup_pending",
    "signup_provider",
    "stored_member",
]

#: ACC-4 hashing stays argon2id, only with a tiny cost so tests run fast.
CHEAP_POLICY: Policy = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)
PARIS = tz.gettz("Europe/Paris")
START = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


@attrs.define
class World:
    """One service with the store and the clock behind it."""

    service: Skilltroc
    store: MemoryStore
    clock: ManualClock

    def advance(self, delta: timedelta = timedelta(0), *, days: int = 0) -> datetime:
        return self.clock.advance(delta, days=days)


def make_world(start: datetime = START, policy: Policy = CHEAP_POLICY) -> World:
    store = MemoryStore()
    clock = ManualClock(start)
    service = Skilltroc(store, clock, policy=policy, secret_key=TEST_SECRET_KEY)
    return World(service=service, store=store, clock=clock)


def reset_link(service: Skilltroc, email: str) -> str:
    """Ask for a password reset and return the token the host puts in the mail: derived
    from the newest PasswordResetRequested notice (left in the outbox, unacknowledged)."""
    service.request_password_reset(email)
    notice = next(item.notification for item in reversed(service.drain_notifications(1000))
                  if item.notification.event == "PasswordResetRequested")
    return service.link_token(notice)


def email_of(name: str) -> str:
    return f"{name}@example.org"


def signup_pending(
    service: Skilltroc, name: str, *, kind: str = "individual", category: str | None = None,
    sponsor: str | None = None, password: str = PASSWORD,
) -> tuple[str, str]:
    """A password signup not yet confirmed: (member id, confirmation token)."""
    result = service.signup(email_of(name), password=password, kind=kind, category=category,
                            sponsor=sponsor)
    assert result.confirmation_token is not None
    return result.member_id, result.confirmation_token


def signup_confirmed(
    service: Skilltroc, name: str, *, kind: str = "individual", category: str | None = None,
    sponsor: str | None = None, password: str = PASSWORD,
) -> str:
    """A password signup, confirmed: an active member with the signup bonus."""
    member_id, token = signup_pending(service, name, kind=kind, category=category,
                                      sponsor=sponsor, password=password)
    service.confirm_email(member_id, token)
    return member_id


def signup_provider(
    service: Skilltroc, name: str, *, provider: str = "google", kind: str = "individual",
    category: str | None = None, sponsor: str | None = None,
) -> str:
    result = service.signup(email_of(name), provider=provider, kind=kind, category=category,
                            sponsor=sponsor)
    assert result.confirmation_token is None
    return result.member_id


def notices(service: Skilltroc, event: str | None = None) -> list[Notification]:
    """Drain and acknowledge the outbox; the notifications (of ``event`` only, if given)."""
    drained: list[Notification] = []
    while True:
        items = service.drain_notifications()
        if not items:
            break
        service.ack([item.seq for item in items])
        drained.extend(item.notification for item in items)
    return [n for n in drained if event is None or n.event == event]


def stored_member(store: MemoryStore, member_id: str) -> Member:
    """The Member record exactly as the store keeps it (any status, purged included)."""
    found = store._entities[kinds.MEMBERS.name][member_id]
    assert isinstance(found, Member)
    return found


def check_two_stores_see_each_others_commits(first: Skilltroc, second: Skilltroc) -> None:
    """Two services on one database (as two processes would be): each may keep what it
    read and wrote between units of work, but must drop it once the other one commits."""
    bob = first.signup("bob@example.org", provider="google").member_id
    first.signup("ann@example.org", provider="google")
    assert second.balance(bob).available == 10  # now known to the second store
    first.buy_stars(bob, 30, "PAY-1")
    second.gift(bob, "ann@example.org", 25)  # refused if it still believed 10 stars
    assert first.balance(bob).available == 15
    carl = second.signup("carl@example.org", provider="google").member_id
    dora = first.signup("dora@example.org", provider="google").member_id
    assert (carl, dora) == ("mem_000003", "mem_000004")  # the id sequence was not reused
    for app in (first, second):
        assert app.balance(bob).available == 15
        app.check_invariants(deep=True)


def before_the_feed(app: Skilltroc, path: Path) -> Skilltroc:
    """``app``'s SQLite store at ``path`` as a version before the change feed left it (the
    feed empty), closed and opened again by a new service with the same clock and policy."""
    uow = app.store.begin()
    uow.db.run("DELETE FROM changes")  # type: ignore[attr-defined]
    uow.commit()
    app.store.close()
    return Skilltroc(SQLiteStore(path), app.clock, policy=app.policy,
                     secret_key=TEST_SECRET_KEY)
