"""After the session: confirmation (BOOK-30..33), evaluations (BOOK-40..43), the profile
figures they feed (PROF-2..5), the referral reward at a first held session (SPONSOR-3),
and the refund matrix walked cell by cell (REFUND-1..5).

Each test checks stars (available/held, statement), seats, states and notices (event, the
rule the NOTIFY table gives it, recipients), and ends with the deep ledger check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Final

import attrs
import pytest

from skilltroc_core.booking import (
    HOLD_OUTCOMES,
    POST,
    REGISTRATION_LIFECYCLE,
    Attendance,
    RegistrationState,
    SessionState,
    hold_rule,
)
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.ledger import HoldState, TransferKind, VoidReason
from skilltroc_core.ports import Timer
from skilltroc_core.service.booking_steps import (
    CONFIRMATION_WINDOW,
    REQUEST_DUE,
    SESSION_END,
    WAITLIST_WINDOW,
)
from skilltroc_core.testing import state_of

from .booking_support import (
    Digest,
    agenda_ids,
    at,
    book,
    digest,
    finish,
    hold_end_lines,
    hold_session,
    ledger_hold,
    member_with,
    professional,
    refused,
    waitlist,
    workshop,
)
from .members_support import CHEAP_POLICY, World, email_of, make_world, notices

R = RegistrationState


def _evaluate(world: World, member: str, registration: str, scores: tuple[int, int, int, int],
              recommend: bool) -> None:
    world.service.confirm_attendance(member, registration)
    satisfaction, conformity, teaching, duration = scores
    world.service.evaluate(member, registration, satisfaction=satisfaction,
                           conformity=conformity, teaching=teaching, duration=duration,
                           recommend=recommend)


# --- BOOK-30: the question at the end -----------------------------------------------------


@pytest.mark.rule("BOOK-30")
def test_the_organizer_is_asked_at_the_end_and_cannot_answer_before() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    ses = s.plan_session(org, workshop(s, org, cost=3), at(5))
    registration = book(s, org, ann, ses, seats=2)
    assert s.seats_left(ses) == 2
    notices(s)
    refused(world, lambda: s.confirm_held(org, ses), "state_conflict", "BOOK-30")
    world.clock.set(at(5, 11))  # started, not ended
    refused(world, lambda: s.confirm_held(org, ses), "state_conflict", "BOOK-30")
    refused(world, lambda: s.confirm_not_held(org, ses), "state_conflict", "BOOK-30")
    world.clock.set(at(5, 12) - timedelta(microseconds=1))
    assert s.run_due() == 0
    assert s.organizer_agenda(org).to_confirm == ()
    world.clock.set(at(5, 12))
    assert s.run_due() == 1
    assert s.session(ses).state is SessionState.AWAITING_CONFIRMATION
    [asked] = notices(s)
    assert (asked.event, asked.rule, asked.recipients) == (
        "SessionConfirmationRequested", "BOOK-30", (org,))
    assert asked.fact("answer_by") == at(12, 12).astimezone(UTC).isoformat()
    assert agenda_ids(s.organizer_agenda(org).to_confirm) == [ses]
    assert s.registration(registration).state is R.REGISTERED
    assert (s.balance(ann), s.balance(org)) == ((4, 6), (10, 0))
    finish(world)


@pytest.mark.rule("BOOK-30", "BOOK-33", "REFUND-4", "STAR-3")
def test_held_pays_the_organizer_every_registered_seat_absent_members_included() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, cat = (member_with(world, n) for n in ("ann", "bob", "cat"))
    ws = workshop(s, org, cost=3, capacity=4)
    ses = s.plan_session(org, ws, at(5))
    r_ann = book(s, org, ann, ses, seats=2)
    r_bob = book(s, org, bob, ses, seats=1)
    r_cat = s.request(cat, session_id=ses, seats=1)  # never answered: expires at the start
    assert s.seats_left(ses) == 1
    notices(s)
    world.clock.set(at(5, 12))
    s.confirm_held(org, ses)
    assert s.session(ses).state is SessionState.HELD
    assert (s.registration(r_ann).state, s.registration(r_bob).state) == (R.PAID, R.PAID)
    assert s.registration(r_cat).state is R.EXPIRED
    assert (s.balance(org), s.balance(ann), s.balance(bob), s.balance(cat)) == (
        (19, 0), (4, 0), (7, 0), (10, 0))
    earned = [(line.kind, line.amount, line.counterpart)
              for line in s.statement(org).items if line.kind is TransferKind.HOLD_POSTED]
    assert earned == [(TransferKind.HOLD_POSTED, 6, ann), (TransferKind.HOLD_POSTED, 3, bob)]
    [end] = hold_end_lines(s, ann, r_ann)
    assert (end.kind, end.amount, end.held_change) == (TransferKind.HOLD_POSTED, 0, -6)
    assert digest(s) == [
        ("RequestExpired", "BOOK-16", (cat,)),
        ("SessionConfirmationRequested", "BOOK-30", (org,)),
        ("SessionHeld", "BOOK-30", (ann, bob)),
    ]
    # BOOK-33: bob could not come; the stars stay with the organizer.
    s.declare_absent(bob, r_bob)
    absent = s.registration(r_bob)
    assert (absent.state, absent.attendance) == (R.PAID, Attendance.ABSENT)
    assert (s.balance(org), s.balance(bob)) == ((19, 0), (7, 0))
    assert len(hold_end_lines(s, bob, r_bob)) == 1
    refused(world, lambda: s.declare_absent(bob, r_bob), "state_conflict", "BOOK-33")
    refused(world, lambda: s.confirm_attendance(bob, r_bob), "state_conflict", "BOOK-40")
    refused(world, lambda: s.confirm_held(org, ses), "state_conflict", "BOOK-30")
    refused(world, lambda: s.confirm_not_held(org, ses), "state_conflict", "BOOK-31")
    assert digest(s) == []
    finish(world)


@pytest.mark.rule("BOOK-31", "REFUND-2")
def test_not_held_refunds_every_registered_member_at_once_and_tells_them() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob = (member_with(world, n) for n in ("ann", "bob"))
    ses = s.plan_session(org, workshop(s, org, cost=2), at(5))
    r_ann = book(s, org, ann, ses, seats=3)
    r_bob = book(s, org, bob, ses, seats=1)
    assert s.seats_left(ses) == 0
    notices(s)
    world.clock.set(at(7))  # within the 7 days after the end
    s.run_due()
    assert digest(s) == [("SessionConfirmationRequested", "BOOK-30", (org,))]
    s.confirm_not_held(org, ses)
    assert s.session(ses).state is SessionState.NOT_HELD
    assert (s.registration(r_ann).state, s.registration(r_bob).state) == (
        R.REFUNDED_NOT_HELD, R.REFUNDED_NOT_HELD)
    assert (s.balance(ann), s.balance(bob), s.balance(org)) == ((10, 0), (10, 0), (10, 0))
    assert len(hold_end_lines(s, ann, r_ann)) == len(hold_end_lines(s, bob, r_bob)) == 1
    assert digest(s) == [("SessionNotHeld", "BOOK-31", (ann, bob))]
    refused(world, lambda: s.confirm_held(org, ses), "state_conflict", "BOOK-30")
    refused(world, lambda: s.confirm_attendance(ann, r_ann), "state_conflict", "BOOK-40")
    world.clock.set(at(20))
    assert s.run_due() == 0  # the confirmation window's timer went with the answer
    assert s.profile_stats(org).sessions_organized == 0
    finish(world)


@pytest.mark.rule("BOOK-32", "REFUND-2", "BOOK-30")
def test_seven_calendar_days_of_silence_count_as_not_held() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob = (member_with(world, n) for n in ("ann", "bob"))
    ses = s.plan_session(org, workshop(s, org, cost=2), at(24))  # ends 2027-03-25 12:00 +01
    r_ann = book(s, org, ann, ses, seats=2)
    r_bob = book(s, org, bob, ses, seats=1)
    assert s.seats_left(ses) == 1
    notices(s)
    until = at(31, 12)  # 2027-04-01 12:00 +02:00: 7 calendar days across the DST change
    assert until.astimezone(UTC) == datetime(2027, 4, 1, 10, tzinfo=UTC)
    world.clock.set(until - timedelta(seconds=1))
    assert s.run_due() == 1  # only the end of the session
    assert s.session(ses).state is SessionState.AWAITING_CONFIRMATION
    assert s.balance(org) == (10, 0)
    world.clock.set(until)
    assert s.run_due() == 1
    assert s.session(ses).state is SessionState.LAPSED
    assert (s.registration(r_ann).state, s.registration(r_bob).state) == (
        R.REFUNDED_ORGANIZER_SILENT, R.REFUNDED_ORGANIZER_SILENT)
    assert (s.balance(ann), s.balance(bob), s.balance(org)) == ((10, 0), (10, 0), (10, 0))
    assert len(hold_end_lines(s, ann, r_ann)) == 1
    assert digest(s) == [
        ("SessionConfirmationRequested", "BOOK-30", (org,)),
        ("SessionLapsed", "BOOK-32", (ann, bob, org)),
    ]
    refused(world, lambda: s.confirm_held(org, ses), "state_conflict", "BOOK-30")
    refused(world, lambda: s.confirm_not_held(org, ses), "state_conflict", "BOOK-31")
    assert s.organizer_agenda(org).to_confirm == ()
    finish(world)


# --- BOOK-40..43: evaluations -------------------------------------------------------------


@pytest.mark.rule("BOOK-40")
def test_only_members_who_attended_a_held_session_evaluate_and_only_once() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob = (member_with(world, n) for n in ("ann", "bob"))
    ws = workshop(s, org, cost=1)
    ses = s.plan_session(org, ws, at(2))
    r_ann = book(s, org, ann, ses)
    flop = s.plan_session(org, ws, at(3))
    r_bob = book(s, org, bob, flop)

    def rate(member: str, registration: str) -> None:
        s.evaluate(member, registration, satisfaction=7, conformity=7, teaching=7, duration=7,
                   recommend=False)

    refused(world, lambda: rate(ann, r_ann), "state_conflict", "BOOK-40")  # not held yet
    refused(world, lambda: s.confirm_attendance(ann, r_ann), "state_conflict", "BOOK-40")
    world.clock.set(at(3, 12))
    s.confirm_held(org, ses)
    s.confirm_not_held(org, flop)
    notices(s)
    refused(world, lambda: rate(ann, r_ann), "state_conflict", "BOOK-40")  # not confirmed
    refused(world, lambda: s.confirm_attendance(bob, r_bob), "state_conflict", "BOOK-40")
    refused(world, lambda: rate(bob, r_bob), "state_conflict", "BOOK-40")
    refused(world, lambda: rate(org, r_ann), "not_allowed", "BOOK-40")
    refused(world, lambda: s.confirm_attendance(org, r_ann), "not_allowed", "BOOK-40")
    s.confirm_attendance(ann, r_ann)
    assert s.registration(r_ann).attendance is Attendance.ATTENDED
    refused(world, lambda: s.confirm_attendance(ann, r_ann), "state_conflict", "BOOK-40")
    refused(world, lambda: s.declare_absent(ann, r_ann), "state_conflict", "BOOK-33")
    rate(ann, r_ann)
    assert s.registration(r_ann).evaluated
    refused(world, lambda: rate(ann, r_ann), "state_conflict", "BOOK-40")
    assert [e.id for e in s.workshop_evaluations(ws)] == [r_ann]
    assert s.profile_stats(org).evaluations == 1
    assert (s.balance(ann), s.balance(bob), s.balance(org)) == ((9, 0), (10, 0), (11, 0))
    assert digest(s) == []  # no recommendation: nobody is told
    finish(world)


@pytest.mark.rule("BOOK-41", "PROF-3")
def test_four_criteria_scored_from_0_to_10_and_a_yes_or_no() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob = (member_with(world, n) for n in ("ann", "bob"))
    ws = workshop(s, org, cost=1)
    _, [r_ann, r_bob] = hold_session(world, org, ws, [ann, bob])
    _evaluate(world, ann, r_ann, (0, 10, 0, 10), False)  # the bounds are included
    _evaluate(world, bob, r_bob, (10, 10, 10, 9), True)
    low, high = s.workshop_evaluations(ws)
    assert (low.scores, low.recommend, low.mean) == ((0, 10, 0, 10), False, 5.0)
    assert (low.satisfaction, low.conformity, low.teaching, low.duration) == (0, 10, 0, 10)
    assert (high.scores, high.recommend, high.mean) == ((10, 10, 10, 9), True, 9.75)
    assert (low.member, low.organizer, low.at) == (ann, org, world.clock.now())
    refused(world, lambda: s.evaluate(ann, r_ann, satisfaction=11, conformity=0, teaching=0,
                                      duration=0, recommend=False), "invalid_input", "BOOK-41")
    stats = s.profile_stats(org)
    assert stats.rating == pytest.approx((5.0 + 9.75) / 2)
    assert stats.criteria == {"satisfaction": 5.0, "conformity": 10.0, "teaching": 5.0,
                              "duration": 9.5}
    assert s.balance(org) == (12, 0)
    assert digest(s) == [
        ("RequestReceived", "BOOK-11", (org,)), ("RequestAccepted", "BOOK-14", (ann,)),
        ("RequestReceived", "BOOK-11", (org,)), ("RequestAccepted", "BOOK-14", (bob,)),
        ("SessionConfirmationRequested", "BOOK-30", (org,)),
        ("SessionHeld", "BOOK-30", (ann, bob)),
    ]  # bob recommended, but nobody follows him
    finish(world)


@pytest.mark.rule("BOOK-42", "PROF-2", "SOCIAL-2")
def test_a_recommendation_tells_followers_and_shows_on_the_recommenders_profile() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, fan, pal = (member_with(world, n) for n in ("ann", "bob", "fan", "pal"))
    s.follow(fan, ann)
    s.follow(pal, ann)
    s.follow(fan, bob)
    first = workshop(s, org, cost=1, title="Bread")
    second = workshop(s, org, cost=1, title="Cake")
    _, [r_ann, r_bob] = hold_session(world, org, first, [ann, bob])
    _, [r_again] = hold_session(world, org, second, [ann])
    _, [r_twice] = hold_session(world, org, first, [ann])
    notices(s)
    _evaluate(world, ann, r_ann, (9, 9, 9, 9), True)
    told = notices(s)
    assert [(n.event, n.rule, n.recipients) for n in told] == [
        ("WorkshopRecommended", "BOOK-42", (fan, pal))]
    assert (told[0].fact("workshop"), told[0].fact("member")) == (first, ann)
    _evaluate(world, bob, r_bob, (3, 3, 3, 3), False)
    assert digest(s) == []  # no recommendation, no notice
    _evaluate(world, ann, r_again, (8, 8, 8, 8), True)
    assert digest(s) == [("WorkshopRecommended", "BOOK-42", (fan, pal))]
    _evaluate(world, ann, r_twice, (7, 7, 7, 7), True)  # the same workshop again
    assert digest(s) == [("WorkshopRecommended", "BOOK-42", (fan, pal))]
    assert s.profile_stats(ann).recommended_workshops == (first, second)  # each once
    assert s.profile_stats(bob).recommended_workshops == ()
    assert s.profile_stats(org).workshops == (first, second)  # created (PROF-2)
    assert s.profile_stats(org).recommended_workshops == ()
    assert s.followers(ann) == [fan, pal]
    assert s.balance(org) == (14, 0)
    finish(world)


@pytest.mark.rule("BOOK-43", "BOOK-5")
def test_published_evaluations_are_listed_with_their_workshop_for_anyone() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, cat = (member_with(world, n) for n in ("ann", "bob", "cat"))
    ws = workshop(s, org, cost=1)
    other = workshop(s, org, cost=1, title="Other")
    assert s.workshop_evaluations(ws) == []
    _, [r_ann] = hold_session(world, org, ws, [ann])
    _, [r_bob] = hold_session(world, org, ws, [bob])
    _, [r_cat] = hold_session(world, org, other, [cat])
    for member, registration in ((ann, r_ann), (bob, r_bob), (cat, r_cat)):
        _evaluate(world, member, registration, (6, 7, 8, 9), False)
    listed = s.workshop_evaluations(ws)
    assert [(e.id, e.member, e.workshop) for e in listed] == [(r_ann, ann, ws), (r_bob, bob, ws)]
    assert len({e.session for e in listed}) == 2  # one per session evaluated
    assert [e.id for e in s.workshop_evaluations(other)] == [r_cat]
    s.delete_workshop(org, ws)
    assert [e.id for e in s.workshop_evaluations(ws)] == [r_ann, r_bob]  # still published
    assert s.profile_stats(org).evaluations == 3
    assert s.balance(org) == (13, 0)
    assert [e for e, _, _ in digest(s)] == [
        "RequestReceived", "RequestAccepted", "SessionConfirmationRequested",
        "SessionHeld"] * 3  # and the deletion had nobody to tell
    finish(world)


# --- PROF-3..5: the profile figures -------------------------------------------------------


@pytest.mark.rule("PROF-3", "BOOK-5")
def test_the_rating_is_the_mean_of_evaluation_means_deleted_workshops_included() -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann, bob, cat = (member_with(world, n) for n in ("ann", "bob", "cat"))
    assert (s.profile_stats(org).rating, s.profile_stats(org).criteria) == (None, {})
    kept = workshop(s, org, cost=1)
    gone = workshop(s, org, cost=1, title="Gone")
    _, [r_ann, r_bob] = hold_session(world, org, kept, [ann, bob])
    _, [r_cat] = hold_session(world, org, gone, [cat])
    _evaluate(world, ann, r_ann, (10, 8, 6, 4), False)  # mean 7
    _evaluate(world, bob, r_bob, (5, 5, 5, 9), False)  # mean 6
    s.confirm_attendance(cat, r_cat)
    s.delete_workshop(org, gone)
    s.evaluate(cat, r_cat, satisfaction=0, conformity=2, teaching=4, duration=6,
               recommend=False)  # mean 3, given after the deletion: it still counts
    stats = s.profile_stats(org)
    assert stats.evaluations == 3
    assert stats.rating == pytest.approx((7 + 6 + 3) / 3)
    assert stats.criteria == pytest.approx(
        {"satisfaction": 5.0, "conformity": 5.0, "teaching": 5.0, "duration": 19 / 3})
    assert s.profile_stats(ann).rating is None  # evaluating gives no rating to the evaluator
    assert s.balance(org) == (13, 0)
    assert [e for e, _, _ in digest(s)] == [
        *["RequestReceived", "RequestAccepted"] * 2, "SessionConfirmationRequested",
        "SessionHeld", "RequestReceived", "RequestAccepted", "SessionConfirmationRequested",
        "SessionHeld"]
    finish(world)


@pytest.mark.rule("PROF-4")
@pytest.mark.parametrize(("recommended", "evaluations", "rate"), [
    (1, 8, 13),  # 12.5 -> 13: half up
    (2, 3, 67),  # 66.67
    (1, 3, 33),  # 33.33
    (3, 8, 38),  # 37.5 -> 38
    (5, 8, 63),  # 62.5 -> 63
    (0, 2, 0),
    (1, 2, 50),
    (8, 8, 100),
])
def test_the_recommendation_rate_is_a_whole_percentage_rounded_half_up(
        recommended: int, evaluations: int, rate: int) -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    people = [member_with(world, f"p{i}") for i in range(evaluations + 1)]
    ws = workshop(s, org, cost=0, capacity=len(people))
    assert s.profile_stats(org).recommendation_rate is None  # no evaluation yet
    _, registrations = hold_session(world, org, ws, people)
    # The last participant attends but does not evaluate: not in the denominator.
    for index, (member, registration) in enumerate(zip(people[:-1], registrations,
                                                       strict=False)):
        _evaluate(world, member, registration, (5, 5, 5, 5), index < recommended)
    stats = s.profile_stats(org)
    assert (stats.recommendation_rate, stats.evaluations) == (rate, evaluations)
    assert len(notices(s, "WorkshopRecommended")) == 0  # nobody follows them
    assert s.balance(org) == (10, 0)
    finish(world)


@pytest.mark.rule("PROF-5")
def test_levels_count_held_sessions_organized_and_attended_for_individuals() -> None:
    world = make_world()
    s = world.service
    ida = member_with(world, "ida")
    pat = member_with(world, "pat")
    pro = professional(world, "pro")
    free = workshop(s, ida, cost=0, capacity=2)
    seen: list[tuple[str, str, str]] = []
    for index in range(11):
        _, [r_pat, _] = hold_session(world, ida, free, [pat, pro])
        if index == 0:
            s.declare_absent(pat, r_pat)  # absent: not counted
        seen.append((s.profile_stats(ida).level, s.profile_stats(pat).level,
                     s.profile_stats(pro).level))
    assert [ida_level for ida_level, _, _ in seen] == (
        ["beginner"] * 4 + ["intermediate"] * 6 + ["experienced"])  # 5 and 10, then 11
    assert [pat_level for _, pat_level, _ in seen] == (
        ["beginner"] * 5 + ["intermediate"] * 6)  # one session fewer: absent once
    assert {pro_level for _, _, pro_level in seen} == {"beginner"}  # attending: not counted
    stats = s.profile_stats(pat)
    assert (stats.sessions_attended, stats.sessions_organized) == (10, 0)
    # A professional counts the sessions they organize.
    theirs = workshop(s, pro, cost=0, capacity=1)
    for _ in range(5):
        hold_session(world, pro, theirs, [pat])
    assert (s.profile_stats(pro).level, s.profile_stats(pro).sessions_organized) == (
        "intermediate", 5)
    assert s.profile_stats(pro).sessions_attended == 11
    assert s.profile_stats(pat).level == "experienced"  # 15 attended
    # An individual adds both: 3 organized + 2 attended = 5.
    mia = member_with(world, "mia")
    hers = workshop(s, mia, cost=0, capacity=1)
    for _ in range(3):
        hold_session(world, mia, hers, [pat])
    hold_session(world, pro, theirs, [mia])
    assert s.profile_stats(mia).level == "beginner"
    hold_session(world, pro, theirs, [mia])
    mine = s.profile_stats(mia)
    assert (mine.sessions_organized, mine.sessions_attended, mine.level) == (
        3, 2, "intermediate")
    # A session not held counts for nobody.
    flop = s.plan_session(pro, theirs, world.clock.now() + timedelta(hours=1))
    book(s, pro, ida, flop)
    world.clock.set(s.session(flop).end)
    s.confirm_not_held(pro, flop)
    assert (s.profile_stats(pro).sessions_organized, s.profile_stats(ida).sessions_attended) == (
        7, 0)
    assert s.balance(ida) == s.balance(pat) == s.balance(pro) == s.balance(mia) == (10, 0)
    assert len(notices(s, "SessionHeld")) == 21
    finish(world)


# --- SPONSOR-3: the first held session ----------------------------------------------------


@pytest.mark.rule("SPONSOR-3", "BOOK-30")
@pytest.mark.parametrize("referee_role", ["participant", "organizer"])
def test_the_first_held_session_of_a_referee_pays_the_sponsor_once(referee_role: str) -> None:
    world = make_world()
    s = world.service
    spo = member_with(world, "spo")
    ref = member_with(world, "ref", sponsor=email_of("spo"))
    other = member_with(world, "other")
    org, guest = (other, ref) if referee_role == "participant" else (ref, other)
    ws = workshop(s, org, cost=1)
    flop = s.plan_session(org, ws, at(1))
    book(s, org, guest, flop)
    world.clock.set(at(1, 12))
    s.confirm_not_held(org, flop)  # not held: not a first workshop
    assert s.balance(spo) == (10, 0)
    notices(s)
    hold_session(world, org, ws, [guest])
    assert s.balance(spo) == (15, 0)
    assert digest(s, "ReferralRewardPaid") == [("ReferralRewardPaid", "SPONSOR-3", (spo,))]
    hold_session(world, org, ws, [guest])
    assert s.balance(spo) == (15, 0)  # once
    assert digest(s, "ReferralRewardPaid") == []
    assert s.balance(org) == (12, 0)
    assert s.balance(guest) == (8, 0)
    finish(world)


# --- REFUND-1..5: the matrix, walked cell by cell -----------------------------------------

STAGES: Final = ("pending_session", "pending_future", "registered", "waitlisted",
                 "registered_ended")
STAGE_STATE: Final = {"pending_session": R.PENDING, "pending_future": R.PENDING,
                      "registered": R.REGISTERED, "waitlisted": R.WAITLISTED,
                      "registered_ended": R.REGISTERED}

#: REFUND-1..4 (and ACC-7's purge), restated as a grid. Columns follow STAGES:
#: a pending request for a planned session; a pending request for a future session; a
#: registration before the start; a waitlist entry; a registration in a session that
#: ended (awaiting its organizer). A cell names the rule that refunds the member
#: ("REFUND-1", "REFUND-2", "REFUND-3", "ACC-7"), "REFUND-4" when the organizer is paid,
#: "keep" when the stars stay held and the registration live, "no" when the command is
#: refused and changes nothing, and "n/a" for a deadline the stage cannot reach (its own
#: earlier deadline ends it first, or the instant is already past).
GRID: Final[dict[str, tuple[str, str, str, str, str]]] = {
    #                     pending_s   pending_f   registered  waitlisted  reg_ended
    "member_cancels":     ("REFUND-1", "REFUND-1", "no",       "no",       "no"),
    "refuse":             ("REFUND-1", "REFUND-1", "no",       "no",       "no"),
    "expiry_at_start":    ("REFUND-1", "n/a",      "keep",     "n/a",      "n/a"),
    "expiry_7_days":      ("keep",     "REFUND-1", "keep",     "keep",     "keep"),
    "move":               ("REFUND-1", "keep",     "keep",     "keep",     "no"),
    "cancel_session":     ("REFUND-1", "keep",     "REFUND-2", "keep",     "no"),
    "delete_workshop":    ("REFUND-1", "REFUND-1", "REFUND-2", "REFUND-3", "keep"),
    "unregister":         ("no",       "no",       "REFUND-2", "no",       "no"),
    "cancel_transaction": ("no",       "no",       "REFUND-2", "REFUND-3", "no"),
    "leave":              ("no",       "no",       "no",       "REFUND-3", "no"),
    "waitlist_15_days":   ("keep",     "n/a",      "keep",     "REFUND-3", "n/a"),
    "held":               ("no",       "no",       "no",       "no",       "REFUND-4"),
    "not_held":           ("no",       "no",       "no",       "no",       "REFUND-2"),
    "silence":            ("n/a",      "n/a",      "REFUND-2", "n/a",      "REFUND-2"),
    "purge":              ("ACC-7",    "ACC-7",    "ACC-7",    "ACC-7",    "keep"),
}
REFUNDING: Final = frozenset({"REFUND-1", "REFUND-2", "REFUND-3", "ACC-7"})

#: How each event ends a registration when it does: final state, void reason (None: paid),
#: and the notice it sends about it (event, rule, recipients by role).
ENDS: Final[dict[str, tuple[RegistrationState, VoidReason | None, tuple[str, str, str]]]] = {
    "member_cancels": (R.CANCELLED, VoidReason.CANCELLED_BY_MEMBER,
                       ("RequestCancelled", "BOOK-17", "org")),
    "refuse": (R.REFUSED, VoidReason.REFUSED, ("RequestRefused", "BOOK-14", "ann")),
    "expiry_at_start": (R.EXPIRED, VoidReason.EXPIRED, ("RequestExpired", "BOOK-16", "ann")),
    "expiry_7_days": (R.EXPIRED, VoidReason.EXPIRED, ("RequestExpired", "BOOK-16", "ann")),
    "move": (R.VOIDED_BY_MOVE, VoidReason.SESSION_MOVED,
             ("RequestVoidedBySessionMove", "BOOK-8", "ann")),
    "cancel_session": (R.SESSION_CANCELLED, VoidReason.SESSION_CANCELLED,
                       ("SessionCancelled", "BOOK-9", "ann")),
    "delete_workshop": (R.WORKSHOP_DELETED, VoidReason.WORKSHOP_DELETED,
                        ("WorkshopDeleted", "BOOK-5", "ann")),
    "unregister": (R.UNREGISTERED, VoidReason.UNREGISTERED,
                   ("MemberUnregistered", "BOOK-19", "org")),
    "cancel_transaction": (R.TRANSACTION_CANCELLED, VoidReason.TRANSACTION_CANCELLED,
                           ("TransactionCancelled", "BOOK-20", "ann")),
    "leave": (R.LEFT_WAITLIST, VoidReason.LEFT_WAITLIST, ("WaitlistLeft", "BOOK-25", "org")),
    "waitlist_15_days": (R.WAITLIST_EXPIRED, VoidReason.WAITLIST_EXPIRED,
                         ("WaitlistExpired", "BOOK-24", "ann")),
    "held": (R.PAID, None, ("SessionHeld", "BOOK-30", "ann")),
    "not_held": (R.REFUNDED_NOT_HELD, VoidReason.NOT_HELD, ("SessionNotHeld", "BOOK-31", "ann")),
    "silence": (R.REFUNDED_ORGANIZER_SILENT, VoidReason.ORGANIZER_SILENT,
                ("SessionLapsed", "BOOK-32", "ann+org")),
    "purge": (R.ACCOUNT_PURGED, VoidReason.ACCOUNT_PURGED, ("AccountPurged", "ACC-7", "ann")),
}

#: A short retention so the purge comes before every other deadline of the scene.
MATRIX_POLICY: Final = attrs.evolve(CHEAP_POLICY, account_retention_days=1)


@attrs.define
class Scene:
    world: World
    org: str
    ann: str
    workshop: str
    session: str  # the registration's session, or the planned one for future requests
    registration: str


def _scene(stage: str) -> Scene:
    """ann (20 stars) holds 2 seats x 3 stars = 6 in the given stage; a session at day 20."""
    world = make_world(policy=MATRIX_POLICY)
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann", 20)
    ws = workshop(s, org, cost=3, capacity=4)
    ses = s.plan_session(org, ws, at(20))
    if stage == "pending_session":
        registration = s.request(ann, session_id=ses, seats=2)
    elif stage == "pending_future":
        registration = s.request(ann, workshop_id=ws, seats=2)
    elif stage == "registered":
        registration = book(s, org, ann, ses, seats=2)
    elif stage == "waitlisted":
        registration = waitlist(s, org, ann, ws, seats=2)
    else:
        ses = s.plan_session(org, ws, at(1))
        registration = book(s, org, ann, ses, seats=2)
        world.clock.set(at(1, 12))
        s.run_due()
        assert s.session(ses).state is SessionState.AWAITING_CONFIRMATION
    assert s.registration(registration).state is STAGE_STATE[stage]
    assert s.balance(ann) == (14, 6)
    notices(s)
    return Scene(world=world, org=org, ann=ann, workshop=ws, session=ses,
                 registration=registration)


def _until(scene: Scene, instant: datetime) -> None:
    scene.world.clock.set(instant)
    scene.world.service.run_due()


def _event(scene: Scene, event: str) -> Callable[[], object]:
    s, policy = scene.world.service, MATRIX_POLICY
    org, ann, reg = scene.org, scene.ann, scene.registration
    made = s.registration(reg)
    session = s.session(scene.session)

    def purge() -> None:
        _until(scene, s.deactivate(ann))

    events: dict[str, Callable[[], object]] = {
        "member_cancels": lambda: s.cancel_request(ann, reg),
        "refuse": lambda: s.refuse(org, reg),
        "expiry_at_start": lambda: _until(scene, session.start),
        "expiry_7_days": lambda: _until(scene, policy.add_days(made.requested_at, 7)),
        "move": lambda: s.move_session(org, session.id, session.start + timedelta(days=1)),
        "cancel_session": lambda: s.cancel_session(org, session.id),
        "delete_workshop": lambda: s.delete_workshop(org, scene.workshop),
        "unregister": lambda: s.unregister(ann, reg),
        "cancel_transaction": lambda: s.cancel_transaction(org, reg),
        "leave": lambda: s.leave_waitlist(ann, reg),
        "waitlist_15_days": lambda: _until(
            scene, policy.add_days(made.accepted_at or made.requested_at, 15)),
        "held": lambda: s.confirm_held(org, session.id),
        "not_held": lambda: s.confirm_not_held(org, session.id),
        "silence": lambda: _until(scene, policy.add_days(session.end, 7)),
        "purge": purge,
    }
    return events[event]


def _end_transfers(scene: Scene) -> int:
    """How many ledger transfers ended the registration's hold (REFUND-5: at most one)."""
    return sum(1 for t in scene.world.store.book.transfers
               if t.hold_id == scene.registration
               and t.kind in (TransferKind.HOLD_POSTED, TransferKind.HOLD_VOIDED))


