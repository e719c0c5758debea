"""The simulator's checks of the library's state against the reference model.

After every step: the notices appended are exactly those the step's transitions imply;
the stars of every member the step touched, and the platform totals, match the model;
every request the step ended has its hold ended once, for the reason the refund matrix
gives, no later than its deadline; every session it touched has the model's seats and
is not over capacity.

Every ``check_every`` steps, and at the end: the ledger invariants (deep every tenth
time), the ad queues, and every member, open hold and session against the model.

State is read through a unit of work opened on the store and rolled back, so checks
never apply a deadline or change anything.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..booking import Session
from ..ledger import Ledger
from ..ports import UnitOfWork
from ..service import kinds
from .context import StepContext
from .model import MReg

__all__ = ["StateChecks"]

class StateChecks:
    """The library's state, read raw, against the model."""

    def __init__(self, ctx: StepContext) -> None:
        self.ctx = ctx
        self.app = ctx.app
        self.inner = ctx.inner
        self.clock = ctx.clock
        self.model = ctx.model
        self.summary = ctx.summary

    def after_step(self) -> None:
        model = self.model
        summary = self.summary
        actual: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []
        while True:
            items = self.inner.drain_notifications(500)
            if not items:
                break
            for item in items:
                n = item.notification
                actual.append((n.event, tuple(sorted(n.recipients)), tuple(sorted(n.emails))))
            self.inner.ack([item.seq for item in items])
        summary.checks += 1
        if sorted(actual) != sorted(model.notes):
            raise self.ctx.fail("notices", f"appended {sorted(actual)}, the transitions imply "
                                f"{sorted(model.notes)}")
        uow = self.inner.begin()
        try:
            self._check_members(uow, model.touched)
            self._check_totals(uow)
            self._check_sessions(uow, model.touched_sessions)
            self._check_ended(uow, model.ended)
        finally:
            uow.rollback()

    def _check_members(self, uow: UnitOfWork, members: Iterable[str]) -> None:
        book = uow.book
        model = self.model
        for member_id in members:
            self.summary.checks += 1
            found = book.balance(member_id)
            expected = model.members[member_id]
            got = (found.available, found.held) if found else None
            if got != (expected.available, expected.held):
                raise self.ctx.fail("stars", f"{member_id} has {got} (available, held); the model "
                                    f"says {(expected.available, expected.held)}")
            if expected.available < 0 or expected.held < 0:
                raise self.ctx.fail("stars", f"{member_id} went negative: {got}")
            entity = uow.get(kinds.MEMBERS, member_id)
            status = entity.status.value if entity else None
            if status != expected.status:
                raise self.ctx.fail("members", f"{member_id} is {status}, the model says "
                                    f"{expected.status}")

    def _check_totals(self, uow: UnitOfWork) -> None:
        self.summary.checks += 1
        model = self.model
        supply = Ledger(uow.book).supply()
        got = (supply.in_wallets, supply.held, supply.in_gift_escrow, supply.ad_spent,
               supply.issued, supply.returned)
        expected = (model.wallets, model.held, model.escrow, model.ad_spend, model.issued,
                    model.returned)
        if got != expected:
            raise self.ctx.fail("supply", f"(wallets, held, escrow, ad spend, issued, returned) = "
                                f"{got}; the model says {expected}")

    def _check_sessions(self, uow: UnitOfWork, sessions: Iterable[str]) -> None:
        for session_id in sessions:
            self.summary.checks += 1
            found: Session | None = uow.get(kinds.SESSIONS, session_id)
            expected = self.model.sessions[session_id]
            if found is None:
                raise self.ctx.fail("seats", f"session {session_id} is missing")
            if found.seats_taken > found.capacity:
                raise self.ctx.fail("seats", f"session {session_id} is over capacity: "
                                    f"{found.seats_taken} of {found.capacity}")
            got = (found.seats_taken, found.capacity, found.state.value, found.start)
            want = (expected.seats_taken, expected.capacity, expected.state, expected.start)
            if got != want:
                raise self.ctx.fail("seats", f"session {session_id} is (seats, capacity, state, "
                                    f"start) {got}; the model says {want}")

    def _check_ended(self, uow: UnitOfWork, regs: Iterable[MReg]) -> None:
        book = uow.book
        for reg in regs:
            self.summary.checks += 1
            found = uow.get(kinds.REGISTRATIONS, reg.id)
            state = found.state.value if found else None
            if state != reg.state:
                raise self.ctx.fail("requests", f"{reg.id} is {state}; the model says {reg.state}")
            if not reg.amount:
                continue
            hold = book.hold(reg.id)
            if hold is None or hold.is_open:
                raise self.ctx.fail("holds", f"hold {reg.id} should have ended ({reg.outcome})")
            how = "posted" if hold.void_reason is None else hold.void_reason.value
            if how != reg.outcome or hold.ended_at != reg.ended_at:
                raise self.ctx.fail("holds", f"hold {reg.id} ended {how} at {hold.ended_at}; the "
                                    f"rules say {reg.outcome} at {reg.ended_at}")
            if hold.ended_at is not None and hold.ended_at > reg.deadline:
                raise self.ctx.fail("holds", f"hold {reg.id} ended at {hold.ended_at}, after its "
                                    f"deadline {reg.deadline}")

    def full(self, *, deep: bool) -> None:
        """Everything against the model, and the library's own invariant checks."""
        model = self.model
        summary = self.summary
        summary.checks += 2
        self.app.check_invariants(deep=deep)
        self.app.check_ad_queues()
        now = self.clock.now()
        synced = model.next_due() is None or model.next_due() > now  # type: ignore[operator]
        uow = self.inner.begin()
        try:
            self._check_members(uow, model.members)
            self._check_totals(uow)
            self._check_sessions(uow, model.sessions)
            book = uow.book
            for reg in model.live.values():
                summary.checks += 1
                found = uow.get(kinds.REGISTRATIONS, reg.id)
                if found is None or found.state.value != reg.state:
                    raise self.ctx.fail("requests", f"{reg.id} is "
                                        f"{found.state if found else None}; model: {reg.state}")
                if reg.amount:
                    hold = book.hold(reg.id)
                    if hold is None or not hold.is_open or hold.amount != reg.amount:
                        raise self.ctx.fail("holds", f"hold {reg.id} should be open for "
                                            f"{reg.amount}: {hold}")
                if synced and reg.deadline <= now and self._deadline_binds(reg):
                    raise self.ctx.fail("holds", f"{reg.id} is still {reg.state} after its "
                                        f"deadline {reg.deadline}")
        finally:
            uow.rollback()

    def _deadline_binds(self, reg: MReg) -> bool:
        """A registered seat's deadline binds once the session awaits confirmation."""
        if reg.state != "registered" or reg.session is None:
            return True
        return self.model.sessions[reg.session].state != "planned"

