"""Refused booking commands: each raises a SkilltrocError subclass with a stable ``code``
and the ``rule`` it enforces, and leaves the whole store as it was (entities, indexes,
ledger, outbox, timers, id sequences).

One board holds every situation the cases need: an active workshop with a held session,
an ended one awaiting its organizer, a planned one with pending, registered, refused and
future requests and a waitlist entry, and a deleted workshop with its cancelled session.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
import pytest

from skilltroc_core.booking import RegistrationState, SessionState, WorkshopState
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.testing import state_of

from .booking_support import (
    at,
    book,
    digest,
    finish,
    member_with,
    refused,
    waitlist,
    workshop,
)
from .members_support import World, make_world, notices

R = RegistrationState


@attrs.define
class Board:
    world: World
    org: str
    ann: str  # registered in ``planned`` and in ``ended``
    bob: str  # pending in ``planned``
    cat: str  # waitlisted on ``ws``
    dan: str  # refused in ``planned``; a pending future request on ``ws``
    eve: str  # paid in ``held``; free of any request on ``ws`` otherwise
    ws: str
    gone: str  # a deleted workshop
    held: str
    ended: str
    planned: str
    cancelled: str  # ``gone``'s session
    r_paid: str
    r_ended: str
    r_pending: str
    r_registered: str
    r_waitlisted: str
    r_refused: str
    r_future: str


def _board() -> Board:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, cat, dan, eve = (member_with(world, n, 20) for n in ("ann", "bob", "cat",
                                                                   "dan", "eve"))
    ws = workshop(s, org, cost=2, capacity=4)
    gone = workshop(s, org, cost=1, title="Gone")
    held = s.plan_session(org, ws, at(1))
    r_paid = book(s, org, eve, held)
    ended = s.plan_session(org, ws, at(2))
    r_ended = book(s, org, ann, ended)
    world.clock.set(at(1, 12))
    s.confirm_held(org, held)
    world.clock.set(at(2, 12))
    planned = s.plan_session(org, ws, at(10))
    r_pending = s.request(bob, session_id=planned, seats=1)
    r_registered = book(s, org, ann, planned, seats=2)
    r_waitlisted = waitlist(s, org, cat, ws, seats=1)
    r_refused = s.request(dan, session_id=planned, seats=1)
    s.refuse(org, r_refused)
    r_future = s.request(dan, workshop_id=ws, seats=1)
    cancelled = s.plan_session(org, gone, at(9))
    s.delete_workshop(org, gone)
    notices(s)
    assert s.session(ended).state is SessionState.AWAITING_CONFIRMATION
    assert s.workshop(gone).state is WorkshopState.DELETED
    return Board(world=world, org=org, ann=ann, bob=bob, cat=cat, dan=dan, eve=eve, ws=ws,
                 gone=gone, held=held, ended=ended, planned=planned, cancelled=cancelled,
                 r_paid=r_paid, r_ended=r_ended, r_pending=r_pending,
                 r_registered=r_registered, r_waitlisted=r_waitlisted, r_refused=r_refused,
                 r_future=r_future)


Call = Callable[[Board], object]
NAIVE = datetime(2027, 3, 20, 10)  # noqa: DTZ001 - deliberately without a time zone


def _new_workshop(**changes: object) -> Call:
    fields: dict[str, object] = {
        "title": "Knots", "description": "Sailing knots", "domain": "sailing", "cost": 2,
        "capacity": 4, "duration": timedelta(hours=1), "mode": "online", "locality": None,
    }
    fields.update(changes)
    return lambda b: b.world.service.create_workshop(b.org, **fields)  # type: ignore[arg-type]


def _seats(seats: object, *, future: bool = False) -> Call:
    def call(b: Board) -> object:
        target = {"workshop_id": b.ws} if future else {"session_id": b.planned}
        return b.world.service.request(b.eve, seats=seats, **target)  # type: ignore[arg-type]

    return call


def _scores(**changes: object) -> Call:
    given: dict[str, object] = {"satisfaction": 5, "conformity": 5, "teaching": 5,
                                "duration": 5, "recommend": True}
    given.update(changes)
    return lambda b: b.world.service.evaluate(b.eve, b.r_paid, **given)  # type: ignore[arg-type]


def _evaluate_as(member: Callable[[Board], str], registration: Callable[[Board], str]) -> Call:
    return lambda b: b.world.service.evaluate(
        member(b), registration(b), satisfaction=5, conformity=5, teaching=5, duration=5,
        recommend=False)


CASES: list[tuple[str, Call, str, str | None]] = [
    # Sessions in the past (BOOK-6: the start is later than now, when planned or moved).
    ("plan_in_the_past",
     lambda b: b.world.service.plan_session(b.org, b.ws, at(2, 11)), "invalid_input", "BOOK-6"),
    ("plan_at_now",
     lambda b: b.world.service.plan_session(b.org, b.ws, b.world.clock.now()),
     "invalid_input", "BOOK-6"),
    ("move_to_the_past",
     lambda b: b.world.service.move_session(b.org, b.planned, at(1)), "invalid_input", "BOOK-8"),
    ("move_to_now",
     lambda b: b.world.service.move_session(b.org, b.planned, b.world.clock.now()),
     "invalid_input", "BOOK-8"),
    # Naive datetimes: a platform requirement no rule numbers (errors.py: rule None).
    ("plan_naive", lambda b: b.world.service.plan_session(b.org, b.ws, NAIVE),
     "naive_datetime", None),
    ("move_naive", lambda b: b.world.service.move_session(b.org, b.planned, NAIVE),
     "naive_datetime", None),
    ("plan_with_a_string",
     lambda b: b.world.service.plan_session(b.org, b.ws, "2027-03-20T10:00+01:00"),  # type: ignore[arg-type]
     "naive_datetime", None),
    # Seats (BOOK-12): 1..capacity for a session, 1..10 for a future session, whole.
    ("seats_zero", _seats(0), "invalid_input", "BOOK-12"),
    ("seats_negative", _seats(-1), "invalid_input", "BOOK-12"),
    ("seats_above_capacity", _seats(5), "invalid_input", "BOOK-12"),
    ("seats_float", _seats(2.0), "invalid_input", "BOOK-12"),
    ("seats_text", _seats("2"), "invalid_input", "BOOK-12"),
    ("seats_bool", _seats(True), "invalid_input", "BOOK-12"),
    ("seats_none", _seats(None), "invalid_input", "BOOK-12"),
    ("future_seats_zero", _seats(0, future=True), "invalid_input", "BOOK-12"),
    ("future_seats_eleven", _seats(11, future=True), "invalid_input", "BOOK-12"),
    ("request_session_and_workshop",
     lambda b: b.world.service.request(b.eve, session_id=b.planned, workshop_id=b.ws, seats=1),
     "invalid_input", "BOOK-13"),
    ("request_neither", lambda b: b.world.service.request(b.eve, seats=1),
     "invalid_input", "BOOK-13"),
    # Workshops (BOOK-1): cost >= 0, capacity >= 1, duration > 0, a face-to-face locality.
    ("cost_negative", _new_workshop(cost=-1), "invalid_amount", "BOOK-1"),
    ("cost_float", _new_workshop(cost=1.5), "invalid_amount", "BOOK-1"),
    ("cost_bool", _new_workshop(cost=True), "invalid_amount", "BOOK-1"),
    ("capacity_zero", _new_workshop(capacity=0), "invalid_amount", "BOOK-1"),
    ("capacity_negative", _new_workshop(capacity=-3), "invalid_amount", "BOOK-1"),
    ("duration_zero", _new_workshop(duration=timedelta(0)), "invalid_input", "BOOK-1"),
    ("duration_negative", _new_workshop(duration=timedelta(minutes=-30)), "invalid_input",
     "BOOK-1"),
    ("duration_not_whole_minutes", _new_workshop(duration=timedelta(seconds=90)),
     "invalid_input", "BOOK-1"),
    ("duration_as_int", _new_workshop(duration=60), "invalid_input", "BOOK-1"),
    ("face_to_face_without_locality", _new_workshop(mode="face_to_face"), "invalid_input",
     "BOOK-1"),
    ("unknown_mode", _new_workshop(mode="hybrid"), "invalid_input", "BOOK-1"),
    ("empty_title", _new_workshop(title="  "), "invalid_input", "BOOK-1"),
    ("session_capacity_zero",
     lambda b: b.world.service.plan_session(b.org, b.ws, at(12), capacity=0),
     "invalid_amount", "BOOK-6"),
    ("set_capacity_zero", lambda b: b.world.service.set_capacity(b.org, b.planned, 0),
     "invalid_amount", "BOOK-7"),
    ("set_capacity_below_taken", lambda b: b.world.service.set_capacity(b.org, b.planned, 1),
     "state_conflict", "BOOK-7"),
    # Scores (BOOK-41): whole numbers 0..10, a yes/no recommendation.
    ("score_negative", _scores(satisfaction=-1), "invalid_input", "BOOK-41"),
    ("score_eleven", _scores(conformity=11), "invalid_input", "BOOK-41"),
    ("score_float", _scores(teaching=7.5), "invalid_input", "BOOK-41"),
    ("score_bool", _scores(duration=True), "invalid_input", "BOOK-41"),
    ("score_text", _scores(satisfaction="8"), "invalid_input", "BOOK-41"),
    ("score_none", _scores(teaching=None), "invalid_input", "BOOK-41"),
    ("recommend_text", _scores(recommend="yes"), "invalid_input", "BOOK-41"),
    ("recommend_int", _scores(recommend=1), "invalid_input", "BOOK-41"),
    # Commands on a deleted workshop or its cancelled session.
    ("plan_on_deleted", lambda b: b.world.service.plan_session(b.org, b.gone, at(12)),
     "state_conflict", "BOOK-5"),  # the refusal's rule: deleted workshops are gone
    ("request_deleted_workshop",
     lambda b: b.world.service.request(b.eve, workshop_id=b.gone, seats=1),
     "state_conflict", "BOOK-5"),
    ("request_deleted_session",
     lambda b: b.world.service.request(b.eve, session_id=b.cancelled, seats=1),
     "state_conflict", "BOOK-5"),
    ("delete_twice", lambda b: b.world.service.delete_workshop(b.org, b.gone),
     "state_conflict", "BOOK-5"),
    ("move_deleted_session",
     lambda b: b.world.service.move_session(b.org, b.cancelled, at(12)),
     "state_conflict", "BOOK-8"),
    ("capacity_deleted_session",
     lambda b: b.world.service.set_capacity(b.org, b.cancelled, 6), "state_conflict", "BOOK-7"),
    ("cancel_deleted_session", lambda b: b.world.service.cancel_session(b.org, b.cancelled),
     "state_conflict", "BOOK-9"),
    # Commands on a request that already ended (refused).
    ("cancel_ended", lambda b: b.world.service.cancel_request(b.dan, b.r_refused),
     "state_conflict", "BOOK-17"),
    ("refuse_ended", lambda b: b.world.service.refuse(b.org, b.r_refused),
     "state_conflict", "BOOK-14"),
    ("accept_ended", lambda b: b.world.service.accept(b.org, b.r_refused),
     "state_conflict", "BOOK-14"),
    ("accept_future_ended", lambda b: b.world.service.accept_future(b.org, b.r_refused),
     "state_conflict", "BOOK-14"),
    ("unregister_ended", lambda b: b.world.service.unregister(b.dan, b.r_refused),
     "state_conflict", "BOOK-19"),
    ("cancel_transaction_ended",
     lambda b: b.world.service.cancel_transaction(b.org, b.r_refused),
     "state_conflict", "BOOK-20"),
    ("leave_ended", lambda b: b.world.service.leave_waitlist(b.dan, b.r_refused),
     "state_conflict", "BOOK-25"),
    ("join_ended", lambda b: b.world.service.join(b.dan, b.r_refused, b.planned),
     "state_conflict", "BOOK-23"),
    ("attend_ended", lambda b: b.world.service.confirm_attendance(b.dan, b.r_refused),
     "state_conflict", "BOOK-40"),
    ("absent_ended", lambda b: b.world.service.declare_absent(b.dan, b.r_refused),
     "state_conflict", "BOOK-33"),
    ("evaluate_ended", _evaluate_as(lambda b: b.dan, lambda b: b.r_refused),
     "state_conflict", "BOOK-40"),
    ("contact_never_accepted", lambda b: b.world.service.contact_email(b.dan, b.r_refused),
     "not_allowed", "BOOK-15"),
    # Organizer-only commands by a participant.
    ("plan_by_participant", lambda b: b.world.service.plan_session(b.ann, b.ws, at(12)),
     "not_allowed", "BOOK-6"),
    ("move_by_participant", lambda b: b.world.service.move_session(b.ann, b.planned, at(12)),
     "not_allowed", "BOOK-8"),
    ("capacity_by_participant", lambda b: b.world.service.set_capacity(b.ann, b.planned, 6),
     "not_allowed", "BOOK-7"),
    ("cancel_session_by_participant",
     lambda b: b.world.service.cancel_session(b.ann, b.planned), "not_allowed", "BOOK-9"),
    ("delete_by_participant", lambda b: b.world.service.delete_workshop(b.ann, b.ws),
     "not_allowed", "BOOK-5"),
    ("refuse_by_participant", lambda b: b.world.service.refuse(b.ann, b.r_pending),
     "not_allowed", "BOOK-14"),
    ("refuse_by_the_requester", lambda b: b.world.service.refuse(b.bob, b.r_pending),
     "not_allowed", "BOOK-14"),
    ("accept_by_participant", lambda b: b.world.service.accept(b.ann, b.r_pending),
     "not_allowed", "BOOK-14"),
    ("accept_future_by_participant",
     lambda b: b.world.service.accept_future(b.ann, b.r_future), "not_allowed", "BOOK-14"),
    ("cancel_transaction_by_participant",
     lambda b: b.world.service.cancel_transaction(b.cat, b.r_waitlisted),
     "not_allowed", "BOOK-20"),
    ("held_by_participant", lambda b: b.world.service.confirm_held(b.ann, b.ended),
     "not_allowed", "BOOK-30"),
    ("not_held_by_participant", lambda b: b.world.service.confirm_not_held(b.ann, b.ended),
     "not_allowed", "BOOK-31"),
    # Participant-only commands by the organizer, or by another member.
    ("cancel_request_by_organizer",
     lambda b: b.world.service.cancel_request(b.org, b.r_pending), "not_allowed", "BOOK-17"),
    ("cancel_request_by_another",
     lambda b: b.world.service.cancel_request(b.ann, b.r_pending), "not_allowed", "BOOK-17"),
    ("unregister_by_organizer",
     lambda b: b.world.service.unregister(b.org, b.r_registered), "not_allowed", "BOOK-19"),
    ("unregister_by_another",
     lambda b: b.world.service.unregister(b.bob, b.r_registered), "not_allowed", "BOOK-19"),
    ("leave_by_organizer", lambda b: b.world.service.leave_waitlist(b.org, b.r_waitlisted),
     "not_allowed", "BOOK-25"),
    ("join_by_organizer", lambda b: b.world.service.join(b.org, b.r_waitlisted, b.planned),
     "not_allowed", "BOOK-23"),
    ("attend_by_organizer", lambda b: b.world.service.confirm_attendance(b.org, b.r_paid),
     "not_allowed", "BOOK-40"),
    ("absent_by_organizer", lambda b: b.world.service.declare_absent(b.org, b.r_paid),
     "not_allowed", "BOOK-33"),
    ("evaluate_by_organizer", _evaluate_as(lambda b: b.org, lambda b: b.r_paid),
     "not_allowed", "BOOK-40"),
    ("evaluate_by_another", _evaluate_as(lambda b: b.ann, lambda b: b.r_paid),
     "not_allowed", "BOOK-40"),
    ("contact_by_a_third_party",
     lambda b: b.world.service.contact_email(b.cat, b.r_registered), "not_allowed", "BOOK-15"),
    # Organizers may not ask for their own workshop; unknown ids name nothing.
    ("request_own_workshop",
     lambda b: b.world.service.request(b.org, session_id=b.planned, seats=1),
     "not_allowed", "BOOK-3"),
    ("unknown_session", lambda b: b.world.service.request(b.eve, session_id="ses_x", seats=1),
     "not_found", "BOOK-2"),  # the rule by which sessions exist, not the command's
    ("unknown_workshop", lambda b: b.world.service.plan_session(b.org, "ws_x", at(12)),
     "not_found", "BOOK-1"),
    ("unknown_request", lambda b: b.world.service.accept(b.org, "req_x"),
     "not_found", "BOOK-13"),
    ("request_id_not_text", lambda b: b.world.service.refuse(b.org, 42),  # type: ignore[arg-type]
     "not_found", "BOOK-13"),
]


@pytest.mark.rule("BOOK-1", "BOOK-3", "BOOK-5", "BOOK-6", "BOOK-7", "BOOK-8", "BOOK-9",
                  "BOOK-12", "BOOK-13", "BOOK-14", "BOOK-15", "BOOK-17", "BOOK-19",
                  "BOOK-20", "BOOK-23", "BOOK-25", "BOOK-30", "BOOK-31", "BOOK-33",
                  "BOOK-40", "BOOK-41")
@pytest.mark.parametrize(("call", "code", "rule"),
                         [pytest.param(c, code, rule, id=name) for name, c, code, rule in CASES])
def test_a_refused_booking_command_changes_nothing(call: Call, code: str, rule: str | None
                                                   ) -> None:
    board = _board()
    s = board.world.service
    balances = {m: s.balance(m) for m in (board.org, board.ann, board.bob, board.dan)}
    seats = s.seats_left(board.planned)
    error = refused(board.world, lambda: call(board), code, rule)
    assert error.message and str(error).endswith(f"({code}{f' [{rule}]' if rule else ''})")
    assert {m: s.balance(m) for m in balances} == balances
    assert s.seats_left(board.planned) == seats == 2
    assert [s.registration(r).state for r in (
        board.r_pending, board.r_registered, board.r_waitlisted, board.r_refused,
        board.r_future, board.r_paid, board.r_ended)] == [
        R.PENDING, R.REGISTERED, R.WAITLISTED, R.REFUSED, R.PENDING, R.PAID, R.REGISTERED]
    assert digest(s) == []
    finish(board.world)


@pytest.mark.rule("BOOK-12", "BOOK-41")
def test_the_cases_have_unique_names_and_stable_codes() -> None:
    names = [name for name, _, _, _ in CASES]
    assert len(names) == len(set(names))
    assert {code for _, _, code, _ in CASES} == {
        "invalid_input", "invalid_amount", "naive_datetime", "state_conflict", "not_allowed",
        "not_found"}


@pytest.mark.rule("BOOK-14", "BOOK-16", "BOOK-30")
def test_a_refusal_while_deadlines_are_due_leaves_them_due() -> None:
    board = _board()
    world, s = board.world, board.world.service
    world.clock.set(at(10))  # ``planned`` starts: bob's request is due, as is ``ended``'s lapse
    before = state_of(world.store)
    refused(world, lambda: s.refuse(board.ann, board.r_pending), "not_allowed", "BOOK-14")
    assert state_of(world.store) == before  # the deadlines ran inside the refusal, rolled back
    assert before["timers"]  # and they were there to run
    assert s.run_due() == 3
    assert s.registration(board.r_pending).state is R.EXPIRED
    assert s.registration(board.r_future).state is R.EXPIRED  # 7 days after it was made
    assert s.session(board.ended).state is SessionState.LAPSED
    assert s.registration(board.r_ended).state is R.REFUNDED_ORGANIZER_SILENT
    assert s.balance(board.bob) == (20, 0)
    assert s.balance(board.ann) == (16, 4)
    assert digest(s) == [("SessionLapsed", "BOOK-32", (board.ann, board.org)),
                         ("RequestExpired", "BOOK-16", (board.dan,)),
                         ("RequestExpired", "BOOK-16", (board.bob,))]
    finish(world)


@pytest.mark.rule("BOOK-19", "BOOK-20", "BOOK-9")
def test_a_registration_ended_with_its_cancelled_session_cannot_be_unregistered() -> None:
    """The registration keeps its session once the session is cancelled: unregistering or
    cancelling it is refused for the registration's own final state, not the session's."""
    world = make_world()
    app = world.service
    org, ann = member_with(world, "org"), member_with(world, "ann")
    session = app.plan_session(org, workshop(app, org), world.clock.now() + timedelta(days=2))
    registration = book(app, org, ann, session)
    app.cancel_session(org, session)
    before = state_of(world.store)
    calls: list[tuple[Callable[[], None], str]] = [
        (lambda: app.unregister(ann, registration), "unregister"),
        (lambda: app.cancel_transaction(org, registration), "cancel_transaction")]
    for call, trigger in calls:
        with pytest.raises(SkilltrocError) as ended:
            call()
        assert ended.value.reason == "transition_from_final_state"
        assert ended.value.facts["trigger"] == trigger
    assert state_of(world.store) == before
    assert app.balance(ann) == (10, 0)
