"""Booking parity: booking flows give the same results on every store.

Requests, answers, the waitlist, joins, session ends, evaluations, moves, deadlines and
a workshop's deletion, run as service commands over the store under test, down to
balances, the end of every hold, seats, states and the notices in the outbox.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from ...adapters.clocks import ManualClock
from ...booking import Attendance, RegistrationState, SessionState
from ...errors import StateConflictError
from ...ledger import HoldState, Ledger, TransferKind, VoidReason
from ...ports import Store
from ...service import Skilltroc
from .base import CHEAP_POLICY, T0, StoreUnderTest, service_on

__all__ = ["BookingParityContract"]


class BookingParityContract(StoreUnderTest):
    """Abstract: booking flows on ``create_store()`` (see :class:`StoreUnderTest`)."""

    def _booking_start(self, store: Store) -> tuple[Skilltroc, ManualClock, list[str]]:
        """A service, its clock, and an organizer plus three participants (10 stars each)."""
        service, clock = service_on(store)
        people = [service.signup(f"{name}@example.org", provider="google").member_id
                  for name in ("org", "al", "bo", "cy")]
        return service, clock, people

    @staticmethod
    def _told(service: Skilltroc) -> list[tuple[str, str, tuple[str, ...]]]:
        """Every notice so far as (event, rule, recipients), acknowledged."""
        items = service.drain_notifications(1000)
        service.ack([i.seq for i in items])
        return [(i.notification.event, i.notification.rule, i.notification.recipients)
                for i in items]

    @pytest.mark.rule("BOOK-11", "BOOK-14", "BOOK-18", "BOOK-22", "BOOK-23", "BOOK-30",
                      "BOOK-31", "BOOK-40", "BOOK-43", "REFUND-4", "REFUND-5")
    def test_a_booking_flow_gives_the_same_results_on_every_store(
        self, store: Store
    ) -> None:
        """Request, accept, waitlist, join, end, confirm held, evaluate, not held, leave."""
        service, clock, (org, al, bo, cy) = self._booking_start(store)
        service.buy_stars(al, 20, "PAY-AL")
        service.buy_stars(bo, 20, "PAY-BO")
        workshop = service.create_workshop(org, title="Bread", description="Sourdough",
                                           domain="cooking", cost=3, capacity=4)
        first = service.plan_session(org, workshop, T0 + timedelta(days=3))
        r1 = service.request(al, session_id=first, seats=2)
        r2 = service.request(bo, session_id=first, seats=3)
        r3 = service.request(cy, workshop_id=workshop, seats=1)
        assert [service.balance(m) for m in (al, bo, cy)] == [(24, 6), (21, 9), (7, 3)]
        service.accept(org, r1)
        with pytest.raises(StateConflictError):  # BOOK-14: only 2 seats are left for 3
            service.accept(org, r2)
        service.accept_future(org, r2)
        service.accept_future(org, r3)
        assert service.contact_email(al, r1) == "org@example.org"  # BOOK-15
        second = service.plan_session(org, workshop, T0 + timedelta(days=5), capacity=5)
        service.join(bo, r2, second)
        assert (service.seats_left(first), service.seats_left(second)) == (2, 2)

        clock.set(T0 + timedelta(days=3, hours=2))  # the first session ends
        assert service.run_due() == 1
        service.confirm_held(org, first)
        service.confirm_attendance(al, r1)
        service.evaluate(al, r1, satisfaction=9, conformity=8, teaching=10, duration=7,
                         recommend=True)
        clock.set(T0 + timedelta(days=5, hours=2))  # the second one ends
        service.confirm_not_held(org, second)
        service.leave_waitlist(cy, r3)
        service.check_invariants(deep=True)

        assert [service.balance(m) for m in (org, al, bo, cy)] == [
            (16, 0), (24, 0), (30, 0), (10, 0)]
        states = [service.registration(r) for r in (r1, r2, r3)]
        assert [r.state for r in states] == [
            RegistrationState.PAID, RegistrationState.REFUNDED_NOT_HELD,
            RegistrationState.LEFT_WAITLIST]
        assert (states[0].attendance, states[0].evaluated) == (Attendance.ATTENDED, True)
        assert states[1].session == second
        sessions = [service.session(s) for s in (first, second)]
        assert [(s.state, s.seats_taken, s.capacity) for s in sessions] == [
            (SessionState.HELD, 2, 4), (SessionState.NOT_HELD, 3, 5)]
        assert [e.mean for e in service.workshop_evaluations(workshop)] == [8.5]
        stats = service.profile_stats(org)
        assert (stats.rating, stats.recommendation_rate, stats.sessions_organized) == (
            8.5, 100, 1)
        assert [self._hold_end(store, r) for r in (r1, r2, r3)] == [
            (HoldState.POSTED, org, None),  # REFUND-4: paid in full to the organizer
            (HoldState.VOIDED, None, VoidReason.NOT_HELD),
            (HoldState.VOIDED, None, VoidReason.LEFT_WAITLIST),
        ]
        assert [(line.kind, line.amount, line.held_change, line.balance)
                for line in service.statement(al).items] == [
            (TransferKind.SIGNUP_BONUS, 10, 0, 10),
            (TransferKind.PURCHASE, 20, 0, 30),
            (TransferKind.HOLD, -6, 6, 24),
            (TransferKind.HOLD_POSTED, 0, -6, 24),
        ]
        assert self._told(service) == [
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestAccepted", "BOOK-14", (al,)),
            ("RequestWaitlisted", "BOOK-14", (bo,)),
            ("RequestWaitlisted", "BOOK-14", (cy,)),
            ("SessionPlanned", "BOOK-10", (bo, cy)),
            ("SessionJoined", "BOOK-23", (bo, org)),
            ("SessionConfirmationRequested", "BOOK-30", (org,)),
            ("SessionHeld", "BOOK-30", (al,)),
            ("SessionConfirmationRequested", "BOOK-30", (org,)),
            ("SessionNotHeld", "BOOK-31", (bo,)),
            ("WaitlistLeft", "BOOK-25", (org,)),
        ]

    @pytest.mark.rule("BOOK-5", "BOOK-8", "BOOK-16", "BOOK-24", "REFUND-1", "REFUND-2",
                      "REFUND-3", "REFUND-5")
    def test_moves_deadlines_and_a_deletion_refund_alike_on_every_store(
        self, store: Store
    ) -> None:
        """A move voids a pending request; deadlines expire a request and a waitlist
        entry; deleting the workshop refunds everyone but a session already started."""
        service, clock, (org, al, bo, cy) = self._booking_start(store)
        workshop = service.create_workshop(org, title="Knots", description="Sailing knots",
                                           domain="sailing", cost=2, capacity=3)
        soon = service.plan_session(org, workshop, T0 + timedelta(days=1))
        later = service.plan_session(org, workshop, T0 + timedelta(days=2))
        r_al = service.request(al, session_id=later, seats=1)
        service.accept(org, r_al)
        r_bo = service.request(bo, session_id=later, seats=2)
        service.move_session(org, later, T0 + timedelta(days=4))  # BOOK-8: bo's is voided
        assert service.registration(r_bo).state is RegistrationState.VOIDED_BY_MOVE
        assert service.balance(bo) == (10, 0)
        r_cy = service.request(cy, workshop_id=workshop, seats=2)  # due in 7 days
        r_bo_soon = service.request(bo, session_id=soon, seats=1)
        service.accept(org, r_bo_soon)
        r_al_soon = service.request(al, session_id=soon, seats=1)  # never answered

        clock.set(T0 + timedelta(days=1, minutes=30))  # "soon" has started
        service.delete_workshop(org, workshop)
        assert service.registration(r_al_soon).state is RegistrationState.EXPIRED  # BOOK-16
        assert [service.registration(r).state for r in (r_al, r_cy, r_bo_soon)] == [
            RegistrationState.WORKSHOP_DELETED, RegistrationState.WORKSHOP_DELETED,
            RegistrationState.REGISTERED]  # BOOK-5: a started session lives on
        assert [service.session(s).state for s in (soon, later)] == [
            SessionState.PLANNED, SessionState.CANCELLED]
        assert [service.balance(m) for m in (org, al, bo, cy)] == [
            (10, 0), (10, 0), (8, 2), (10, 0)]
        clock.set(T0 + timedelta(days=1, hours=3))
        service.confirm_held(org, soon)

        # A waitlist entry of another workshop expires after 15 days (BOOK-24).
        other = service.create_workshop(org, title="Rope", description="Splices",
                                        domain="sailing", cost=1, capacity=2)
        r_cy_other = service.request(cy, workshop_id=other, seats=2)
        service.accept_future(org, r_cy_other)
        clock.advance(days=15, zone=CHEAP_POLICY.timezone)
        assert service.run_due() == 1
        assert service.registration(r_cy_other).state is RegistrationState.WAITLIST_EXPIRED
        service.check_invariants(deep=True)

        assert [service.balance(m) for m in (org, al, bo, cy)] == [
            (12, 0), (10, 0), (8, 0), (10, 0)]
        assert [self._hold_end(store, r) for r in (
            r_al, r_bo, r_cy, r_bo_soon, r_al_soon, r_cy_other)] == [
            (HoldState.VOIDED, None, VoidReason.WORKSHOP_DELETED),
            (HoldState.VOIDED, None, VoidReason.SESSION_MOVED),
            (HoldState.VOIDED, None, VoidReason.WORKSHOP_DELETED),
            (HoldState.POSTED, org, None),
            (HoldState.VOIDED, None, VoidReason.EXPIRED),
            (HoldState.VOIDED, None, VoidReason.WAITLIST_EXPIRED),
        ]
        supply = service.supply()
        assert (supply.held, supply.supply, supply.issued) == (0, 40, 40)
        assert self._told(service) == [
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestAccepted", "BOOK-14", (al,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestVoidedBySessionMove", "BOOK-8", (bo,)),
            ("SessionMoved", "BOOK-8", (al,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestAccepted", "BOOK-14", (bo,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestExpired", "BOOK-16", (al,)),
            ("WorkshopDeleted", "BOOK-5", (al, cy, bo)),  # bo: started, told
            ("SessionConfirmationRequested", "BOOK-30", (org,)),
            ("SessionHeld", "BOOK-30", (bo,)),
            ("RequestReceived", "BOOK-11", (org,)),
            ("RequestWaitlisted", "BOOK-14", (cy,)),
            ("WaitlistExpired", "BOOK-24", (cy,)),
        ]

    @staticmethod
    def _hold_end(store: Store, hold_id: str) -> tuple[HoldState, str | None,
                                                        VoidReason | None]:
        uow = store.begin()
        try:
            hold = Ledger(uow.book).get_hold(hold_id)
        finally:
            uow.rollback()
        return hold.state, hold.payee, hold.void_reason