CELLS: Final = [
    pytest.param(stage, event, GRID[event][column], id=f"{stage}-{event}")
    for event in GRID
    for column, stage in enumerate(STAGES)
    if GRID[event][column] != "n/a"
]


@pytest.mark.rule("REFUND-1", "REFUND-2", "REFUND-3", "REFUND-4", "REFUND-5", "ACC-7")
@pytest.mark.parametrize(("stage", "event", "cell"), CELLS)
def test_the_refund_matrix_cell_by_cell(stage: str, event: str, cell: str) -> None:
    scene = _scene(stage)
    world, s = scene.world, scene.world.service
    org, ann, reg = scene.org, scene.ann, scene.registration
    act = _event(scene, event)
    purged = event == "purge"
    if cell == "no":
        before = state_of(world.store)
        with pytest.raises(SkilltrocError) as info:
            act()
        assert info.value.code == "state_conflict" and info.value.rule, str(info.value)
        assert state_of(world.store) == before
        assert digest(s) == []
    else:
        act()
    state, reason, (notice, rule, whom) = ENDS[event]
    hold = ledger_hold(world, reg)
    assert hold is not None and hold.amount == 6
    told = digest(s)
    recipients = {"ann": (ann,), "org": (org,), "ann+org": (ann, org)}[whom]
    if cell in REFUNDING or cell == "REFUND-4":  # the rule the library gives this end
        [move] = [m for m in REGISTRATION_LIFECYCLE
                  if m.source is STAGE_STATE[stage] and m.target is state]
        assert hold_rule(STAGE_STATE[stage], move.trigger) == cell
    if cell in REFUNDING:
        assert s.registration(reg).state is state
        assert (hold.state, hold.void_reason) == (HoldState.VOIDED, reason)
        assert s.balance(ann) == ((0, 0) if purged else (20, 0))
        assert s.balance(org) == (10, 0)
        assert (notice, rule, recipients) in told
    elif cell == "REFUND-4":
        assert s.registration(reg).state is R.PAID
        assert (hold.state, hold.payee) == (HoldState.POSTED, org)
        assert (s.balance(ann), s.balance(org)) == ((14, 0), (16, 0))
        assert (notice, rule, recipients) in told
    else:  # keep, or refused
        assert s.registration(reg).state is STAGE_STATE[stage]
        assert hold.state is HoldState.OPEN
        assert s.balance(ann) == ((0, 6) if purged else (14, 6))
        # kept holds are not announced as ended; a purge and a workshop deleted under a
        # started session are still announced (BOOK-5 tells every registered member)
        announced = notice == "AccountPurged" or (
            event == "delete_workshop" and stage == "registered_ended")
        assert ((notice, rule, recipients) in told) is announced
    # Seats (BOOK-18): only a registered member leaving a session that is still planned
    # gives seats back; a cancelled session takes no more requests, so it is not checked.
    if s.session(scene.session).state is not SessionState.CANCELLED:
        gives_back = stage == "registered" and event in (
            "unregister", "cancel_transaction", "purge")
        seated = stage in ("registered", "registered_ended") and not gives_back
        assert s.seats_left(scene.session) == (2 if seated else 4)
    ended = cell not in ("keep", "no")
    assert _end_transfers(scene) == (1 if ended else 0)
    if ended and not purged:  # REFUND-5 as the member's statement shows it
        [line] = hold_end_lines(s, ann, reg)
        assert (line.amount, line.held_change) == ((6, -6) if reason else (0, -6))
    # Whatever comes later (starts, ends, lapses, windows), a hold ends at most once.
    final = s.registration(reg).state
    _until(scene, at(60))
    assert _end_transfers(scene) <= 1
    if ended:
        assert s.registration(reg).state is final
    finish(world)


