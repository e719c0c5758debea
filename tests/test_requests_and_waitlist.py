"""Requests, registrations and the waitlist: BOOK-3, BOOK-4, BOOK-11..25, the agendas the
host shows, and the participant side of ACC-7 (a purged member's live requests end
refunded).

Each test checks stars (available/held, statement), seats, states and notices (event, the
rule the NOTIFY table gives it, recipients), and ends with the deep ledger check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import attrs
import pytest

from skilltroc_core.booking import RegistrationState, SessionState
from skilltroc_core.ledger import HoldState, TransferKind, VoidReason
from skilltroc_core.service import AgendaItem
from skilltroc_core.testing import state_of

from .booking_support import (
    Digest,
    agenda_ids,
    at,
    book,
    digest,
    finish,
    hold_end_lines,
    hold_lines,
    ledger_hold,
    member_with,
    refused,
    waitlist,
    workshop,
)
from .members_support import CHEAP_POLICY, PARIS, email_of, make_world, notices

R = RegistrationState


# --- BOOK-11 / BOOK-13: a request holds cost x seats --------------------------------------


@pytest.mark.rule("BOOK-11", "BOOK-13")
def test_a_request_holds_cost_times_seats_at_once_and_tells_the_organizer() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 20)
    ws = workshop(s, org, cost=3, capacity=4)
    ses = s.plan_session(org, ws, at(5))
    # A planned session ...
    planned = s.request(ann, session_id=ses, seats=2)
    made = s.registration(planned)
    assert (made.state, made.session, made.workshop, made.organizer) == (
        R.PENDING, ses, ws, org)
    assert (made.seats, made.price, made.amount) == (2, 3, 6)
    assert (made.requested_at, made.due) == (at(0), at(5))
    assert s.balance(ann) == (14, 6)
    [line] = hold_lines(s, ann, planned)
    assert (line.kind, line.amount, line.held_change, line.balance, line.held) == (
        TransferKind.HOLD, -6, 6, 14, 6)
    told = notices(s)
    assert [(n.event, n.rule, n.recipients) for n in told] == [
        ("RequestReceived", "BOOK-11", (org,))]
    assert (told[0].fact("member"), told[0].fact("seats"), told[0].fact("stars")) == (
        ann, 2, 6)
    # ... or a future session of the workshop.
    future = s.request(ann, workshop_id=ws, seats=3)
    later = s.registration(future)
    assert (later.session, later.amount, later.due) == (None, 9, at(7))
    assert s.balance(ann) == (5, 15)
    assert digest(s) == [("RequestReceived", "BOOK-11", (org,))]
    # The price is locked: the hold stays cost x seats until it ends, and that is what the
    # organizer earns.
    s.accept(org, planned)
    world.clock.set(at(5, 12))
    s.confirm_held(org, ses)
    assert s.balance(org) == (16, 0)
    [end] = hold_end_lines(s, ann, planned)
    assert (end.kind, end.amount, end.held_change) == (TransferKind.HOLD_POSTED, 0, -6)
    assert s.balance(ann) == (5, 9)
    finish(world)


@pytest.mark.rule("BOOK-11")
def test_a_request_needs_enough_stars() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    dear = workshop(s, org, cost=4)
    cheap = workshop(s, org, cost=3)
    first = s.request(ann, session_id=s.plan_session(org, dear, at(3)), seats=2)
    assert s.balance(ann) == (2, 8)
    ses = s.plan_session(org, cheap, at(4))
    error = refused(world, lambda: s.request(ann, session_id=ses, seats=1),
                    "insufficient_stars", "BOOK-11")
    assert (error.facts["available"], error.facts["amount"]) == (2, 3)
    refused(world, lambda: s.request(ann, workshop_id=cheap, seats=1),
            "insufficient_stars", "BOOK-11")
    s.cancel_request(ann, first)
    assert s.balance(ann) == (10, 0)
    s.request(ann, session_id=ses, seats=3)  # 9 of 10: enough now
    assert s.balance(ann) == (1, 9)
    assert [e for e, _, _ in digest(s)] == [
        "RequestReceived", "RequestCancelled", "RequestReceived"]
    finish(world)


# --- BOOK-12: seats -----------------------------------------------------------------------


@pytest.mark.rule("BOOK-12")
def test_seats_go_up_to_the_session_capacity_or_to_ten_for_a_future_session() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    bob = member_with(world, "bob")
    ws = workshop(s, org, cost=1, capacity=4)
    ses = s.plan_session(org, ws, at(5))
    book(s, org, bob, ses, seats=3)
    # The bound is the capacity, not the seats left: the answer deals with the shortage.
    refused(world, lambda: s.request(ann, session_id=ses, seats=5), "invalid_input",
            "BOOK-12")
    full = s.request(ann, session_id=ses, seats=4)
    assert s.registration(full).seats == 4
    assert s.balance(ann) == (6, 4)
    refused(world, lambda: s.request(ann, workshop_id=ws, seats=11), "invalid_input",
            "BOOK-12")
    s.cancel_request(ann, full)
    ten = s.request(ann, workshop_id=ws, seats=10)
    assert s.registration(ten).amount == 10
    assert s.balance(ann) == (0, 10)
    assert s.seats_left(ses) == 1  # requests take no seats
    assert [e for e, _, _ in digest(s)] == [
        "RequestReceived", "RequestAccepted", "RequestReceived", "RequestCancelled",
        "RequestReceived"]
    finish(world)


@pytest.mark.rule("BOOK-12", "BOOK-14")
def test_a_request_for_more_than_ten_seats_cannot_wait_for_a_future_session() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 30)
    bob = member_with(world, "bob", 30)
    ws = workshop(s, org, cost=1, capacity=20)
    ses = s.plan_session(org, ws, at(5))
    book(s, org, bob, ses, seats=10)
    big = s.request(ann, session_id=ses, seats=11)  # 10 seats left: short by one
    digest(s)
    error = refused(world, lambda: s.accept_future(org, big), "state_conflict", "BOOK-12")
    assert "at most 10 seats" in error.message
    assert s.registration(big).state is RegistrationState.PENDING
    assert (s.balance(ann), s.seats_left(ses)) == ((19, 11), 10)
    assert digest(s) == []
    s.unregister(bob, s.participant_agenda(bob).planned[0].registration.id)
    digest(s)  # 20 seats left now: the answer is to accept it for its session
    refused(world, lambda: s.accept_future(org, big), "state_conflict", "BOOK-14")
    ten = s.request(ann, workshop_id=ws, seats=10)  # as many as a future session takes
    s.refuse(org, big)
    s.accept_future(org, ten)
    assert s.registration(ten).state is RegistrationState.WAITLISTED
    assert s.balance(ann) == (20, 10)
    assert s.balance(bob) == (30, 0)
    finish(world)


# --- BOOK-3 / BOOK-4: who may ask ---------------------------------------------------------


@pytest.mark.rule("BOOK-3")
def test_an_organizer_cannot_request_their_own_workshop() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ws = workshop(s, org)
    ses = s.plan_session(org, ws, at(5))
    refused(world, lambda: s.request(org, session_id=ses, seats=1), "not_allowed", "BOOK-3")
    refused(world, lambda: s.request(org, workshop_id=ws, seats=1), "not_allowed", "BOOK-3")
    assert s.balance(org) == (10, 0)
    assert s.seats_left(ses) == 4
    assert digest(s) == []
    finish(world)


@pytest.mark.rule("BOOK-4")
def test_one_live_request_per_session_and_one_future_request_or_entry_per_workshop() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 30)
    bob = member_with(world, "bob")
    ws = workshop(s, org, cost=1, capacity=2)
    ses = s.plan_session(org, ws, at(5))
    first = s.request(ann, session_id=ses, seats=1)
    refused(world, lambda: s.request(ann, session_id=ses, seats=2), "state_conflict",
            "BOOK-4")
    s.accept(org, first)
    refused(world, lambda: s.request(ann, session_id=ses, seats=1), "state_conflict",
            "BOOK-4")  # registered counts as live too
    future = s.request(ann, workshop_id=ws, seats=1)  # another kind of request: allowed
    refused(world, lambda: s.request(ann, workshop_id=ws, seats=2), "state_conflict",
            "BOOK-4")
    s.accept_future(org, future)
    refused(world, lambda: s.request(ann, workshop_id=ws, seats=2), "state_conflict",
            "BOOK-4")  # the waitlist entry counts as the workshop's future request
    # A request for another session may not be turned into a second waitlist entry ...
    full = s.plan_session(org, ws, at(6))
    book(s, org, bob, full, seats=1)
    other = s.request(ann, session_id=full, seats=2)
    refused(world, lambda: s.accept_future(org, other), "state_conflict", "BOOK-4")
    # ... and the entry cannot join a session the member already asked for.
    refused(world, lambda: s.join(ann, future, full), "state_conflict", "BOOK-4")
    s.cancel_request(ann, other)
    s.join(ann, future, full)  # once that request ended, it can
    # Once a request ended, a new one for the same session is fine.
    s.unregister(ann, first)
    again = s.request(ann, session_id=ses, seats=2)
    assert s.registration(again).state is R.PENDING
    assert s.balance(ann) == (27, 3)
    assert (s.seats_left(ses), s.seats_left(full)) == (2, 0)
    finish(world)


# --- BOOK-14: the organizer's answer ------------------------------------------------------


@pytest.mark.rule("BOOK-14", "REFUND-1")
def test_a_refusal_refunds_at_once_and_is_told() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    ws = workshop(s, org, cost=3)
    ses = s.plan_session(org, ws, at(5))
    for request in (s.request(ann, session_id=ses, seats=2),
                    s.request(ann, workshop_id=ws, seats=1)):
        notices(s)
        s.refuse(org, request)
        assert s.registration(request).state is R.REFUSED
        assert len(hold_end_lines(s, ann, request)) == 1
        assert digest(s) == [("RequestRefused", "BOOK-14", (ann,))]
        refused(world, partial(s.refuse, org, request), "state_conflict", "BOOK-14")
    assert s.balance(ann) == (10, 0)
    assert s.seats_left(ses) == 4
    finish(world)


@pytest.mark.rule("BOOK-14", "BOOK-18", "BOOK-22")
def test_accept_needs_enough_seats_and_accept_future_needs_a_reason() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, cat, dan = (member_with(world, n) for n in ("ann", "bob", "cat", "dan"))
    ws = workshop(s, org, cost=2, capacity=4)
    ses = s.plan_session(org, ws, at(5))
    r_ann = s.request(ann, session_id=ses, seats=3)
    r_bob = s.request(bob, session_id=ses, seats=2)
    r_cat = s.request(cat, session_id=ses, seats=1)
    r_dan = s.request(dan, workshop_id=ws, seats=2)
    notices(s)
    s.accept(org, r_ann)
    accepted = s.registration(r_ann)
    assert (accepted.state, accepted.accepted_at, accepted.due) == (R.REGISTERED, at(0), None)
    assert s.seats_left(ses) == 1  # at once (BOOK-18)
    assert s.balance(ann) == (4, 6)  # still held until the session is held
    assert digest(s) == [("RequestAccepted", "BOOK-14", (ann,))]
    # bob asks for 2 of the 1 left: no plain acceptance, a future session instead.
    refused(world, lambda: s.accept(org, r_bob), "state_conflict", "BOOK-14")
    s.accept_future(org, r_bob)
    waiting = s.registration(r_bob)
    assert (waiting.state, waiting.session, waiting.waitlist_until) == (
        R.WAITLISTED, None, at(15))
    assert s.balance(bob) == (6, 4)  # BOOK-22: stars stay held
    assert s.seats_left(ses) == 1
    assert digest(s) == [("RequestWaitlisted", "BOOK-14", (bob,))]
    # cat's 1 seat fits: the waitlist is no answer to a request that can be accepted.
    refused(world, lambda: s.accept_future(org, r_cat), "state_conflict", "BOOK-14")
    s.accept(org, r_cat)
    assert s.seats_left(ses) == 0
    # dan asked for a future session: that is the only acceptance there is.
    refused(world, lambda: s.accept(org, r_dan), "state_conflict", "BOOK-14")
    s.accept_future(org, r_dan)
    assert s.registration(r_dan).state is R.WAITLISTED
    assert digest(s) == [("RequestAccepted", "BOOK-14", (cat,)),
                         ("RequestWaitlisted", "BOOK-14", (dan,))]
    validated = s.organizer_agenda(org).validated
    assert agenda_ids(validated) == [r_ann, r_cat]
    refused(world, lambda: s.accept(org, r_ann), "state_conflict", "BOOK-14")
    refused(world, lambda: s.accept_future(org, r_ann), "state_conflict", "BOOK-14")
    finish(world)


# --- BOOK-15: emails once accepted --------------------------------------------------------


@pytest.mark.rule("BOOK-15")
def test_emails_are_exchanged_only_once_a_request_is_accepted() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, eve = (member_with(world, n) for n in ("ann", "bob", "eve"))
    ws = workshop(s, org)
    ses = s.plan_session(org, ws, at(5))
    r_ann = s.request(ann, session_id=ses, seats=1)
    r_bob = s.request(bob, workshop_id=ws, seats=1)
    for who, request in ((ann, r_ann), (org, r_ann), (bob, r_bob), (org, r_bob)):
        refused(world, partial(s.contact_email, who, request), "not_allowed", "BOOK-15")
    s.accept(org, r_ann)
    s.accept_future(org, r_bob)  # the waitlist is an acceptance too
    assert s.contact_email(ann, r_ann) == email_of("org")
    assert s.contact_email(org, r_ann) == email_of("ann")
    assert s.contact_email(bob, r_bob) == email_of("org")
    assert s.contact_email(org, r_bob) == email_of("bob")
    refused(world, lambda: s.contact_email(eve, r_ann), "not_allowed", "BOOK-15")
    refused(world, lambda: s.contact_email(bob, r_ann), "not_allowed", "BOOK-15")
    assert (s.balance(ann), s.balance(bob)) == ((7, 3), (7, 3))
    assert [e for e, _, _ in digest(s)] == [
        "RequestReceived", "RequestReceived", "RequestAccepted", "RequestWaitlisted"]
    finish(world)


# --- BOOK-16: expiry ----------------------------------------------------------------------


@pytest.mark.rule("BOOK-16", "REFUND-1")
def test_a_session_request_expires_at_the_very_start_of_the_session() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    ws = workshop(s, org, cost=3)
    ses = s.plan_session(org, ws, at(5))
    request = s.request(ann, session_id=ses, seats=2)
    notices(s)
    world.clock.set(at(5) - timedelta(microseconds=1))
    assert s.run_due() == 0
    assert s.registration(request).state is R.PENDING
    assert s.balance(ann) == (4, 6)
    world.clock.set(at(5))  # the due instant: the expiry has happened
    refused(world, lambda: s.accept(org, request), "state_conflict", "BOOK-14")
    assert s.registration(request).state is R.EXPIRED  # any command or query applies it
    assert s.balance(ann) == (10, 0)
    [end] = hold_end_lines(s, ann, request)
    assert (end.kind, end.at) == (TransferKind.HOLD_VOIDED, at(5))
    assert digest(s) == [("RequestExpired", "BOOK-16", (ann,))]
    refused(world, lambda: s.request(ann, session_id=ses, seats=1), "state_conflict",
            "BOOK-16")  # requests close at the start
    assert s.seats_left(ses) == 4
    finish(world)


@pytest.mark.rule("BOOK-16", "REFUND-1")
def test_a_future_request_is_due_seven_calendar_days_later_across_dst() -> None:
    world = make_world(start=at(25))  # 2027-03-26 10:00 +01:00; summer time on the 28th
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    ws = workshop(s, org, cost=2)
    request = s.request(ann, workshop_id=ws, seats=2)
    due = datetime(2027, 4, 2, 10, tzinfo=PARIS)  # same wall-clock time, now +02:00
    assert due == datetime(2027, 4, 2, 8, tzinfo=UTC)
    assert due.astimezone(UTC) - at(25).astimezone(UTC) == timedelta(days=6, hours=23)
    assert s.registration(request).due == due
    notices(s)
    world.clock.set(due - timedelta(seconds=1))
    assert s.run_due() == 0
    assert s.registration(request).state is R.PENDING
    assert s.balance(ann) == (6, 4)
    world.clock.set(due)
    assert s.run_due() == 1
    assert s.registration(request).state is R.EXPIRED
    assert s.balance(ann) == (10, 0)
    assert len(hold_end_lines(s, ann, request)) == 1
    assert digest(s) == [("RequestExpired", "BOOK-16", (ann,))]
    refused(world, lambda: s.accept_future(org, request), "state_conflict", "BOOK-14")
    finish(world)


# --- BOOK-17: the member withdraws --------------------------------------------------------


@pytest.mark.rule("BOOK-17", "REFUND-1")
def test_a_member_may_cancel_an_unanswered_request_only() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 20)
    ws = workshop(s, org, cost=3)
    ses = s.plan_session(org, ws, at(5))
    mine = s.request(ann, session_id=ses, seats=2)
    future = s.request(ann, workshop_id=ws, seats=1)
    notices(s)
    s.cancel_request(ann, mine)
    s.cancel_request(ann, future)
    assert s.registration(mine).state is s.registration(future).state is R.CANCELLED
    assert s.balance(ann) == (20, 0)
    assert digest(s) == [("RequestCancelled", "BOOK-17", (org,))] * 2
    answered = book(s, org, ann, ses, seats=1)
    refused(world, lambda: s.cancel_request(ann, answered), "state_conflict", "BOOK-17")
    refused(world, lambda: s.cancel_request(ann, mine), "state_conflict", "BOOK-17")
    assert s.balance(ann) == (17, 3)
    assert s.seats_left(ses) == 3
    finish(world)


# --- BOOK-18 / BOOK-19: registrations -----------------------------------------------------


@pytest.mark.rule("BOOK-19", "BOOK-18", "REFUND-2")
def test_a_registered_member_may_unregister_before_the_start_only() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    bob = member_with(world, "bob")
    ws = workshop(s, org, cost=2, capacity=4)
    ses = s.plan_session(org, ws, at(5))
    r_ann = book(s, org, ann, ses, seats=3)
    r_bob = book(s, org, bob, ses, seats=1)
    assert s.seats_left(ses) == 0
    notices(s)
    s.unregister(ann, r_ann)
    assert s.registration(r_ann).state is R.UNREGISTERED
    assert s.seats_left(ses) == 3  # at once (BOOK-18)
    assert s.balance(ann) == (10, 0)
    assert digest(s) == [("MemberUnregistered", "BOOK-19", (org,))]
    assert agenda_ids(s.organizer_agenda(org).validated) == [r_bob]
    world.clock.set(at(5))
    refused(world, lambda: s.unregister(bob, r_bob), "state_conflict", "BOOK-19")
    assert s.registration(r_bob).state is R.REGISTERED
    assert s.balance(bob) == (8, 2)
    finish(world)


# --- BOOK-20: the organizer cancels the transaction ---------------------------------------


@pytest.mark.rule("BOOK-20", "REFUND-2", "REFUND-3")
def test_the_organizer_may_cancel_with_a_registered_or_waitlisted_member() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, cat, dan = (member_with(world, n) for n in ("ann", "bob", "cat", "dan"))
    ws = workshop(s, org, cost=2, capacity=4)
    ses = s.plan_session(org, ws, at(5))
    r_ann = book(s, org, ann, ses, seats=2)
    r_bob = waitlist(s, org, bob, ws, seats=3)
    r_cat = s.request(cat, session_id=ses, seats=1)
    r_dan = book(s, org, dan, ses, seats=1)
    notices(s)
    s.cancel_transaction(org, r_ann)
    s.cancel_transaction(org, r_bob)
    assert s.registration(r_ann).state is s.registration(r_bob).state is (
        R.TRANSACTION_CANCELLED)
    assert s.balance(ann) == s.balance(bob) == (10, 0)
    assert s.seats_left(ses) == 3
    assert digest(s) == [("TransactionCancelled", "BOOK-20", (ann,)),
                         ("TransactionCancelled", "BOOK-20", (bob,))]
    refused(world, lambda: s.cancel_transaction(org, r_cat), "state_conflict", "BOOK-20")
    world.clock.set(at(5))
    refused(world, lambda: s.cancel_transaction(org, r_dan), "state_conflict", "BOOK-20")
    assert s.balance(dan) == (8, 2)
    assert s.registration(r_cat).state is R.EXPIRED
    finish(world)


@pytest.mark.rule("BOOK-21", "BOOK-8", "BOOK-9", "BOOK-10", "BOOK-14", "BOOK-20")
def test_every_change_the_member_did_not_make_is_notified_to_them() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 20)
    ws = workshop(s, org, cost=1, capacity=4)
    entry = s.request(ann, workshop_id=ws, seats=2)
    notices(s)
    steps: list[tuple[Callable[[], object], list[Digest], RegistrationState]] = [
        (lambda: s.accept_future(org, entry), [("RequestWaitlisted", "BOOK-14", (ann,))],
         R.WAITLISTED),
        (lambda: s.plan_session(org, ws, at(6)), [("SessionPlanned", "BOOK-10", (ann,))],
         R.WAITLISTED),
        (lambda: s.join(ann, entry, s.sessions_of(ws)[0].id),  # own act, told (BOOK-23)
         [("SessionJoined", "BOOK-23", (ann, org))], R.REGISTERED),
        (lambda: s.move_session(org, s.sessions_of(ws)[0].id, at(7)),
         [("SessionMoved", "BOOK-8", (ann,))], R.REGISTERED),
        (lambda: s.cancel_transaction(org, entry),
         [("TransactionCancelled", "BOOK-20", (ann,))], R.TRANSACTION_CANCELLED),
    ]
    for step, told, state in steps:
        step()
        assert digest(s) == told
        assert s.registration(entry).state is state
    other = book(s, org, ann, s.sessions_of(ws)[0].id, seats=1)
    notices(s)
    s.cancel_session(org, s.sessions_of(ws)[0].id)
    assert digest(s) == [("SessionCancelled", "BOOK-9", (ann,))]
    assert s.registration(other).state is R.SESSION_CANCELLED
    assert s.balance(ann) == (20, 0)
    finish(world)


# --- BOOK-22..25: the waitlist ------------------------------------------------------------


@pytest.mark.rule("BOOK-22", "BOOK-23")
def test_a_waitlisted_member_joins_a_planned_session_with_all_seats_or_none() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    bob = member_with(world, "bob")
    ws = workshop(s, org, cost=2, capacity=4)
    elsewhere = workshop(s, org, title="Other")
    entry = waitlist(s, org, ann, ws, seats=3)
    assert s.balance(ann) == (4, 6)  # held while waiting
    assert agenda_ids(s.participant_agenda(ann).waiting) == [entry]
    assert agenda_ids(s.organizer_agenda(org).to_plan) == [entry]
    small = s.plan_session(org, ws, at(3))
    book(s, org, bob, small, seats=2)
    foreign = s.plan_session(org, elsewhere, at(4))
    notices(s)
    refused(world, lambda: s.join(ann, entry, small), "state_conflict", "BOOK-23")
    refused(world, lambda: s.join(ann, entry, foreign), "invalid_input", "BOOK-23")
    roomy = s.plan_session(org, ws, at(6))
    assert f"waitlist_window:{entry}" in state_of(world.store)["timers"]
    s.join(ann, entry, roomy)  # no new approval needed
    assert f"waitlist_window:{entry}" not in state_of(world.store)["timers"]  # BOOK-24 is over
    joined = s.registration(entry)
    assert (joined.state, joined.session, joined.seats) == (R.REGISTERED, roomy, 3)
    assert (s.seats_left(roomy), s.seats_left(small)) == (1, 2)
    assert s.balance(ann) == (4, 6)
    assert digest(s) == [("SessionPlanned", "BOOK-10", (ann,)),
                         ("SessionJoined", "BOOK-23", (ann, org))]  # both are told
    assert s.participant_agenda(ann).waiting == ()
    assert agenda_ids(s.participant_agenda(ann).planned) == [entry]
    world.clock.set(at(6))
    refused(world, lambda: s.join(ann, entry, roomy), "state_conflict", "BOOK-23")
    world.clock.set(at(6, 12))
    s.confirm_held(org, roomy)
    world.clock.set(at(15))  # the entry's old 15-day window no longer applies
    assert s.run_due() == 2  # the two lapses below; the window's timer went at the join
    assert s.registration(entry).state is R.PAID
    assert (s.balance(ann), s.balance(org)) == ((4, 0), (16, 0))
    assert digest(s) == [
        *[("SessionConfirmationRequested", "BOOK-30", (org,))] * 3,  # small, foreign, roomy
        ("SessionHeld", "BOOK-30", (ann,)),
        ("SessionLapsed", "BOOK-32", (bob, org)),  # small: nobody answered
        ("SessionLapsed", "BOOK-32", (org,)),  # foreign, which had nobody registered
    ]
    finish(world)


@pytest.mark.rule("BOOK-24", "REFUND-3")
@pytest.mark.parametrize("accepted_on", [3, 20], ids=["winter", "across_dst"])
def test_the_waitlist_entry_ends_refunded_fifteen_days_after_acceptance(
        accepted_on: int) -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    ws = workshop(s, org, cost=2)
    world.clock.set(at(accepted_on - 2))
    request = s.request(ann, workshop_id=ws, seats=2)
    world.clock.set(at(accepted_on, 15))
    s.accept_future(org, request)
    # 15 calendar days after the acceptance (not the request), same wall-clock time: on
    # 2027-04-05 that is 15:00 at +02:00, 14 days 23 hours after a 15:00 at +01:00.
    until = at(accepted_on + 15, 15)
    if accepted_on == 20:
        assert until.astimezone(UTC) - at(20, 15).astimezone(UTC) == timedelta(days=14,
                                                                                hours=23)
    assert s.registration(request).waitlist_until == until
    notices(s)
    world.clock.set(until - timedelta(seconds=1))
    assert s.run_due() == 0
    assert s.registration(request).state is R.WAITLISTED
    assert s.balance(ann) == (6, 4)
    world.clock.set(until)
    assert s.run_due() == 1
    assert s.registration(request).state is R.WAITLIST_EXPIRED
    assert s.balance(ann) == (10, 0)
    assert len(hold_end_lines(s, ann, request)) == 1
    assert digest(s) == [("WaitlistExpired", "BOOK-24", (ann,))]
    ses = s.plan_session(org, ws, at(accepted_on + 16))
    refused(world, lambda: s.join(ann, request, ses), "state_conflict", "BOOK-23")
    assert digest(s) == []  # no longer waiting: not told of the new session
    finish(world)


@pytest.mark.rule("BOOK-25", "REFUND-3")
def test_a_waitlisted_member_may_leave_at_any_time() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    ws = workshop(s, org, cost=2)
    entry = waitlist(s, org, ann, ws, seats=4)
    notices(s)
    world.clock.set(at(14, 23))
    s.leave_waitlist(ann, entry)
    assert s.registration(entry).state is R.LEFT_WAITLIST
    assert s.balance(ann) == (10, 0)
    assert len(hold_end_lines(s, ann, entry)) == 1
    assert digest(s) == [("WaitlistLeft", "BOOK-25", (org,))]
    refused(world, lambda: s.leave_waitlist(ann, entry), "state_conflict", "BOOK-25")
    world.clock.set(at(20))
    assert s.run_due() == 0  # the window's timer went with the entry
    finish(world)


# --- The agendas --------------------------------------------------------------------------


@pytest.mark.rule("BOOK-18", "BOOK-22", "BOOK-30", "BOOK-40")
def test_the_agendas_show_what_each_side_has_to_do() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 40)
    bob = member_with(world, "bob")
    ws = workshop(s, org, cost=2, capacity=4, title="Bread")
    soon = s.plan_session(org, ws, at(1))
    later = s.plan_session(org, ws, at(9))
    r_done = book(s, org, ann, soon, seats=1)
    r_bob = book(s, org, bob, soon, seats=1)
    r_planned = book(s, org, ann, later, seats=2)
    r_waiting = waitlist(s, org, ann, ws, seats=3)
    r_pending = s.request(bob, session_id=later, seats=1)
    world.clock.set(at(1, 12))  # ``soon`` ended: the organizer has a session to confirm
    mine = s.participant_agenda(ann)
    assert agenda_ids(mine.pending) == []
    assert agenda_ids(mine.planned) == [r_done, r_planned]
    assert agenda_ids(mine.waiting) == [r_waiting]
    assert mine.to_evaluate == ()
    planned = mine.planned[1]
    assert (planned.workshop_title, planned.session_start, planned.stars_held, planned.due) == (
        "Bread", at(9), 4, None)
    waiting = mine.waiting[0]
    assert (waiting.session_start, waiting.stars_held, waiting.due) == (None, 6, at(15))
    theirs = s.participant_agenda(bob)
    assert agenda_ids(theirs.pending) == [r_pending]
    assert theirs.pending[0].due == at(9)
    desk = s.organizer_agenda(org)
    assert agenda_ids(desk.to_answer) == [r_pending]
    assert agenda_ids(desk.validated) == [r_done, r_bob, r_planned]
    assert agenda_ids(desk.to_plan) == [r_waiting]
    assert agenda_ids(desk.to_confirm) == [soon]
    # BOOK-15/18: each side sees the other's email once accepted, not before.
    email = {m: s.member(m).email for m in (org, ann, bob)}
    contacts = {section: [i.contact_email for i in getattr(desk, section)
                          if isinstance(i, AgendaItem)]
                for section in ("validated", "to_plan", "to_answer")}
    assert contacts == {"validated": [email[ann], email[bob], email[ann]],
                        "to_plan": [email[ann]], "to_answer": [None]}
    assert [i.contact_email for i in mine.planned + mine.waiting] == [email[org]] * 3
    assert theirs.pending[0].contact_email is None
    s.confirm_held(org, soon)
    assert agenda_ids(s.participant_agenda(ann).to_evaluate) == [r_done]
    assert s.organizer_agenda(org).to_confirm == ()
    s.confirm_attendance(ann, r_done)
    s.evaluate(ann, r_done, satisfaction=9, conformity=9, teaching=9, duration=9,
               recommend=False)
    s.declare_absent(bob, r_bob)
    assert s.participant_agenda(ann).to_evaluate == ()
    assert s.participant_agenda(bob).to_evaluate == ()
    assert (s.balance(ann), s.balance(bob), s.balance(org)) == ((28, 10), (6, 2), (14, 0))
    assert s.session(soon).state is SessionState.HELD
    finish(world)


# --- ACC-7: a purged participant ----------------------------------------------------------


@pytest.mark.rule("ACC-7", "REFUND-1", "REFUND-2", "REFUND-3")
def test_purging_a_participant_refunds_their_live_requests_then_sweeps_the_balance() -> None:
    # A waitlist window longer than the retention period, so the entry is live at the purge.
    world = make_world(policy=attrs.evolve(CHEAP_POLICY, waitlist_window_days=30))
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 40)
    bob = member_with(world, "bob")
    ws = workshop(s, org, cost=2, capacity=4)
    other = workshop(s, org, cost=1, capacity=4, title="Other")
    ses = s.plan_session(org, ws, at(20))
    started = s.plan_session(org, ws, at(16, 10))  # running at the purge instant
    r_pending = s.request(ann, session_id=ses, seats=1)
    r_registered = book(s, org, ann, s.plan_session(org, other, at(18)), seats=3)
    r_started = book(s, org, ann, started, seats=2)
    r_bob = book(s, org, bob, started, seats=1)
    world.clock.set(at(1))
    r_waiting = waitlist(s, org, ann, other, seats=2)
    assert s.balance(ann) == (29, 11)
    world.clock.set(at(1, 11))
    purge_at = s.deactivate(ann)
    assert purge_at == at(16, 11)
    notices(s)
    world.clock.set(purge_at)
    s.run_due()
    assert [s.registration(r).state for r in (r_pending, r_registered, r_waiting)] == [
        R.ACCOUNT_PURGED] * 3
    for ended in (r_pending, r_registered, r_waiting):  # each hold voided, once
        hold = ledger_hold(world, ended)
        assert hold is not None
        assert (hold.state, hold.void_reason) == (HoldState.VOIDED, VoidReason.ACCOUNT_PURGED)
    registered_session = s.registration(r_registered).session
    assert registered_session is not None
    assert s.seats_left(registered_session) == 4  # the seats went back
    # The started session keeps its lifecycle: still registered, still held.
    assert s.registration(r_started).state is R.REGISTERED
    assert s.balance(ann) == (0, 4)
    assert s.supply().returned_by_kind == {"account_purged": 36}
    assert digest(s) == [("AccountPurged", "ACC-7", (ann,))]
    world.clock.set(at(16, 12))
    s.confirm_held(org, started)
    assert s.registration(r_started).state is R.PAID
    assert s.balance(ann) == (0, 0)
    assert s.balance(org) == (16, 0)
    assert s.registration(r_bob).state is R.PAID
    assert digest(s) == [("SessionConfirmationRequested", "BOOK-30", (org,)),  # not ann:
                         ("SessionHeld", "BOOK-30", (bob,))]  # purged, told nothing more
    finish(world)


# --- the order of the refusals ---------------------------------------------------------------


@pytest.mark.rule("BOOK-12")
def test_a_refused_seat_count_says_which_kind_of_request_it_is() -> None:
    world = make_world()
    s = world.service
    org, ann = member_with(world, "org"), member_with(world, "ann", 20)
    ws = workshop(s, org, cost=1, capacity=4)
    ses = s.plan_session(org, ws, at(5))
    error = refused(world, lambda: s.request(ann, session_id=ses, seats=5),
                    "invalid_input", "BOOK-12")
    assert error.message == "a request for this session is for 1 to 4 seats, not 5"
    error = refused(world, lambda: s.request(ann, workshop_id=ws, seats=11),
                    "invalid_input", "BOOK-12")
    assert error.message == "a request for a future session is for 1 to 10 seats, not 11"


@pytest.mark.rule("BOOK-14", "BOOK-23")
def test_a_registration_that_moved_on_hears_so_before_any_other_refusal() -> None:
    world = make_world()
    s = world.service
    org, ann = member_with(world, "org"), member_with(world, "ann", 20)
    ws, other = workshop(s, org, cost=1, capacity=2), workshop(s, org, title="Other")
    ses = s.plan_session(org, ws, at(5))
    full = book(s, org, ann, ses, seats=2)  # the session is full now
    error = refused(world, lambda: s.accept(org, full), "state_conflict", "BOOK-14")
    assert "'accept' is not possible now" in error.message
    elsewhere = s.plan_session(org, other, at(6))
    error = refused(world, lambda: s.join(ann, full, elsewhere), "state_conflict", "BOOK-23")
    assert "'join' is not possible now" in error.message


@pytest.mark.rule("BOOK-12", "BOOK-14")
def test_a_request_of_ten_seats_may_wait_for_a_future_session() -> None:
    world = make_world()
    s = world.service
    org, bob = member_with(world, "org"), member_with(world, "bob", 20)
    ann = member_with(world, "ann", 20)
    ws = workshop(s, org, cost=1, capacity=12)
    ses = s.plan_session(org, ws, at(5))
    book(s, org, bob, ses, seats=3)
    ten = s.request(ann, session_id=ses, seats=10)
    s.accept_future(org, ten)
    assert (s.registration(ten).state, s.registration(ten).seats) == (R.WAITLISTED, 10)
    assert s.balance(ann) == (10, 10)
