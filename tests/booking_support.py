"""Helpers for the booking tests: cast members, workshops, sessions in a given state,
notification digests, statement lines of one hold and refusals that change nothing.

Not a test module (no ``test_`` prefix); the booking test files import from it. Built on
:mod:`tests.members_support` (a memory store, a manual clock at ``START``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

import pytest

from skilltroc_core.booking import Session
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.ledger import Hold, StatementLine, TransferKind
from skilltroc_core.service import AgendaItem, Skilltroc
from skilltroc_core.testing import changes_nothing

from .members_support import PARIS, World, notices, signup_provider

__all__ = [
    "END_KINDS",
    "Digest",
    "agenda_ids",
    "at",
    "book",
    "digest",
    "finish",
    "hold_end_lines",
    "hold_lines",
    "hold_session",
    "ledger_hold",
    "member_with",
    "professional",
    "refused",
    "waitlist",
    "workshop",
]

#: How a hold ends in a statement (REFUND-5): posted to the organizer or voided back.
END_KINDS = frozenset({TransferKind.HOLD_POSTED, TransferKind.HOLD_VOIDED})

#: (event, rule cited, recipients) of one notification.
Digest = tuple[str, str, tuple[str, ...]]


def at(day: int, hour: int = 10, minute: int = 0) -> datetime:
    """``day`` calendar days after 2027-03-01, at ``hour:minute`` Paris wall-clock time.

    ``START`` (2027-03-01 09:00 UTC) is ``at(0, 10)``; summer time begins on
    2027-03-28 (``at(27)``), so ``at(30)`` is 10:00 at +02:00.
    """
    return datetime(2027, 3, 1, hour, minute, tzinfo=PARIS) + timedelta(days=day)


def member_with(world: World, name: str, stars: int = 10, *, sponsor: str | None = None
                ) -> str:
    """An active individual (provider signup) with exactly ``stars`` available (>= 10)."""
    member = signup_provider(world.service, name, sponsor=sponsor)
    if stars > 10:
        world.service.buy_stars(member, stars - 10, f"pay-{name}")
    assert world.service.balance(member) == (stars, 0)
    return member


def professional(world: World, name: str) -> str:
    """An active professional whose profile is complete (PROF-6), so they may organize."""
    member = signup_provider(world.service, name, kind="professional", category="craftsperson")
    view = world.service.update_profile(
        member, display_name=name.title(), description="Workshops for everyone",
        photo="https://example.org/photo.jpg", locality="Lyon",
    )
    assert view.complete
    return member


def workshop(service: Skilltroc, organizer: str, *, cost: int = 3, capacity: int = 4,
             duration: timedelta = timedelta(hours=2), title: str = "Sourdough bread",
             mode: str = "online", locality: str | None = None) -> str:
    return service.create_workshop(
        organizer, title=title, description="From starter to loaf", domain="cooking",
        cost=cost, capacity=capacity, duration=duration, mode=mode, locality=locality,
    )


def book(service: Skilltroc, organizer: str, member: str, session: str, seats: int = 1) -> str:
    """A request for ``session``, accepted: the member is registered."""
    registration = service.request(member, session_id=session, seats=seats)
    service.accept(organizer, registration)
    return registration


def waitlist(service: Skilltroc, organizer: str, member: str, workshop_id: str,
             seats: int = 1) -> str:
    """A future-session request, accepted for a future session: the member is waitlisted."""
    registration = service.request(member, workshop_id=workshop_id, seats=seats)
    service.accept_future(organizer, registration)
    return registration


def hold_session(world: World, organizer: str, workshop_id: str, members: Iterable[str], *,
                 seats: int = 1) -> tuple[str, list[str]]:
    """Plan a session an hour from now, register ``members``, let it end, confirm it held.

    Returns the session and the registrations (each now paid to the organizer).
    """
    service = world.service
    session = service.plan_session(organizer, workshop_id, world.clock.now() + timedelta(hours=1))
    registrations = [book(service, organizer, m, session, seats) for m in members]
    world.clock.set(service.session(session).end)
    service.confirm_held(organizer, session)
    return session, registrations


def digest(service: Skilltroc, event: str | None = None) -> list[Digest]:
    """Drain the outbox: (event, rule, recipients) of each notice (of ``event`` only)."""
    return [(n.event, n.rule, n.recipients) for n in notices(service, event)]


def hold_lines(service: Skilltroc, member: str, registration: str) -> list[StatementLine]:
    """Every line of ``member``'s statement about the hold of ``registration``."""
    page = service.statement(member, limit=10_000)
    return [line for line in page.items if line.reference == f"request:{registration}"]


def hold_end_lines(service: Skilltroc, member: str, registration: str) -> list[StatementLine]:
    """The lines that end the hold of ``registration`` (REFUND-5: there is at most one)."""
    return [line for line in hold_lines(service, member, registration)
            if line.kind in END_KINDS]


def refused(world: World, call: Callable[[], object], code: str, rule: str | None
            ) -> SkilltrocError:
    """``call`` raises a SkilltrocError with ``code`` and ``rule``, and changes nothing."""
    with changes_nothing(world.store), pytest.raises(SkilltrocError) as info:
        call()
    assert (info.value.code, info.value.rule) == (code, rule), str(info.value)
    return info.value


def ledger_hold(world: World, registration: str) -> Hold | None:
    """The ledger's hold of ``registration`` (readable even once its member is purged)."""
    return world.store.book.hold(registration)


def finish(world: World) -> None:
    """Every test ends here: the ledger invariants hold, replayed from zero."""
    world.service.check_invariants(deep=True)


def agenda_ids(items: Sequence[AgendaItem] | Sequence[Session]) -> list[str]:
    """The registration ids of agenda lines, or the ids of sessions (to confirm)."""
    return [item.id if isinstance(item, Session) else item.registration.id for item in items]
