"""The 5-seat race, shared by the SQLite and PostgreSQL worker processes.

Not a test module. The test process calls :func:`set_up` (an organizer, a workshop and
one 5-seat session) and later :func:`check_outcome`; worker processes call
:func:`request_seats` (8 of them, each signing up its own members and asking for a seat
each, cancelling some of those requests at once) and one calls :func:`answer_requests`
(the organizer accepting every pending request it sees, until told to stop).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

from skilltroc_core.booking import RegistrationState
from skilltroc_core.errors import SkilltrocError, StateConflictError
from skilltroc_core.service import AgendaItem, Skilltroc, kinds

__all__ = [
    "CAPACITY", "answer_requests", "check_outcome", "request_seats", "run_processes", "set_up",
]

CAPACITY = 5
ORGANIZER = "mem_000001"


def set_up(app: Skilltroc) -> str:
    """The organizer (``mem_000001``), a workshop and its 5-seat session; the session id."""
    org = app.signup("organizer@example.org", provider="google").member_id
    assert org == ORGANIZER
    workshop = app.create_workshop(org, title="Race", description="Five seats only",
                                   domain="racing", cost=1, capacity=CAPACITY)
    return app.plan_session(org, workshop, app.now() + timedelta(days=10))


def request_seats(app: Skilltroc, worker: int, members: int, session: str) -> None:
    """Sign up ``members`` members of this worker; each asks for one seat; every fourth
    cancels at once, racing the organizer's acceptance."""
    for i in range(members):
        member = app.signup(f"w{worker}-m{i}@example.org", provider="google").member_id
        request = app.request(member, session_id=session, seats=1)
        if i % 4 == 3:
            with contextlib.suppress(StateConflictError):  # the organizer accepted it first
                app.cancel_request(member, request)


def _pending(app: Skilltroc) -> list[str]:
    items = app.organizer_agenda(ORGANIZER)["to_answer"]
    return [item.registration.id for item in items if isinstance(item, AgendaItem)]


def answer_requests(app: Skilltroc, stop: Path) -> dict[str, int]:
    """Accept every pending request until ``stop`` exists and none is left.

    A refused accept must be a :class:`StateConflictError` (the session is full, or the
    member cancelled first); a request that cannot be accepted is then refused.
    """
    counts = {"accepted": 0, "accept_refused": 0, "refused": 0}
    while True:
        stopping = stop.exists()  # read before the agenda: nothing is requested after it
        pending = _pending(app)
        if not pending and stopping:
            return counts
        if not pending:
            time.sleep(0.005)
        for request in pending:
            try:
                app.accept(ORGANIZER, request)
                counts["accepted"] += 1
                continue
            except SkilltrocError as refused:
                if not isinstance(refused, StateConflictError):
                    raise
                counts["accept_refused"] += 1
            try:
                app.refuse(ORGANIZER, request)
                counts["refused"] += 1
            except StateConflictError:
                pass  # cancelled by its member meanwhile


def main_answer(app: Skilltroc, stop: str) -> None:
    """The organizer process: answer, then print the counts as one JSON line."""
    print(json.dumps(answer_requests(app, Path(stop))), flush=True)


def check_outcome(app: Skilltroc, session: str, workers: int, members: int,
                  counts: dict[str, int]) -> None:
    """Exactly 5 seats taken, never more; everything else refunded; invariants hold."""
    app.check_invariants(deep=True)
    taken = app.session(session)
    assert (taken.seats_taken, taken.capacity) == (CAPACITY, CAPACITY)
    agenda = app.organizer_agenda(ORGANIZER)
    assert agenda["to_answer"] == []
    registered = [item.registration for item in agenda["validated"]
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
                        for m in uow.find(kinds.MEMBERS, "email", f"w{worker}-m{i}@example.org")]
    finally:
        uow.rollback()
    assert len(participants) == workers * members
    for member in participants:
        expected = (9, 1) if member in holders else (10, 0)
        assert app.balance(member) == expected, (member, app.balance(member))


def run_processes(worker_module: str, target: str, session: str, stop: Path,
                  *, root: Path, workers: int = 8, members: int = 12) -> dict[str, int]:
    """Start the organizer and ``workers`` member processes of ``worker_module`` (``organize``
    and ``book`` commands) against ``target``; wait for all; the organizer's counts."""
    organizer = subprocess.Popen(
        [sys.executable, "-m", worker_module, "organize", target, str(stop)],
        cwd=root, stdout=subprocess.PIPE, text=True,
    )
    booking = [
        subprocess.Popen(
            [sys.executable, "-m", worker_module, "book", target, str(w), str(members),
             session],
            cwd=root,
        )
        for w in range(workers)
    ]
    try:
        assert [w.wait(timeout=300) for w in booking] == [0] * workers
    finally:
        stop.touch()
    try:
        out, _ = organizer.communicate(timeout=300)
    finally:
        if organizer.poll() is None:
            organizer.kill()
    assert organizer.returncode == 0
    counts: dict[str, int] = json.loads(out)
    assert counts["accept_refused"] > 0  # the race did happen
    return counts
