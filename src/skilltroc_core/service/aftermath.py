"""After a session: held or not, attendance, evaluations.

Rules: BOOK-30..33, BOOK-40..42, SPONSOR-3 (first held session).
"""

from __future__ import annotations

from ..booking import (
    CRITERIA,
    Attendance,
    Evaluation,
    MemberStats,
    SessionState,
    check_score,
)
from ..frozen import evolve
from ..ports import Timer
from ..refusals import refusal, shown
from . import kinds
from .booking_steps import (
    CONFIRMATION_WINDOW,
    SESSION_END,
    R,
    answerable,
    as_requester,
    bump_stats,
    end_registration,
    paid,
    registered_in,
)
from .context import Area, ServiceContext

# Tx, evolve
from .members import reward_sponsor
from .registry import ORGANIZER, REQUESTER, command
from .social import notify_followers
from .units import Tx

__all__ = ["AftermathService"]


class AftermathService(Area):
    """What organizers and members say once a session has ended."""

    def register(self, context: ServiceContext) -> None:
        context.timer_handlers[SESSION_END] = self._session_ended
        context.timer_handlers[CONFIRMATION_WINDOW] = self._confirmation_window_ended

    def _session_ended(self, tx: Tx, timer: Timer) -> None:
        """BOOK-30: at its end the organizer is asked whether the session was held."""
        session = tx.get(kinds.SESSIONS, timer.ref)
        if session is None or session.state is not SessionState.PLANNED:
            return
        tx.put(kinds.SESSIONS, session.id, evolve(session, state=session.to("end", "BOOK-30")))
        until = self.policy.add_days(session.end, self.policy.confirmation_window_days,
                                     what="session end", rule="BOOK-32")
        tx.schedule(CONFIRMATION_WINDOW, session.id, until)
        tx.notify("SessionConfirmationRequested", recipients=(session.organizer,),
                  session=session.id, workshop=session.workshop, answer_by=until)

    @command(actor=ORGANIZER, rules=("BOOK-30", "SPONSOR-3"))
    def confirm_held(self, member_id: str, session_id: str) -> None:
        """BOOK-30: held. The organizer earns every registered seat, absent ones included."""
        with self.command() as tx:
            member = tx.actor(member_id)
            session = answerable(tx, member, session_id, "BOOK-30")
            tx.put(kinds.SESSIONS, session.id, evolve(
                session, state=session.to("confirm_held", "BOOK-30"), ended_at=tx.now))
            tx.cancel_timer(CONFIRMATION_WINDOW, session.id)
            registered = registered_in(tx, session)
            for registration in registered:
                end_registration(tx, registration, "held")
                bump_stats(tx, registration.member, attended_held=1)
            bump_stats(tx, member.id, organized_held=1)
            # SPONSOR-3: the first held session of a referee, organizer or participant.
            for person in (member.id, *dict.fromkeys(r.member for r in registered)):
                found = tx.get(kinds.MEMBERS, person)
                if found is not None:
                    reward_sponsor(tx, found)
            tx.notify("SessionHeld", recipients=tuple(dict.fromkeys(
                r.member for r in registered)), session=session.id, workshop=session.workshop)

    @command(actor=ORGANIZER, rules=("BOOK-31",))
    def confirm_not_held(self, member_id: str, session_id: str) -> None:
        """BOOK-31: not held: every registered member is refunded at once and told."""
        with self.command() as tx:
            member = tx.actor(member_id)
            session = answerable(tx, member, session_id, "BOOK-31")
            tx.put(kinds.SESSIONS, session.id, evolve(
                session, state=session.to("confirm_not_held", "BOOK-31"), ended_at=tx.now))
            tx.cancel_timer(CONFIRMATION_WINDOW, session.id)
            told = [end_registration(tx, r, "not_held").member for r in registered_in(tx, session)]
            tx.notify("SessionNotHeld", recipients=tuple(dict.fromkeys(told)),
                      session=session.id, workshop=session.workshop, start=session.start)

    def _confirmation_window_ended(self, tx: Tx, timer: Timer) -> None:
        """BOOK-32: 7 days of silence count as not held; everyone is refunded and told."""
        session = tx.get(kinds.SESSIONS, timer.ref)
        if session is None or session.state is not SessionState.AWAITING_CONFIRMATION:
            return
        tx.put(kinds.SESSIONS, session.id,
               evolve(session, state=session.to("lapse", "BOOK-32"), ended_at=tx.now))
        told = [end_registration(tx, r, "organizer_silent").member
                for r in registered_in(tx, session)]
        tx.notify("SessionLapsed", recipients=(*dict.fromkeys(told), session.organizer),
                  session=session.id, workshop=session.workshop, start=session.start)

    @command(actor=REQUESTER, rules=("BOOK-33",))
    def declare_absent(self, member_id: str, registration_id: str) -> None:
        """BOOK-33: could not come; the stars stay with the organizer."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = paid(tx, member, registration_id, "BOOK-33")
            tx.put(kinds.REGISTRATIONS, registration.id,
                   evolve(registration, attendance=Attendance.ABSENT))
            bump_stats(tx, member.id, attended_held=-1)

    @command(actor=REQUESTER, rules=("BOOK-40",))
    def confirm_attendance(self, member_id: str, registration_id: str) -> None:
        """BOOK-30/40: the member confirms they attended, which opens the evaluation."""
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = paid(tx, member, registration_id, "BOOK-40")
            tx.put(kinds.REGISTRATIONS, registration.id,
                   evolve(registration, attendance=Attendance.ATTENDED))

    @command(actor=REQUESTER, rules=("BOOK-40", "BOOK-41", "BOOK-42"))
    def evaluate(self, member_id: str, registration_id: str, *, satisfaction: int,
                 conformity: int, teaching: int, duration: int, recommend: bool) -> None:
        """BOOK-40..42: four scores out of 10 and a recommendation, once per registration."""
        policy = self.policy
        scores = {name: check_score(name, value, policy.score_min, policy.score_max)
                  for name, value in zip(CRITERIA, (satisfaction, conformity, teaching, duration),
                                         strict=True)}
        if not isinstance(recommend, bool):
            raise refusal("recommend_not_bool", got=shown(recommend))
        with self.command() as tx:
            member = tx.actor(member_id)
            registration = as_requester(tx, member, registration_id, "BOOK-40")
            if registration.state is not R.PAID or (
                registration.attendance is not Attendance.ATTENDED
            ):
                raise refusal("evaluation_not_allowed", registration=registration.id)
            if registration.evaluated:
                raise refusal("already_evaluated", registration=registration.id)
            assert registration.session is not None
            evaluation = Evaluation(
                id=registration.id, workshop=registration.workshop,
                session=registration.session, organizer=registration.organizer,
                member=member.id, recommend=recommend, at=tx.now, **scores,
            )
            tx.put(kinds.EVALUATIONS, evaluation.id, evaluation)
            tx.put(kinds.REGISTRATIONS, registration.id, evolve(registration, evaluated=True))
            stats = tx.get(kinds.MEMBER_STATS, registration.organizer) or MemberStats(
                id=registration.organizer)
            tx.put(kinds.MEMBER_STATS, stats.id, stats.with_evaluation(evaluation))
            if recommend:
                notify_followers(tx, member.id, "WorkshopRecommended",
                                      {"workshop": registration.workshop, "member": member.id})