@pytest.mark.rule("REFUND-5")
def test_the_matrix_is_complete_and_reaches_every_way_a_registration_ends() -> None:
    codes = {"REFUND-1", "REFUND-2", "REFUND-3", "REFUND-4", "ACC-7", "keep", "no", "n/a"}
    assert set(GRID) == set(ENDS)
    assert all(len(row) == len(STAGES) and set(row) <= codes for row in GRID.values())
    reached = {ENDS[event][0] for event, row in GRID.items()
               if any(cell in REFUNDING or cell == "REFUND-4" for cell in row)}
    assert reached == set(REGISTRATION_LIFECYCLE.final)
    # REFUND-4: the only payment is a held session, and only from a registration.
    paying = [(event, STAGES[i]) for event, row in GRID.items()
              for i, cell in enumerate(row) if cell == "REFUND-4"]
    assert paying == [("held", "registered_ended")]


@pytest.mark.rule("REFUND-5")
def test_every_move_that_ends_a_registration_ends_its_hold_exactly_one_way() -> None:
    """The refund matrix as data: each trigger into a final state has one hold outcome
    (paid, or refunded for its reason), and no trigger keeping a registration live has
    one; only a held session pays."""
    final = REGISTRATION_LIFECYCLE.final
    ending = {move.trigger for move in REGISTRATION_LIFECYCLE if move.target in final}
    assert ending == set(HOLD_OUTCOMES)
    assert not {move.trigger for move in REGISTRATION_LIFECYCLE
                if move.target not in final} & set(HOLD_OUTCOMES)
    assert [trigger for trigger, outcome in HOLD_OUTCOMES.items() if outcome == POST] == ["held"]
    reasons = [outcome for outcome in HOLD_OUTCOMES.values() if outcome != POST]
    assert all(isinstance(reason, VoidReason) for reason in reasons)
    assert len(set(reasons)) == len(reasons)
    # REFUND-1..3: what refunds each kind of live stage.
    assert {e for e, row in GRID.items() if row[0] == "REFUND-1"} == {
        "member_cancels", "refuse", "expiry_at_start", "move", "cancel_session",
        "delete_workshop"}
    assert {e for e, row in GRID.items() if row[2] == "REFUND-2"} | {
        e for e, row in GRID.items() if row[4] == "REFUND-2"} == {
        "unregister", "cancel_session", "cancel_transaction", "delete_workshop", "not_held",
        "silence"}
    assert {e for e, row in GRID.items() if row[3] == "REFUND-3"} == {
        "leave", "cancel_transaction", "waitlist_15_days", "delete_workshop"}


