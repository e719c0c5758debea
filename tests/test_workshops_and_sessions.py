"""Workshops and their sessions: BOOK-1, BOOK-2, BOOK-5..10, PROF-2 and the organizer side of
ACC-7 (a purged organizer's workshops are deleted with BOOK-5 refunds).

Each test checks stars (available/held, statement), seats, states and notices (event, the
rule the NOTIFY table gives it, recipients), and ends with the deep ledger check.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from skilltroc_core.booking import Mode, RegistrationState, SessionState, WorkshopState
from skilltroc_core.ledger import TransferKind

from .booking_support import (
    at,
    book,
    digest,
    finish,
    hold_end_lines,
    hold_lines,
    hold_session,
    member_with,
    refused,
    waitlist,
    workshop,
)
from .members_support import CHEAP_POLICY, PARIS, World, make_world, notices

R = RegistrationState


# --- BOOK-1: what a workshop is -----------------------------------------------------------


@pytest.mark.rule("BOOK-1", "SOCIAL-3")
def test_a_face_to_face_workshop_keeps_every_field_and_followers_hear_of_it() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    fan = member_with(world, "fan")
    s.follow(fan, org)
    ws = s.create_workshop(
        org, title="Pottery", description="Wheel basics", domain="crafts", cost=5,
        capacity=6, duration=timedelta(minutes=90), mode="face_to_face", locality="Lyon",
        media=("photo:wheel.jpg", "video:demo.mp4"),
    )
    made = s.workshop(ws)
    assert (made.organizer, made.title, made.description, made.domain) == (
        org, "Pottery", "Wheel basics", "crafts")
    assert (made.cost, made.capacity, made.duration) == (5, 6, timedelta(minutes=90))
    assert (made.mode, made.locality, made.media) == (
        Mode.FACE_TO_FACE, "Lyon", ("photo:wheel.jpg", "video:demo.mp4"))
    assert made.state is WorkshopState.ACTIVE
    assert digest(s) == [("WorkshopProposed", "SOCIAL-3", (fan,))]
    online = s.workshop(workshop(s, org, mode="online"))
    assert (online.mode, online.locality) == (Mode.ONLINE, None)  # online: any location
    # A face-to-face workshop needs its locality; nothing is created without it.
    refused(world, lambda: workshop(s, org, mode="face_to_face"), "invalid_input", "BOOK-1")
    refused(world, lambda: workshop(s, org, mode="face_to_face", locality="  "),
            "invalid_input", "BOOK-1")
    assert s.balance(org) == (10, 0)
    assert [n.event for n in notices(s)] == ["WorkshopProposed"]
    finish(world)


@pytest.mark.rule("BOOK-1", "BOOK-11", "BOOK-30")
def test_a_free_workshop_takes_requests_without_any_hold() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    # The smallest allowed values: cost 0, capacity 1, a one-minute duration.
    ws = workshop(s, org, cost=0, capacity=1, duration=timedelta(minutes=1))
    session = s.plan_session(org, ws, at(3))
    lines_before = s.statement(ann).total
    registration = s.request(ann, session_id=session, seats=1)
    assert s.registration(registration).amount == 0
    assert s.balance(ann) == (10, 0)
    assert hold_lines(s, ann, registration) == []
    assert s.statement(ann).total == lines_before  # no hold line at all
    s.accept(org, registration)
    assert s.seats_left(session) == 0
    world.clock.set(at(3, 10, 1))
    s.confirm_held(org, session)
    assert s.registration(registration).state is R.PAID
    assert s.balance(org) == (10, 0)  # nothing to earn
    assert s.statement(ann).total == lines_before
    assert s.statement(org).total == 1  # the signup bonus only
    assert digest(s) == [
        ("RequestReceived", "BOOK-11", (org,)),
        ("RequestAccepted", "BOOK-14", (ann,)),
        ("SessionConfirmationRequested", "BOOK-30", (org,)),
        ("SessionHeld", "BOOK-30", (ann,)),
    ]
    finish(world)


# --- BOOK-2 / BOOK-6: sessions ------------------------------------------------------------


@pytest.mark.rule("BOOK-2", "BOOK-6")
def test_a_workshop_has_zero_or_several_sessions_with_default_capacity_and_end() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ws = workshop(s, org, capacity=6, duration=timedelta(hours=3))
    assert s.sessions_of(ws) == []  # created with no session (BOOK-2)
    first = s.plan_session(org, ws, at(3, 14))
    second = s.plan_session(org, ws, at(30, 9, 30), capacity=2)
    assert [x.id for x in s.sessions_of(ws)] == [first, second]
    one, two = s.session(first), s.session(second)
    assert (one.start, one.end, one.capacity, s.seats_left(first)) == (
        at(3, 14), at(3, 17), 6, 6)  # capacity defaults to the workshop's maximum
    assert (two.start, two.end, two.capacity, s.seats_left(second)) == (
        at(30, 9, 30), at(30, 12, 30), 2, 2)
    assert one.state is two.state is SessionState.PLANNED
    assert one.start.tzinfo is UTC  # stored in UTC
    # The end is start + duration in real time, even across the spring-forward night:
    # 01:00 (+01:00) + 3 h = 05:00 (+02:00).
    night = s.session(s.plan_session(org, ws, datetime(2027, 3, 28, 1, tzinfo=PARIS)))
    assert night.end - night.start == timedelta(hours=3)
    assert night.end == datetime(2027, 3, 28, 5, tzinfo=PARIS)
    # The start must be later than now: exactly now is refused, a microsecond later is not.
    now = world.clock.now()
    refused(world, lambda: s.plan_session(org, ws, now), "invalid_input", "BOOK-6")
    soon = s.plan_session(org, ws, now + timedelta(microseconds=1))
    assert s.session(soon).start == now + timedelta(microseconds=1)
    assert len(s.sessions_of(ws)) == 4
    assert digest(s) == []  # nobody waits, so planning tells nobody
    assert s.balance(org) == (10, 0)
    finish(world)


# --- BOOK-7: capacity ---------------------------------------------------------------------


@pytest.mark.rule("BOOK-7", "BOOK-8", "BOOK-14")
def test_capacity_never_drops_below_taken_seats_voids_nothing_and_freezes_at_start() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 20)
    bob = member_with(world, "bob")
    ws = workshop(s, org, cost=2, capacity=4)
    ses = s.plan_session(org, ws, at(10))
    taken = book(s, org, ann, ses, seats=3)
    pending = s.request(bob, session_id=ses, seats=2)
    notices(s)
    assert s.seats_left(ses) == 1
    refused(world, lambda: s.set_capacity(org, ses, 2), "state_conflict", "BOOK-7")
    s.set_capacity(org, ses, 3)  # exactly the seats taken
    assert (s.session(ses).capacity, s.seats_left(ses)) == (3, 0)
    # A capacity change alone voids nothing (BOOK-8): the pending request still holds.
    assert s.registration(pending).state is R.PENDING
    assert s.balance(bob) == (6, 4)
    assert s.registration(taken).state is R.REGISTERED
    assert s.balance(ann) == (14, 6)
    refused(world, lambda: s.accept(org, pending), "state_conflict", "BOOK-14")
    s.set_capacity(org, ses, 6)
    assert s.seats_left(ses) == 3
    s.accept(org, pending)
    assert s.seats_left(ses) == 1
    assert digest(s) == [("RequestAccepted", "BOOK-14", (bob,))]  # capacity: no notice
    world.clock.set(at(10))  # the start: nothing can change any more
    refused(world, lambda: s.set_capacity(org, ses, 8), "state_conflict", "BOOK-7")
    assert s.session(ses).capacity == 6
    assert hold_end_lines(s, bob, pending) == []
    finish(world)


# --- BOOK-8: moving -----------------------------------------------------------------------


@pytest.mark.rule("BOOK-8", "BOOK-7", "REFUND-1", "BOOK-30")
def test_moving_keeps_registered_members_and_voids_pending_requests_with_refund() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    bob = member_with(world, "bob")
    cat = member_with(world, "cat")
    ws = workshop(s, org, cost=3, capacity=4)
    ses = s.plan_session(org, ws, at(10))
    registered = book(s, org, ann, ses, seats=2)
    pending = s.request(bob, session_id=ses, seats=1)
    waiting = waitlist(s, org, cat, ws)
    notices(s)
    s.move_session(org, ses, at(12, 15))
    moved = s.session(ses)
    assert (moved.start, moved.end, moved.state) == (at(12, 15), at(12, 17), SessionState.PLANNED)
    assert (moved.capacity, s.seats_left(ses)) == (4, 2)
    assert s.registration(registered).state is R.REGISTERED
    assert s.balance(ann) == (4, 6)
    assert s.registration(pending).state is R.VOIDED_BY_MOVE
    assert s.balance(bob) == (10, 0)
    [end] = hold_end_lines(s, bob, pending)
    assert (end.kind, end.amount, end.held_change) == (TransferKind.HOLD_VOIDED, 3, -3)
    assert s.registration(waiting).state is R.WAITLISTED  # not about this session
    assert s.balance(cat) == (7, 3)
    told = notices(s)
    assert [(n.event, n.rule, n.recipients) for n in told] == [
        ("RequestVoidedBySessionMove", "BOOK-8", (bob,)),
        ("SessionMoved", "BOOK-8", (ann,)),
    ]
    assert all(n.fact("start") == at(12, 15).astimezone(UTC).isoformat() for n in told)
    # The voided member is invited back: a new request for the moved session is fine.
    again = s.request(bob, session_id=ses, seats=1)
    assert s.balance(bob) == (7, 3)
    assert digest(s) == [("RequestReceived", "BOOK-11", (org,))]
    # The end moved with the start: nothing at the old end, the question at the new one.
    world.clock.set(at(10, 12))
    assert s.run_due() == 0
    assert s.session(ses).state is SessionState.PLANNED
    world.clock.set(at(12, 15))
    refused(world, lambda: s.move_session(org, ses, at(14)), "state_conflict", "BOOK-8")
    assert s.registration(again).state is R.EXPIRED  # unanswered at the start (BOOK-16)
    world.clock.set(at(12, 17))
    s.run_due()
    assert s.session(ses).state is SessionState.AWAITING_CONFIRMATION
    assert digest(s) == [
        ("RequestExpired", "BOOK-16", (bob,)),
        ("SessionConfirmationRequested", "BOOK-30", (org,)),
    ]
    finish(world)


# --- BOOK-9: cancelling -------------------------------------------------------------------


@pytest.mark.rule("BOOK-9", "REFUND-1", "REFUND-2")
def test_cancelling_before_the_start_refunds_registered_and_pending_members() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, cat, dan = (member_with(world, n) for n in ("ann", "bob", "cat", "dan"))
    ws = workshop(s, org, cost=3, capacity=4)
    ses = s.plan_session(org, ws, at(10))
    other = s.plan_session(org, ws, at(11))
    registered = book(s, org, ann, ses, seats=2)
    pending = s.request(bob, session_id=ses, seats=1)
    waiting = waitlist(s, org, cat, ws)
    elsewhere = book(s, org, dan, other, seats=1)
    notices(s)
    s.cancel_session(org, ses)
    assert s.session(ses).state is SessionState.CANCELLED
    assert (s.registration(registered).state, s.registration(pending).state) == (
        R.SESSION_CANCELLED, R.SESSION_CANCELLED)
    assert s.balance(ann) == s.balance(bob) == (10, 0)
    assert len(hold_end_lines(s, ann, registered)) == len(hold_end_lines(s, bob, pending)) == 1
    assert s.registration(waiting).state is R.WAITLISTED
    assert s.registration(elsewhere).state is R.REGISTERED
    assert s.balance(cat) == s.balance(dan) == (7, 3)
    assert s.balance(org) == (10, 0)
    [notice] = notices(s)
    assert (notice.event, notice.rule, notice.recipients) == ("SessionCancelled", "BOOK-9",
                                                              (ann, bob))
    assert notice.facts_map == {"session": ses, "workshop": ws,
                                "start": at(10).astimezone(UTC).isoformat()}  # for the mail
    refused(world, lambda: s.cancel_session(org, ses), "state_conflict", "BOOK-9")
    world.clock.set(at(10, 13))  # a cancelled session is never asked about
    assert s.run_due() == 0
    assert digest(s) == []
    world.clock.set(at(11))  # once started it cannot be cancelled
    refused(world, lambda: s.cancel_session(org, other), "state_conflict", "BOOK-9")
    assert s.registration(elsewhere).state is R.REGISTERED
    assert s.balance(dan) == (7, 3)
    finish(world)


# --- BOOK-10: planning tells the waitlist -------------------------------------------------


@pytest.mark.rule("BOOK-10", "BOOK-22", "BOOK-23")
def test_planning_tells_waitlisted_members_again_for_every_later_session() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, cat = (member_with(world, n) for n in ("ann", "bob", "cat"))
    ws = workshop(s, org, cost=1, capacity=3)
    elsewhere = workshop(s, org, cost=1, capacity=3, title="Other")
    r_ann = waitlist(s, org, ann, ws, seats=2)
    r_bob = waitlist(s, org, bob, ws, seats=1)
    r_cat = waitlist(s, org, cat, elsewhere, seats=1)
    notices(s)
    first = s.plan_session(org, ws, at(5), capacity=1)
    told = notices(s)
    assert [(n.event, n.rule, n.recipients) for n in told] == [
        ("SessionPlanned", "BOOK-10", (ann, bob))]
    assert told[0].fact("session") == first
    refused(world, lambda: s.join(ann, r_ann, first), "state_conflict", "BOOK-23")
    s.join(bob, r_bob, first)
    assert s.registration(r_bob).state is R.REGISTERED
    assert s.seats_left(first) == 0
    second = s.plan_session(org, ws, at(8))
    assert digest(s) == [("SessionJoined", "BOOK-23", (bob, org)),
                         ("SessionPlanned", "BOOK-10", (ann,))]  # told again; bob is in
    s.join(ann, r_ann, second)
    assert s.seats_left(second) == 1
    s.plan_session(org, ws, at(9))
    assert digest(s) == [("SessionJoined", "BOOK-23", (ann, org))]  # nobody waits any more
    assert s.registration(r_cat).state is R.WAITLISTED
    assert (s.balance(ann), s.balance(bob), s.balance(cat)) == ((8, 2), (9, 1), (9, 1))
    finish(world)


# --- BOOK-5: deleting a workshop ----------------------------------------------------------


@pytest.mark.rule("BOOK-5", "REFUND-1", "REFUND-2", "REFUND-3", "PROF-3", "BOOK-43")
def test_deleting_refunds_and_tells_pending_registered_and_waitlisted_members() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 30)
    bob, cat, dan, eve = (member_with(world, n) for n in ("bob", "cat", "dan", "eve"))
    ws = workshop(s, org, cost=2, capacity=4)
    past, [r_eve] = hold_session(world, org, ws, [eve])
    s.confirm_attendance(eve, r_eve)
    s.evaluate(eve, r_eve, satisfaction=8, conformity=6, teaching=9, duration=7,
               recommend=True)
    running = s.plan_session(org, ws, at(2))
    r_dan = book(s, org, dan, running)
    later = s.plan_session(org, ws, at(6))
    r_ann = book(s, org, ann, later, seats=2)
    r_bob = s.request(bob, session_id=later, seats=1)
    r_cat = waitlist(s, org, cat, ws)
    notices(s)
    world.clock.set(at(2, 11))  # ``running`` has started and not ended
    s.delete_workshop(org, ws)
    assert s.workshop(ws).state is WorkshopState.DELETED
    assert [s.registration(r).state for r in (r_ann, r_bob, r_cat)] == [
        R.WORKSHOP_DELETED] * 3
    assert (s.balance(ann), s.balance(bob), s.balance(cat)) == ((30, 0), (10, 0), (10, 0))
    assert all(len(hold_end_lines(s, m, r)) == 1
               for m, r in ((ann, r_ann), (bob, r_bob), (cat, r_cat)))
    # dan, registered in the session under way, is told too (he has a registration)
    assert digest(s) == [("WorkshopDeleted", "BOOK-5", (dan, ann, bob, cat))]
    assert [s.session(x).state for x in (past, running, later)] == [
        SessionState.HELD, SessionState.PLANNED, SessionState.CANCELLED]
    # The session already started keeps its own lifecycle: dan stays registered.
    assert s.registration(r_dan).state is R.REGISTERED
    assert s.balance(dan) == (8, 2)
    assert s.balance(org) == (12, 0)  # eve's 2 stars, earned before
    # Evaluations keep counting and stay visible; the profile no longer lists it (PROF-2).
    assert [e.id for e in s.workshop_evaluations(ws)] == [r_eve]
    stats = s.profile_stats(org)
    assert (stats.rating, stats.evaluations, stats.workshops) == (7.5, 1, ())
    refused(world, lambda: s.plan_session(org, ws, at(9)), "state_conflict", "BOOK-5")
    refused(world, lambda: s.request(bob, workshop_id=ws, seats=1), "state_conflict",
            "BOOK-5")
    refused(world, lambda: s.delete_workshop(org, ws), "state_conflict", "BOOK-5")
    world.clock.set(at(2, 12))
    s.confirm_held(org, running)
    assert s.registration(r_dan).state is R.PAID
    assert (s.balance(dan), s.balance(org)) == ((8, 0), (14, 0))
    assert digest(s) == [
        ("SessionConfirmationRequested", "BOOK-30", (org,)),
        ("SessionHeld", "BOOK-30", (dan,)),
    ]
    world.clock.set(at(6, 13))  # the cancelled session's end: nothing is due
    assert s.run_due() == 0
    finish(world)


# --- PROF-2: workshops on the profile -----------------------------------------------------


@pytest.mark.rule("PROF-2", "ACC-7")
def test_the_profile_lists_the_workshops_a_member_created() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    other = member_with(world, "other")
    ann = member_with(world, "ann")
    first = workshop(s, org, title="A")
    second = workshop(s, org, title="B")
    third = workshop(s, other, title="C")
    assert s.profile_stats(org).workshops == (first, second)
    assert s.profile_stats(other).workshops == (third,)
    assert s.profile_stats(ann).workshops == ()
    s.delete_workshop(org, first)
    assert s.profile_stats(org).workshops == (second,)
    assert digest(s) == []  # nobody had asked for anything: nobody to tell
    s.deactivate(other)  # ACC-7: hidden, profile and all, until reactivated
    digest(s)
    refused(world, lambda: s.profile_stats(other), "not_found", "ACC-1")
    s.reactivate(other)
    assert s.profile_stats(other).workshops == (third,)
    digest(s)
    assert s.balance(org) == (10, 0)
    finish(world)


# --- ACC-7: a purged organizer ------------------------------------------------------------


@pytest.mark.rule("ACC-7", "BOOK-5", "BOOK-32")
def test_purging_an_organizer_deletes_their_workshops_with_refunds() -> None:
    # A waitlist window longer than the retention period, so the entry is still live at
    # the purge (by default it always ends first: acceptance precedes deactivation).
    world = make_world(policy=attrs.evolve(CHEAP_POLICY, waitlist_window_days=30))
    s = world.service
    org = member_with(world, "org", 20)
    host = member_with(world, "host")
    ann, bob, cat, dan = (member_with(world, n) for n in ("ann", "bob", "cat", "dan"))
    ws = workshop(s, org, cost=2, capacity=4)
    later = s.plan_session(org, ws, at(20))
    running = s.plan_session(org, ws, at(16, 9))  # started, not ended at the purge
    r_ann = s.request(ann, session_id=later, seats=1)
    r_bob = book(s, org, bob, later, seats=2)
    r_cat = waitlist(s, org, cat, ws)
    r_dan = book(s, org, dan, running)
    theirs = s.plan_session(host, workshop(s, host, cost=3), at(25))
    r_org = s.request(org, session_id=theirs, seats=2)
    assert s.balance(org) == (14, 6)
    world.clock.set(at(1))
    purge_at = s.deactivate(org)
    assert purge_at == at(16)
    notices(s)
    world.clock.set(at(10))  # deactivated: everything waits untouched
    assert [s.registration(r).state for r in (r_ann, r_bob, r_cat, r_dan, r_org)] == [
        R.PENDING, R.REGISTERED, R.WAITLISTED, R.REGISTERED, R.PENDING]
    world.clock.set(purge_at)
    s.run_due()
    assert s.workshop(ws).state is WorkshopState.DELETED
    assert [s.registration(r).state for r in (r_ann, r_bob, r_cat)] == [
        R.WORKSHOP_DELETED] * 3
    assert s.registration(r_org).state is R.ACCOUNT_PURGED
    assert s.balance(ann) == s.balance(bob) == s.balance(cat) == (10, 0)
    assert s.balance(org) == (0, 0)  # refunded, then swept to issuance
    assert s.supply().returned_by_kind == {"account_purged": 20}
    assert s.balance(host) == (10, 0)
    assert (s.session(later).state, s.session(running).state) == (
        SessionState.CANCELLED, SessionState.PLANNED)
    assert s.registration(r_dan).state is R.REGISTERED
    assert s.balance(dan) == (8, 2)
    assert digest(s) == [
        ("WorkshopDeleted", "BOOK-5", (ann, bob, cat, dan)),
        ("AccountPurged", "ACC-7", (org,)),
    ]
    # The started session runs its course; nobody can confirm it, so it lapses (BOOK-32).
    world.clock.set(at(23, 11))
    s.run_due()
    assert s.session(running).state is SessionState.LAPSED
    assert s.registration(r_dan).state is R.REFUNDED_ORGANIZER_SILENT
    assert s.balance(dan) == (10, 0)
    assert digest(s) == [("SessionLapsed", "BOOK-32", (dan,))]  # the purged org: nothing
    finish(world)


# --- BOOK-1: the limits of what a workshop says ----------------------------------------------


def _create(world: World, organizer: str, **changes: Any) -> str:
    fields: dict[str, Any] = {"title": "Knots", "description": "Sailing knots",
                              "domain": "sailing", "cost": 1, "capacity": 2, **changes}
    return world.service.create_workshop(organizer, **fields)


@pytest.mark.rule("BOOK-1", "BOOK-6")
def test_a_workshop_lasts_two_hours_unless_it_says_otherwise() -> None:
    world = make_world()
    org = member_with(world, "org")
    ws = _create(world, org)
    assert world.service.workshop(ws).duration == timedelta(hours=2)
    session = world.service.plan_session(org, ws, at(3))
    assert world.service.session(session).end == at(3, 12)


@pytest.mark.rule("BOOK-1")
@pytest.mark.parametrize(("field", "limit", "extra"), [
    ("title", 160, {}), ("description", 5000, {}),
    ("locality", 200, {"mode": "face_to_face"}), ("locality", 200, {"mode": "online"}),
])
def test_a_workshops_texts_have_their_length_limits(
    field: str, limit: int, extra: dict[str, Any]
) -> None:
    world = make_world()
    org = member_with(world, "org")
    ws = _create(world, org, **{**extra, field: "x" * limit})
    assert getattr(world.service.workshop(ws), field) == "x" * limit
    refused(world, lambda: _create(world, org, **{**extra, field: "x" * (limit + 1)}),
            "invalid_input", "BOOK-1")


@pytest.mark.rule("BOOK-1")
@pytest.mark.parametrize("media", ["a.png", ("a.png", ""), ("a.png", 7)])
def test_media_are_a_sequence_of_references(media: Any) -> None:
    world = make_world()
    org = member_with(world, "org")
    refused(world, lambda: _create(world, org, media=media), "invalid_input", "BOOK-1")
    assert world.service.workshop(_create(world, org, media=("a.png",))).media == ("a.png",)
    assert world.service.workshop(_create(world, org, media=["b.png"])).media == ("b.png",)
