"""Members' requests and registrations in the reference model, and which commands on
them the rules accept."""

from __future__ import annotations

from .part import Part
from .records import ENDS, MReg, MSession

__all__ = ["Bookings"]


class Bookings(Part):
    """The member's side of booking: seats requested (held from the member's stars),
    accepted into a session or onto a workshop's waitlist, joined, ended by a command or
    a deadline, attended and evaluated; and which of these the rules accept (the
    ``may_*`` methods, in the state the model keeps at ``model.at``)."""

    # ------------------------------------------------------------------ requests
    def request(self, reg_id: str, member_id: str, seats: int, *, session_id: str | None,
                workshop_id: str) -> None:
        model = self.model
        workshop = model.workshops[workshop_id]
        if session_id is not None:
            due = model.sessions[session_id].start
        else:
            due = self.policy.add_days(model.at, self.policy.future_request_due_days)
        amount = workshop.cost * seats
        reg = MReg(id=reg_id, member=member_id, organizer=workshop.organizer,
                   workshop=workshop_id, session=session_id, seats=seats, amount=amount,
                   deadline=due)
        model.regs[reg_id] = reg
        model.live[reg_id] = reg
        if amount:
            member = model.members[member_id]
            model.debit(member, amount)
            member.held += amount
            model.held += amount
        model.set_deadline("request", reg_id, due)
        model.note("RequestReceived", [workshop.organizer])

    def end(self, reg_id: str, trigger: str) -> None:
        """A command that ends a request (refuse, cancel, unregister, leave, ...)."""
        reg = self.model.regs[reg_id]
        self.model.free_seats(reg)
        self.model.end_and_tell(reg, trigger)

    def accept(self, reg_id: str) -> None:
        reg = self.model.regs[reg_id]
        assert reg.session is not None
        self._register(reg, self.model.sessions[reg.session], "request", "RequestAccepted",
                       [reg.member])

    def accept_future(self, reg_id: str) -> None:
        model = self.model
        reg = model.regs[reg_id]
        reg.state = "waitlisted"
        reg.session = None
        reg.deadline = self.policy.add_days(model.at, self.policy.waitlist_window_days)
        model.drop_deadline("request", reg_id)
        model.set_deadline("waitlist", reg_id, reg.deadline)
        model.note("RequestWaitlisted", [reg.member])

    def join(self, reg_id: str, session_id: str) -> None:
        reg = self.model.regs[reg_id]
        self._register(reg, self.model.sessions[session_id], "waitlist", "SessionJoined",
                       [reg.member, reg.organizer])

    def _register(self, reg: MReg, session: MSession, waited: str, notice: str,
                  told: list[str]) -> None:
        """``reg`` takes its seats in ``session``: its ``waited`` deadline is dropped, its
        new one is the end of the session's confirmation window."""
        reg.state = "registered"
        reg.session = session.id
        reg.deadline = self.policy.add_days(session.end, self.policy.confirmation_window_days)
        session.seats_taken += reg.seats
        self.model.touched_sessions.add(session.id)
        self.model.drop_deadline(waited, reg.id)
        self.model.note(notice, told)

    def due_request(self, ref: str) -> None:
        reg = self.model.regs[ref]
        if reg.state == "pending":
            self.model.end_and_tell(reg, "expire")

    def due_waitlist(self, ref: str) -> None:
        reg = self.model.regs[ref]
        if reg.state == "waitlisted":
            self.model.end_and_tell(reg, "waitlist_expire")

    def end_requests_of(self, member_id: str) -> None:
        """A purge: the member's live requests end, but a registration in a session that
        started, which stays for the session's organizer to confirm."""
        model = self.model
        for reg in [r for r in model.live.values() if r.member == member_id]:
            if reg.state == "registered" and reg.session and (
                not model.open_for_changes(model.sessions[reg.session])
            ):
                continue
            model.free_seats(reg)
            model.end_request(reg, "account_purged")

    # ------------------------------------------------------------------ after the session
    def attend(self, reg_id: str, mark: str) -> None:
        """The member says they ``"attended"`` or were ``"absent"`` (BOOK-33: no refund)."""
        reg = self.model.regs[reg_id]
        reg.attendance = mark
        if mark == "absent":
            del self.model.paid[reg_id]

    def evaluate(self, reg_id: str) -> None:
        self.model.regs[reg_id].evaluated = True
        del self.model.paid[reg_id]

    # ------------------------------------------------------------------ what it allows
    def _party(self, actor: str, reg: MReg, party: str | None) -> bool:
        """Whether ``actor`` is the request's active ``"member"`` or ``"organizer"``."""
        return actor == (reg.organizer if party == "organizer" else reg.member) and (
            self.model.acting(actor))

    def may_request(self, member_id: str, seats: int, *, session_id: str | None = None,
                    workshop_id: str | None = None) -> bool:
        """BOOK-3, BOOK-4, BOOK-11..13, BOOK-16: seats in a session not started, or in a
        future session of a workshop not deleted, paid for now; ACC-7: not from a hidden
        organizer."""
        model = self.model
        if session_id is not None:
            session = model.sessions[session_id]
            if not model.open_for_changes(session):
                return False  # requests close at the start (BOOK-16)
            workshop, limit = model.workshops[session.workshop], session.capacity
        else:
            assert workshop_id is not None
            workshop = model.workshops[workshop_id]
            limit = self.policy.max_future_seats
        return (model.acting(member_id) and not workshop.deleted
                and member_id != workshop.organizer and model.acting(workshop.organizer)
                and self.policy.min_seats <= seats <= limit
                and not model.has_live(member_id, session_id=session_id,
                                       workshop_id=workshop.id)
                and model.members[member_id].available >= workshop.cost * seats)

    def may_accept(self, actor: str, reg_id: str) -> bool:
        """BOOK-14, BOOK-18: the organizer, a request for a session that has the seats."""
        model = self.model
        reg = model.regs[reg_id]
        return (self._party(actor, reg, "organizer") and reg.state == "pending"
                and reg.session is not None
                and model.seats_left(model.sessions[reg.session]) >= reg.seats)

    def may_accept_future(self, actor: str, reg_id: str) -> bool:
        """BOOK-14, BOOK-22: the organizer, a request for a future session, or one for a
        session that lacks the seats (at most ``max_future_seats``, BOOK-12; one wait per
        workshop, BOOK-4)."""
        model = self.model
        reg = model.regs[reg_id]
        if not (self._party(actor, reg, "organizer") and reg.state == "pending"):
            return False
        return reg.session is None or (
            model.seats_left(model.sessions[reg.session]) < reg.seats
            and reg.seats <= self.policy.max_future_seats
            and not model.has_live(reg.member, workshop_id=reg.workshop))

    def may_end(self, actor: str, reg_id: str, trigger: str) -> bool:
        """A command ending a request (BOOK-14/17/19/20/25): by the party, from the states
        :data:`~.records.ENDS` gives; a registration only before its session starts."""
        model = self.model
        reg = model.regs[reg_id]
        ending = ENDS[trigger]
        if not (self._party(actor, reg, ending.by) and reg.state in ending.ends):
            return False
        return reg.state != "registered" or (
            reg.session is not None and model.open_for_changes(model.sessions[reg.session]))

    def may_join(self, actor: str, reg_id: str, session_id: str) -> bool:
        """BOOK-23: the waitlisted member, into a session of the workshop not started, all
        their seats; BOOK-4; ACC-7: not into a hidden organizer's session."""
        model = self.model
        reg = model.regs[reg_id]
        session = model.sessions[session_id]
        return (self._party(actor, reg, "member") and reg.state == "waitlisted"
                and session.workshop == reg.workshop and model.acting(reg.organizer)
                and model.open_for_changes(session) and model.seats_left(session) >= reg.seats
                and not model.has_live(reg.member, session_id=session_id))

    def may_attend(self, actor: str, reg_id: str) -> bool:
        """BOOK-33: the member of a paid registration, once."""
        reg = self.model.regs[reg_id]
        return (self._party(actor, reg, "member") and reg.state == "paid"
                and reg.attendance is None)

    def may_evaluate(self, actor: str, reg_id: str) -> bool:
        """BOOK-40: the member who attended, once."""
        reg = self.model.regs[reg_id]
        return (self._party(actor, reg, "member") and reg.state == "paid"
                and reg.attendance == "attended" and not reg.evaluated)
