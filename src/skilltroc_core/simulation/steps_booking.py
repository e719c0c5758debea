"""The simulator's booking steps: workshops and their sessions, requests and their
answers, the waitlist, and what follows a session (confirmation, attendance, evaluation)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from ..ports import EntityKind
from ..service import kinds
from .context import DOMAINS, AreaSteps, pick, recent
from .model import ENDS, MReg, MSession
from .workload import Step

__all__ = ["BookingSteps"]


class BookingSteps(AreaSteps):
    """Workshops, sessions, requests and what follows a session."""

    def _live(self, state: str, with_session: bool | None = None) -> list[MReg]:
        return [r for r in self.model.live.values() if r.state == state and (
            with_session is None or (r.session is not None) == with_session)]

    def _open_sessions(self) -> list[MSession]:
        return [s for s in self.model.planned.values() if self.model.open_for_changes(s)]

    # ------------------------------------------------------------------ workshops
    def do_create_workshop(self, step: Step) -> None:
        a0, a1, a2, a3 = step.args
        organizer = self._member(a0)
        if organizer is None:
            self.ctx.skip()
        member = self.model.members[organizer]
        cost = (0, 1, 2, 3, 5, 8)[a1 % 6]
        capacity = 1 + a2 % 6
        duration = timedelta(minutes=(60, 90, 120)[a3 % 3])
        workshop_id = self.ctx.command("create_workshop", lambda: self.app.create_workshop(
            organizer, title=f"Workshop {self.ctx.counter}", description="Learn by doing",
            domain=DOMAINS[a1 % len(DOMAINS)], cost=cost, capacity=capacity,
            duration=duration), expect=not member.pro or member.complete, members=[organizer])
        self.model.schedule.create_workshop(workshop_id, organizer, cost, capacity, duration)

    def _workshop(self, n: int) -> str | None:
        return pick([w.id for w in recent(self.model.workshops, lambda w: not w.deleted)], n)

    def do_delete_workshop(self, step: Step) -> None:
        workshop_id = self._workshop(step.args[0])
        if workshop_id is None:
            self.ctx.skip()
        organizer = self.model.workshops[workshop_id].organizer
        actor = self._actor(organizer, step)
        self.ctx.command("delete_workshop", lambda: self.app.delete_workshop(actor, workshop_id),
                         expect=self.model.schedule.may_delete_workshop(actor, workshop_id),
                         entities=[(kinds.WORKSHOPS, workshop_id)])
        self.model.schedule.delete_workshop(workshop_id)

    def do_plan_session(self, step: Step) -> None:
        a0, a1, a2, a3 = step.args
        workshop_id = self._workshop(a0)
        if workshop_id is None:
            self.ctx.skip()
        organizer = self.model.workshops[workshop_id].organizer
        actor = self._actor(organizer, step)
        start = self.clock.now() + self._offset(a1)
        capacity = 1 + a2 % 5 if a3 % 3 == 0 else None
        session_id = self.ctx.command(
            "plan_session", lambda: self.app.plan_session(actor, workshop_id, start, capacity),
            expect=self.model.schedule.may_plan_session(actor, workshop_id, start),
            entities=[(kinds.WORKSHOPS, workshop_id)])
        self.model.schedule.plan_session(session_id, workshop_id, start, capacity)

    def _session_step(self, step: Step) -> tuple[MSession, str]:
        """A session not started, and who acts on it (mostly its organizer)."""
        session = pick(self._open_sessions(), step.args[0])
        if session is None:
            self.ctx.skip()
        return session, self._actor(session.organizer, step)

    def do_move_session(self, step: Step) -> None:
        session, actor = self._session_step(step)
        start = self.clock.now() + self._offset(step.args[1])
        self.ctx.command("move_session", lambda: self.app.move_session(actor, session.id, start),
                         expect=self.model.schedule.may_change_session(actor, session.id,
                                                                       start=start),
                         entities=[(kinds.SESSIONS, session.id)])
        self.model.schedule.move_session(session.id, start)

    def do_set_capacity(self, step: Step) -> None:
        session, actor = self._session_step(step)
        capacity = max(1, session.seats_taken + step.args[1] % 4 - 1)
        self.ctx.command("set_capacity", lambda: self.app.set_capacity(actor, session.id, capacity),
                         expect=self.model.schedule.may_change_session(actor, session.id,
                                                              capacity=capacity),
                         entities=[(kinds.SESSIONS, session.id)])
        self.model.schedule.set_capacity(session.id, capacity)

    def do_cancel_session(self, step: Step) -> None:
        session, actor = self._session_step(step)
        self.ctx.command("cancel_session", lambda: self.app.cancel_session(actor, session.id),
                         expect=self.model.schedule.may_change_session(actor, session.id),
                         entities=[(kinds.SESSIONS, session.id)])
        self.model.schedule.cancel_session(session.id)

    # ------------------------------------------------------------------ requests
    def do_request(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        session = pick(self._open_sessions(), a0)
        member_id = self._member(a1)
        if session is None or member_id is None:
            self.ctx.skip()
        seats = 1 + a2 % (session.capacity + 1) if a2 % 5 == 0 else 1 + a2 % 2
        reg_id = self.ctx.command(
            "request", lambda: self.app.request(member_id, seats=seats, session_id=session.id),
            expect=model.bookings.may_request(member_id, seats, session_id=session.id),
            members=[member_id], entities=[(kinds.SESSIONS, session.id)])
        model.bookings.request(reg_id, member_id, seats, session_id=session.id,
                      workshop_id=session.workshop)

    def do_request_future(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        model = self.model
        workshop_id = self._workshop(a0)
        member_id = self._member(a1)
        if workshop_id is None or member_id is None:
            self.ctx.skip()
        seats = 1 + a2 % 3 if a2 % 7 else 11
        reg_id = self.ctx.command(
            "request_future",
            lambda: self.app.request(member_id, seats=seats, workshop_id=workshop_id),
            expect=model.bookings.may_request(member_id, seats, workshop_id=workshop_id),
            members=[member_id])
        model.bookings.request(reg_id, member_id, seats, session_id=None, workshop_id=workshop_id)

    def _answer(self, step: Step, kind: str, regs: list[MReg], call: Callable[[str, str], None],
                allowed: Callable[[str, str], bool], by: str | None = "organizer") -> MReg:
        """A command about a request, given mostly by its ``by`` party."""
        reg = pick(regs, step.args[0])
        if reg is None:
            self.ctx.skip()
        actor = self._actor(reg.organizer if by == "organizer" else reg.member, step)
        entities: list[tuple[EntityKind[Any], str]] = [(kinds.REGISTRATIONS, reg.id)]
        if reg.session:
            entities.append((kinds.SESSIONS, reg.session))
        self.ctx.command(kind, lambda: call(actor, reg.id), expect=allowed(actor, reg.id),
                         members=[reg.member, reg.organizer], entities=entities)
        return reg

    def _end(self, step: Step, kind: str, regs: list[MReg], call: Callable[[str, str], None],
             trigger: str) -> None:
        """A command that ends a request, given mostly by the party :data:`.model.ENDS` says."""
        reg = self._answer(step, kind, regs, call,
                           lambda actor, reg_id: self.model.bookings.may_end(actor, reg_id,
                                                                             trigger),
                           ENDS[trigger].by)
        self.model.bookings.end(reg.id, trigger)

    def do_accept(self, step: Step) -> None:
        reg = self._answer(step, "accept", self._live("pending", True), self.app.accept,
                           self.model.bookings.may_accept)
        self.model.bookings.accept(reg.id)

    def do_accept_future(self, step: Step) -> None:
        reg = self._answer(step, "accept_future", self._live("pending"), self.app.accept_future,
                           self.model.bookings.may_accept_future)
        self.model.bookings.accept_future(reg.id)

    def do_refuse(self, step: Step) -> None:
        self._end(step, "refuse", self._live("pending"), self.app.refuse, "refuse")

    def do_cancel_request(self, step: Step) -> None:
        self._end(step, "cancel_request", self._live("pending"), self.app.cancel_request,
                  "cancel")

    def _registered_open(self) -> list[MReg]:
        model = self.model
        return [r for r in self._live("registered") if r.session is not None
                and model.open_for_changes(model.sessions[r.session])]

    def do_unregister(self, step: Step) -> None:
        self._end(step, "unregister", self._registered_open(), self.app.unregister,
                  "unregister")

    def do_cancel_transaction(self, step: Step) -> None:
        self._end(step, "cancel_transaction", self._registered_open() + self._live("waitlisted"),
                  self.app.cancel_transaction, "cancel_transaction")

    def do_leave_waitlist(self, step: Step) -> None:
        self._end(step, "leave_waitlist", self._live("waitlisted"), self.app.leave_waitlist,
                  "leave")

    def do_join(self, step: Step) -> None:
        model = self.model
        open_sessions = self._open_sessions()
        workshops = {s.workshop for s in open_sessions}
        waiting = self._live("waitlisted")
        reg = pick([r for r in waiting if r.workshop in workshops] or waiting, step.args[0])
        if reg is None:
            self.ctx.skip()
        sessions = [s for s in open_sessions if s.workshop == reg.workshop]
        if step.args[1] % 10 == 0:  # another workshop's session: refused
            sessions = open_sessions
        session = pick(sessions, step.args[1])
        if session is None:
            self.ctx.skip()
        actor = self._actor(reg.member, step)
        self.ctx.command("join", lambda: self.app.join(actor, reg.id, session.id),
                         expect=model.bookings.may_join(actor, reg.id, session.id),
                         members=[reg.member],
                         entities=[(kinds.REGISTRATIONS, reg.id), (kinds.SESSIONS, session.id)])
        model.bookings.join(reg.id, session.id)

    # ------------------------------------------------------------------ after the session
    def _awaiting(self, step: Step) -> tuple[MSession, str]:
        """A session awaiting confirmation (sometimes one not ended), and who answers."""
        model = self.model
        sessions = list(model.awaiting.values())
        if step.args[1] % 12 == 0:  # too early: refused
            sessions = recent(model.planned)
        session = pick(sessions, step.args[0])
        if session is None:
            self.ctx.skip()
        return session, self._actor(session.organizer, step)

    def _confirm(self, step: Step, kind: str, held: bool) -> None:
        session, actor = self._awaiting(step)
        members = [session.organizer, *(r.member for r in self.model.registered_in(session))]
        call = self.app.confirm_held if held else self.app.confirm_not_held
        self.ctx.command(kind, lambda: call(actor, session.id),
                         expect=self.model.schedule.may_confirm(actor, session.id), members=members,
                         entities=[(kinds.SESSIONS, session.id)])
        if held:
            self.model.schedule.confirm_held(session.id)
        else:
            self.model.schedule.confirm_not_held(session.id)

    def do_confirm_held(self, step: Step) -> None:
        self._confirm(step, "confirm_held", held=True)

    def do_confirm_not_held(self, step: Step) -> None:
        self._confirm(step, "confirm_not_held", held=False)

    def _attendance(self, step: Step, kind: str, call: Callable[[str, str], None],
                    mark: str) -> None:
        regs = [r for r in self.model.paid.values()
                if r.attendance is None and self._is_active(r.member)]
        reg = pick(regs, step.args[0])
        if reg is None:
            self.ctx.skip()
        actor = self._actor(reg.member, step)
        self.ctx.command(kind, lambda: call(actor, reg.id),
                         expect=self.model.bookings.may_attend(actor, reg.id),
                         entities=[(kinds.REGISTRATIONS, reg.id)])
        self.model.bookings.attend(reg.id, mark)

    def do_confirm_attendance(self, step: Step) -> None:
        self._attendance(step, "confirm_attendance", self.app.confirm_attendance, "attended")

    def do_declare_absent(self, step: Step) -> None:
        self._attendance(step, "declare_absent", self.app.declare_absent, "absent")

    def do_evaluate(self, step: Step) -> None:
        a0, a1, a2, _ = step.args
        regs = [r for r in self.model.paid.values()
                if r.attendance == "attended" and self._is_active(r.member)]
        reg = pick(regs, a0)
        if reg is None:
            self.ctx.skip()
        actor = self._actor(reg.member, step)
        scores = [(a1 >> (4 * i)) % 11 for i in range(4)]
        self.ctx.command("evaluate", lambda: self.app.evaluate(
            actor, reg.id, satisfaction=scores[0], conformity=scores[1], teaching=scores[2],
            duration=scores[3], recommend=bool(a2 % 2)),
            expect=self.model.bookings.may_evaluate(actor, reg.id),
            entities=[(kinds.REGISTRATIONS, reg.id)])
        self.model.bookings.evaluate(reg.id)

