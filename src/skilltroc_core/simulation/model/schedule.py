"""Workshops and their sessions in the reference model: what organizers plan and change,
and what becomes of a session once it ends."""

from __future__ import annotations

from datetime import datetime, timedelta

from .part import Part
from .records import AWAITING, MSession, MWorkshop

__all__ = ["Schedule"]


class Schedule(Part):
    """The organizer's side of booking: workshops created and deleted, sessions planned,
    moved, resized and cancelled, then confirmed held or not (or lapsed); each change
    ends or moves the requests it touches, and which of them the rules accept (the
    ``may_*`` methods, in the state the model keeps at ``model.at``)."""

    # ------------------------------------------------------------------ workshops
    def create_workshop(self, workshop_id: str, organizer: str, cost: int, capacity: int,
                        duration: timedelta) -> None:
        workshop = MWorkshop(workshop_id, organizer, cost, capacity, duration)
        self.model.workshops[workshop_id] = workshop
        self.model.workshops_of.setdefault(organizer, []).append(workshop)

    def delete_workshop(self, workshop_id: str) -> None:
        self._delete_workshop(self.model.workshops[workshop_id])

    def delete_workshops_of(self, member_id: str) -> None:
        """A purge: the member's workshops not deleted yet are."""
        for workshop in self.model.workshops_of.get(member_id, []):
            if not workshop.deleted:
                self._delete_workshop(workshop)

    def _delete_workshop(self, workshop: MWorkshop) -> None:
        model = self.model
        workshop.deleted = True
        for session in model.sessions_of.get(workshop.id, []):
            if session.state == "planned" and model.at < session.start:
                self._session_state(session, "cancelled")
                model.drop_deadline("session_end", session.id)
        told = []
        for reg in [r for r in model.live.values() if r.workshop == workshop.id]:
            told.append(reg.member)
            if reg.state == "registered" and reg.session and (
                model.sessions[reg.session].state != "cancelled"
            ):
                continue  # started: told, but the session lives on
            model.end_request(reg, "workshop_deleted")
        model.tell_all("workshop_deleted", told)

    # ------------------------------------------------------------------ sessions
    def plan_session(self, session_id: str, workshop_id: str, start: datetime,
                     capacity: int | None) -> None:
        model = self.model
        workshop = model.workshops[workshop_id]
        session = MSession(session_id, workshop_id, workshop.organizer, start,
                           start + workshop.duration,
                           workshop.capacity if capacity is None else capacity)
        model.sessions[session_id] = session
        model.sessions_of.setdefault(workshop_id, []).append(session)
        self._session_state(session, "planned")
        model.set_deadline("session_end", session_id, session.end)
        model.note("SessionPlanned", [r.member for r in model.live.values()
                                      if r.workshop == workshop_id and r.state == "waitlisted"])

    def move_session(self, session_id: str, start: datetime) -> None:
        model = self.model
        session = model.sessions[session_id]
        session.end = start + (session.end - session.start)
        session.start = start
        model.touched_sessions.add(session_id)
        model.set_deadline("session_end", session_id, session.end)
        registered = []
        until = self.policy.add_days(session.end, self.policy.confirmation_window_days)
        for reg in [r for r in model.live.values() if r.session == session_id]:
            if reg.state == "registered":
                reg.deadline = until
                registered.append(reg.member)
            else:
                model.end_and_tell(reg, "session_moved")
        model.note("SessionMoved", registered)

    def set_capacity(self, session_id: str, capacity: int) -> None:
        self.model.sessions[session_id].capacity = capacity
        self.model.touched_sessions.add(session_id)

    def cancel_session(self, session_id: str) -> None:
        model = self.model
        session = model.sessions[session_id]
        self._session_state(session, "cancelled")
        model.drop_deadline("session_end", session_id)
        told = [model.end_request(r, "session_cancelled").member
                for r in [r for r in model.live.values() if r.session == session_id]]
        model.tell_all("session_cancelled", told)

    def _session_state(self, session: MSession, state: str) -> None:
        model = self.model
        model.planned.pop(session.id, None)
        model.awaiting.pop(session.id, None)
        session.state = state
        if state == "planned":
            model.planned[session.id] = session
        elif state == AWAITING:
            model.awaiting[session.id] = session
        model.touched_sessions.add(session.id)

    # ------------------------------------------------------------------ after the session
    def due_session_end(self, ref: str) -> None:
        model = self.model
        session = model.sessions[ref]
        if session.state != "planned":
            return
        self._session_state(session, AWAITING)
        until = self.policy.add_days(session.end, self.policy.confirmation_window_days)
        for reg in model.registered_in(session):
            reg.deadline = until
        model.set_deadline("confirmation", session.id, until)
        model.note("SessionConfirmationRequested", [session.organizer])

    def due_confirmation(self, ref: str) -> None:
        model = self.model
        session = model.sessions[ref]
        if session.state != AWAITING:
            return
        self._session_state(session, "lapsed")
        told = [model.end_request(r, "organizer_silent").member
                for r in model.registered_in(session)]
        model.tell_all("organizer_silent", [*told, session.organizer])

    def confirm_held(self, session_id: str) -> None:
        model = self.model
        session = model.sessions[session_id]
        self._session_state(session, "held")
        model.drop_deadline("confirmation", session_id)
        registered = model.registered_in(session)
        for reg in registered:
            model.end_request(reg, "held")
        for person in dict.fromkeys([session.organizer, *(r.member for r in registered)]):
            model.accounts.reward_sponsor(model.members[person])
        model.tell_all("held", [r.member for r in registered])

    def confirm_not_held(self, session_id: str) -> None:
        model = self.model
        session = model.sessions[session_id]
        self._session_state(session, "not_held")
        model.drop_deadline("confirmation", session_id)
        told = [model.end_request(r, "not_held").member for r in model.registered_in(session)]
        model.tell_all("not_held", told)

    # ------------------------------------------------------------------ what it allows
    def may_delete_workshop(self, actor: str, workshop_id: str) -> bool:
        """BOOK-5: its organizer, once."""
        workshop = self.model.workshops[workshop_id]
        return actor == workshop.organizer and self.model.acting(actor) and not workshop.deleted

    def may_plan_session(self, actor: str, workshop_id: str, start: datetime) -> bool:
        """BOOK-6: the organizer, for a workshop not deleted, later than now."""
        workshop = self.model.workshops[workshop_id]
        return (actor == workshop.organizer and self.model.acting(actor)
                and not workshop.deleted and start > self.model.at)

    def may_change_session(self, actor: str, session_id: str, *,
                           start: datetime | None = None, capacity: int | None = None) -> bool:
        """BOOK-7/8/9: the organizer, before the start, moves a session (to a later instant
        than now), changes its capacity (never below the seats taken) or cancels it."""
        model = self.model
        session = model.sessions[session_id]
        return (actor == session.organizer and model.acting(actor)
                and model.open_for_changes(session) and (start is None or start > model.at)
                and (capacity is None
                     or capacity >= max(self.policy.min_capacity, session.seats_taken)))

    def may_confirm(self, actor: str, session_id: str) -> bool:
        """BOOK-30/31: the organizer says whether a session that ended was held."""
        session = self.model.sessions[session_id]
        return (actor == session.organizer and self.model.acting(actor)
                and session.state == AWAITING)