# --- Regression tests ---------------------------------------------------------------------


@pytest.mark.rule("ACC-7", "BOOK-31", "BOOK-32", "REFUND-2")
@pytest.mark.parametrize("answer", ["not_held", "silence"])
def test_regression_a_refund_after_the_purge_goes_to_issuance_not_to_a_dead_wallet(
        answer: str) -> None:
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    ses = s.plan_session(org, workshop(s, org, cost=3), at(14))  # ends at(14, 12)
    registration = book(s, org, ann, ses, seats=2)
    purge_at = s.deactivate(ann)
    assert purge_at == at(15)
    world.clock.set(purge_at)
    s.run_due()
    # The session had started: the registration keeps its lifecycle through the purge.
    assert s.registration(registration).state is R.REGISTERED
    assert s.balance(ann) == (0, 6)
    notices(s)
    # A purged account is told nothing more (ACC-7): no notice names ann after the purge.
    if answer == "not_held":
        s.confirm_not_held(org, ses)
        expected: list[Digest] = []
    else:
        world.clock.set(at(21, 12))
        s.run_due()
        expected = [("SessionLapsed", "BOOK-32", (org,))]
    hold = ledger_hold(world, registration)
    assert hold is not None and hold.state is HoldState.VOIDED
    # The refund cannot stay in a purged wallet nobody can ever use: like the rest of the
    # balance at the purge, it goes to the platform's issuance account, recorded.
    assert s.balance(ann) == (0, 0)
    assert s.supply().returned_by_kind == {"account_purged": 10}
    swept = [t for t in world.store.book.transfers if t.kind is TransferKind.ACCOUNT_PURGED]
    assert [(t.debit, t.amount) for t in swept] == [(ann, 4), (ann, 6)]
    assert s.balance(org) == (10, 0)
    assert digest(s) == expected
    finish(world)


