"""The 5-seat race: many processes asking for seats of one session while its organizer's
process accepts every request it sees.

The test process sets up an organizer, a workshop and one 5-seat session; worker
processes run :func:`request_seats` (each signing up its own members, who ask for a seat
each, some cancelling at once) while one runs :func:`answer_requests` (the organizer
accepting every pending request it sees, until told to stop).
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from ...booking import RegistrationState
from ...errors import SkilltrocError, StateConflictError
from ...service import AgendaItem, Skilltroc, kinds
from .processes import StoreFactory, race_service, run_workers, spawn

__all__ = ["CAPACITY", "answer_requests", "request_seats", "seat_race"]

CAPACITY = 5


def request_seats(app: Skilltroc, session: str, worker: int, members: int) -> None:
    """A worker: sign up ``members`` members of this worker; each asks for one seat of
    ``session``; every fourth cancels at once, racing the organizer's acceptance."""
    for i in range(members):
        member = app.signup(f"w{worker}-m{i}@example.org", provider="google").member_id
        request = app.request(member, session_id=session, seats=1)
        if i % 4 == 3:
            with contextlib.suppress(StateConflictError):  # the organizer accepted it first
                app.cancel_request(member, request)


def _pending(app: Skilltroc, organizer: str) -> list[str]:
    items = app.organizer_agenda(organizer).to_answer
    return [item.registration.id for item in items if isinstance(item, AgendaItem)]


def answer_requests(app: Skilltroc, organizer: str, stop: Path) -> dict[str, int]:
    """The organizer's worker: accept every pending request until ``stop`` exists and
    none is left; the counts of accepted, refused accepts and refused requests.

    A refused accept must be a :class:`StateConflictError` (the session is full, or the
    member cancelled first); a request that cannot be accepted is then refused.
    """
    counts = {"accepted": 0, "accept_refused": 0, "refused": 0}
    while True:
        stopping = stop.exists()  # read before the agenda: nothing is requested after it
        pending = _pending(app, organizer)
        if not pending and stopping:
            return counts
        if not pending:
            time.sleep(0.005)
        for request in pending:
            try:
                app.accept(organizer, request)
                counts["accepted"] += 1
                continue
            except SkilltrocError as refused:
                if not isinstance(refused, StateConflictError):
                    raise
                counts["accept_refused"] += 1
            try:
                app.refuse(organizer, request)
                counts["refused"] += 1
            except StateConflictError:
                pass  # cancelled by its member meanwhile


def _run(factory: StoreFactory, organizer: str, session: str, workers: int, members: int
         ) -> dict[str, int]:
    """The organizer's process and ``workers`` members' processes, all at once; waits
    for all; the organizer's counts."""
    with tempfile.TemporaryDirectory() as folder:
        stop = Path(folder) / "stop"
        answering = spawn(factory, "answer_requests", organizer, stop, out=True)
        try:
            run_workers(factory, "request_seats",
                        [(session, w, members) for w in range(workers)])
        finally:
            stop.touch()
            try:
                out, _ = answering.communicate(timeout=300)
            finally:
                if answering.poll() is None:
                    answering.kill()
                    answering.wait()
    assert answering.returncode == 0
    counts: dict[str, int] = json.loads(out)
    assert counts["accept_refused"] > 0  # the race did happen
    return counts


def seat_race(factory: StoreFactory, *, workers: int = 8, members: int = 12) -> None:
    """BOOK-12, BOOK-14, BOOK-18, REFUND-5: ``workers`` processes sign up ``members``
    members each, who ask for a seat of one 5-seat session (some cancel at once), while
    the organizer's process accepts every pending request it sees: exactly 5 seats end
    up taken, every accept that could not be done was refused with a state conflict (the
    organizer's process fails otherwise), and everyone else got their star back."""
    with race_service(factory) as app:
        organizer = app.signup("organizer@example.org", provider="google").member_id
        workshop = app.create_workshop(organizer, title="Race", description="Five seats only",
                                       domain="racing", cost=1, capacity=CAPACITY)
        session = app.plan_session(organizer, workshop, app.now() + timedelta(days=10))
    counts = _run(factory, organizer, session, workers, members)
    with race_service(factory) as app:
        app.check_invariants(deep=True)
        taken = app.session(session)
        assert (taken.seats_taken, taken.capacity) == (CAPACITY, CAPACITY)
        agenda = app.organizer_agenda(organizer)
        assert agenda.to_answer == ()
        registered = [item.registration for item in agenda.validated
                      if isinstance(item, AgendaItem)]
        assert len(registered) == CAPACITY == counts["accepted"]
        assert all(r.session == session and r.state is RegistrationState.REGISTERED
                   for r in registered)
        assert counts["accept_refused"] >= counts["refused"]
        supply = app.supply()
        assert supply.held == CAPACITY  # one star per registered seat, until the session
        assert supply.supply == supply.issued - supply.returned
        assert supply.issued == 10 * (1 + workers * members)
        holders = {r.member for r in registered}
        uow = app.store.begin()
        try:
            participants = [m.id for worker in range(workers) for i in range(members)
                            for m in uow.find(kinds.MEMBERS, "email",
                                              f"w{worker}-m{i}@example.org")]
        finally:
            uow.rollback()
        assert len(participants) == workers * members
        for member in participants:
            expected = (9, 1) if member in holders else (10, 0)
            assert app.balance(member) == expected, (member, app.balance(member))