@pytest.mark.rule("ACC-7", "BOOK-30", "BOOK-31")
def test_regression_a_purged_participant_of_a_started_session_is_told_nothing_more() -> None:
    """Found by the simulator: the session's aftermath notices named the purged member."""
    world = make_world()
    s = world.service
    org = member_with(world, "org")
    ann = member_with(world, "ann")
    bob = member_with(world, "bob")
    ses = s.plan_session(org, workshop(s, org, cost=2), at(14))
    book(s, org, ann, ses)
    book(s, org, bob, ses)
    notices(s)
    purge_at = s.deactivate(ann)
    assert purge_at == at(15) > s.session(ses).end  # the session ended before the purge
    world.clock.set(purge_at)
    s.run_due()
    assert digest(s) == [  # the deactivation notice was scrubbed by the purge
        ("SessionConfirmationRequested", "BOOK-30", (org,)), ("AccountPurged", "ACC-7", (ann,))]
    s.confirm_held(org, ses)
    assert digest(s) == [("SessionHeld", "BOOK-30", (bob,))]
    assert s.balance(org) == (14, 0)
    finish(world)


@pytest.mark.rule("BOOK-16", "BOOK-24", "BOOK-30", "BOOK-32")
def test_a_deadline_left_behind_by_what_moved_on_changes_nothing() -> None:
    """Each command that moves a registration or a session on cancels its deadlines; one
    left behind all the same (a store restored from a backup, say) finds them moved on
    and does nothing."""
    world = make_world()
    service = world.service
    org, ann = professional(world, "org"), member_with(world, "ann", 20)
    session, [paid] = hold_session(world, org, workshop(service, org), [ann])
    before = state_of(world.store)
    uow = world.store.begin()
    for kind, ref in ((SESSION_END, session), (CONFIRMATION_WINDOW, session),
                      (REQUEST_DUE, paid), (WAITLIST_WINDOW, paid)):
        uow.schedule(Timer(kind=kind, ref=ref, due=world.clock.now()))
    uow.commit()
    assert service.run_due() == 4
    assert state_of(world.store) == before
