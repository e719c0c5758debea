"""The model's state and the rules it applies, by plain arithmetic.

Deadlines are kept in a heap ordered like the stores order timers (due instant, then
scheduling order), so expiries apply at their own instants and in the same order.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta

from ...rules import Policy
from .records import (
    ACTIVE,
    AWAITING,
    DEACTIVATED,
    ENDS,
    PENDING,
    PURGED,
    MCampaign,
    MGift,
    MMember,
    MReg,
    MSession,
    MTutorial,
    MWorkshop,
    Note,
)

__all__ = ["Model"]


class Model:
    """What the rules say the state is, kept by hand."""

    def __init__(self, policy: Policy, now: datetime) -> None:
        self.policy = policy
        self.at = now
        self.members: dict[str, MMember] = {}
        self.active: dict[str, None] = {}  # active member ids, in signup order
        self.by_email: dict[str, str] = {}
        self.bonused: set[str] = set()
        self.workshops: dict[str, MWorkshop] = {}
        self.sessions: dict[str, MSession] = {}
        self.planned: dict[str, MSession] = {}  # sessions in state planned
        self.awaiting: dict[str, MSession] = {}  # sessions awaiting confirmation
        self.running: dict[str, MCampaign] = {}  # campaigns being shown
        # what each member owns or is owed, so a purge touches only that
        self.workshops_of: dict[str, list[MWorkshop]] = {}
        self.sessions_of: dict[str, list[MSession]] = {}  # by workshop
        self.campaigns_of: dict[str, list[MCampaign]] = {}
        self.tutorials_of: dict[str, list[MTutorial]] = {}
        self.gifts_to: dict[str, list[MGift]] = {}
        self.gifts_by_email: dict[str, list[MGift]] = {}
        self.live_videos: set[tuple[str, str]] = set()
        self.regs: dict[str, MReg] = {}
        self.live: dict[str, MReg] = {}
        self.paid: dict[str, MReg] = {}  # paid registrations still to attend or evaluate
        self.gifts: dict[str, MGift] = {}
        self.tutorials: dict[str, MTutorial] = {}
        self.histories: dict[tuple[str, str], list[int]] = {}  # -> [counted, paid]
        self.marks: dict[tuple[str, str, str], datetime] = {}
        # view id -> (tutorial, viewer, verdict, when); page view -> (domain, campaign, when):
        # remembered for the replay window only (AD-7, TUTO-4)
        self.view_ids: dict[str, tuple[str, str, str, datetime]] = {}
        self.campaigns: dict[str, MCampaign] = {}
        self.page_views: dict[str, tuple[str, str, datetime]] = {}
        self.purchases: dict[str, tuple[str, int]] = {}
        # platform totals
        self.wallets = 0
        self.held = 0
        self.escrow = 0
        self.ad_spend = 0
        self.issued = 0
        self.returned = 0
        # what the current step did
        self.notes: list[Note] = []
        self.touched: set[str] = set()
        self.touched_sessions: set[str] = set()
        self.ended: list[MReg] = []
        self._heap: list[tuple[datetime, int, str, str]] = []
        self._versions: dict[tuple[str, str], int] = {}
        self._seq = itertools.count(1)

    # ------------------------------------------------------------------ step bookkeeping
    def begin_step(self) -> None:
        self.notes = []
        self.touched = set()
        self.touched_sessions = set()
        self.ended = []

    def note(self, event: str, recipients: Iterable[str] = (), emails: Iterable[str] = ()
             ) -> None:
        # a purged account is told nothing more (ACC-7)
        who = tuple(sorted({r for r in recipients if self.members[r].status != PURGED}))
        mails = tuple(sorted(set(emails)))
        if who or mails:
            self.notes.append((event, who, mails))

    # ------------------------------------------------------------------ stars
    def _credit(self, member: MMember, stars: int) -> None:
        member.available += stars
        self.wallets += stars
        self.touched.add(member.id)

    def _debit(self, member: MMember, stars: int) -> None:
        member.available -= stars
        self.wallets -= stars
        self.touched.add(member.id)

    def _issue(self, member: MMember, stars: int) -> None:
        self._credit(member, stars)
        self.issued += stars

    def _sweep(self, member: MMember, stars: int) -> None:
        if stars:
            self._debit(member, stars)
            self.returned += stars

    # ------------------------------------------------------------------ timers
    def _schedule(self, kind: str, ref: str, due: datetime) -> None:
        seq = next(self._seq)
        self._versions[(kind, ref)] = seq
        heapq.heappush(self._heap, (due, seq, kind, ref))

    def _cancel(self, kind: str, ref: str) -> None:
        self._versions.pop((kind, ref), None)

    def next_due(self) -> datetime | None:
        while self._heap:
            due, seq, kind, ref = self._heap[0]
            if self._versions.get((kind, ref)) == seq:
                return due
            heapq.heappop(self._heap)
        return None

    def run_due(self, now: datetime) -> int:
        """Apply every deadline due at or before ``now``, each at its own instant."""
        ran = 0
        heap = self._heap
        while heap and heap[0][0] <= now:
            due, seq, kind, ref = heapq.heappop(heap)
            if self._versions.get((kind, ref)) != seq:
                continue
            del self._versions[(kind, ref)]
            self.at = due
            getattr(self, f"_due_{kind}")(ref)
            ran += 1
        self.at = now
        return ran

    def _due_request(self, ref: str) -> None:
        reg = self.regs[ref]
        if reg.state == "pending":
            self._end_and_tell(reg, "expire")

    def _due_waitlist(self, ref: str) -> None:
        reg = self.regs[ref]
        if reg.state == "waitlisted":
            self._end_and_tell(reg, "waitlist_expire")

    def _due_session_end(self, ref: str) -> None:
        session = self.sessions[ref]
        if session.state != "planned":
            return
        self._session_state(session, AWAITING)
        until = self.policy.add_days(session.end, self.policy.confirmation_window_days)
        for reg in self.registered_in(session):
            reg.deadline = until
        self._schedule("confirmation", session.id, until)
        self.note("SessionConfirmationRequested", [session.organizer])

    def _due_confirmation(self, ref: str) -> None:
        session = self.sessions[ref]
        if session.state != AWAITING:
            return
        self._session_state(session, "lapsed")
        told = [self._end(r, "organizer_silent").member for r in self.registered_in(session)]
        self._tell_all("organizer_silent", [*told, session.organizer])

    def _due_purge(self, ref: str) -> None:
        member = self.members[ref]
        if member.status == DEACTIVATED:
            self._purge(member)

    def _due_campaign(self, ref: str) -> None:
        campaign = self.campaigns[ref]
        if campaign.state == "scheduled":
            self._start_campaign(campaign)

    def _session_state(self, session: MSession, state: str) -> None:
        self.planned.pop(session.id, None)
        self.awaiting.pop(session.id, None)
        session.state = state
        if state == "planned":
            self.planned[session.id] = session
        elif state == AWAITING:
            self.awaiting[session.id] = session
        self.touched_sessions.add(session.id)

    # ------------------------------------------------------------------ registrations
    def registered_in(self, session: MSession) -> list[MReg]:
        return [r for r in self.live.values()
                if r.session == session.id and r.state == "registered"]

    def _end(self, reg: MReg, trigger: str) -> MReg:
        state, outcome = ENDS[trigger].state, ENDS[trigger].outcome
        member = self.members[reg.member]
        if reg.amount:
            member.held -= reg.amount
            self.held -= reg.amount
            self.touched.add(member.id)
            if outcome == "posted":
                self._credit(self.members[reg.organizer], reg.amount)
            else:
                self._credit(member, reg.amount)
                if member.status == PURGED:
                    self._sweep(member, reg.amount)
        reg.state = state
        reg.outcome = outcome if reg.amount else None
        reg.ended_at = self.at
        del self.live[reg.id]
        if state == "paid":
            self.paid[reg.id] = reg
        self.ended.append(reg)
        return reg

    def _end_and_tell(self, reg: MReg, trigger: str) -> None:
        """End ``reg``; its notice tells the one party :data:`ENDS` names."""
        self._end(reg, trigger)
        ending = ENDS[trigger]
        assert ending.notice is not None
        self.note(ending.notice, [reg.member if ending.told == "member" else reg.organizer])

    def _tell_all(self, trigger: str, recipients: Iterable[str]) -> None:
        """The one notice of ``trigger``, about a session or a workshop, to ``recipients``."""
        notice = ENDS[trigger].notice
        assert notice is not None
        self.note(notice, recipients)

    def _free_seats(self, reg: MReg) -> None:
        if reg.state == "registered" and reg.session:
            session = self.sessions[reg.session]
            session.seats_taken -= reg.seats
            self.touched_sessions.add(session.id)

    # ------------------------------------------------------------------ members
    def signup(self, member_id: str, email: str, *, pro: bool, provider: bool,
               sponsor: str | None, token: str | None) -> None:
        member = MMember(id=member_id, email=email, status=PENDING, pro=pro,
                         complete=not pro, sponsor=sponsor, token=token)
        self.members[member_id] = member
        self.by_email[email] = member_id
        self.touched.add(member_id)
        self._claim(member_id, email)
        if provider:
            self._complete_signup(member)
        else:
            self.note("EmailConfirmationRequested", [member_id])

    def _claim(self, member_id: str, email: str) -> None:
        """GIFT-3: gifts kept by address become the member's (at signup, or back from a
        deactivation: a hidden account's address is answered as no account's, ACC-7)."""
        for gift in self.gifts_by_email.pop(email, []):
            if gift.state == "sent":
                gift.recipient, gift.email = member_id, None
                self.gifts_to.setdefault(member_id, []).append(gift)

    def _complete_signup(self, member: MMember) -> None:
        member.status = ACTIVE
        member.token = None
        self.active[member.id] = None
        assert member.email is not None
        if member.email not in self.bonused:
            self.bonused.add(member.email)
            self._issue(member, self.policy.signup_bonus)

    def confirm_email(self, member_id: str) -> None:
        self._complete_signup(self.members[member_id])

    def sponsor_ok(self, sponsor: str | None) -> bool:
        if sponsor is None:
            return True
        found = self.members.get(sponsor)
        return found is not None and found.status == ACTIVE  # deactivated: hidden (ACC-7)

    def complete_profile(self, member_id: str) -> None:
        self.members[member_id].complete = True

    def buy(self, member_id: str, stars: int, reference: str) -> None:
        if reference in self.purchases:
            return  # the same purchase again: credited once (STAR-2)
        self.purchases[reference] = (member_id, stars)
        member = self.members[member_id]
        self._issue(member, stars)
        self._reward_sponsor(member)

    def _reward_sponsor(self, referee: MMember) -> None:
        if referee.sponsor is None or referee.rewarded:
            return
        referee.rewarded = True
        sponsor = self.members[referee.sponsor]
        if sponsor.status == PURGED:
            return
        self._issue(sponsor, self.policy.referral_reward)
        self.note("ReferralRewardPaid", [sponsor.id])

    def deactivate(self, member_id: str) -> None:
        member = self.members[member_id]
        member.status = DEACTIVATED
        self.active.pop(member_id, None)
        self._schedule("purge", member_id,
                       self.policy.add_days(self.at, self.policy.account_retention_days))
        self.note("AccountDeactivated", [member_id])

    def reactivate(self, member_id: str) -> None:
        member = self.members[member_id]
        member.status = ACTIVE
        self.active[member_id] = None
        self._cancel("purge", member_id)
        if member.email is not None:
            self._claim(member_id, member.email)

    def _purge(self, member: MMember) -> None:
        # campaigns stop, tutorials go (no stars move)
        for campaign in self.campaigns_of.get(member.id, []):
            if campaign.state in ("scheduled", "running"):
                campaign.state = "withdrawn"
                self.running.pop(campaign.id, None)
            self._cancel("campaign", campaign.id)
        for tutorial in self.tutorials_of.get(member.id, []):
            self.unpublish(tutorial.id)
        # bookings: their workshops are deleted, their own live requests end
        for workshop in self.workshops_of.get(member.id, []):
            if not workshop.deleted:
                self._delete_workshop(workshop)
        for reg in [r for r in self.live.values() if r.member == member.id]:
            if reg.state == "registered" and reg.session:
                session = self.sessions[reg.session]
                if session.state != "planned" or self.at >= session.start:
                    continue
            self._free_seats(reg)
            self._end(reg, "account_purged")
        hidden = self.gifts_by_email.pop(member.email, []) if member.email else []
        for gift in [*self.gifts_to.get(member.id, []), *hidden]:
            if gift.state == "sent":  # to it, or to its address while hidden (ACC-7)
                gift.state = "expired"
                gift.email = None
                self.escrow -= gift.stars
                self.returned += gift.stars
        self._sweep(member, member.available)
        member.status = PURGED
        member.sponsor = None
        self.active.pop(member.id, None)
        email = member.email
        if email is not None:
            self.by_email.pop(email, None)
        member.email = None
        kept: list[Note] = []
        for event, recipients, emails in self.notes:
            who = tuple(w for w in recipients if w != member.id)
            mails = tuple(m for m in emails if m != email)
            if who or mails:
                kept.append((event, who, mails))
        self.notes = kept
        self.notes.append(("AccountPurged", (member.id,), ()))  # the last notice it gets

    # ------------------------------------------------------------------ workshops
    def create_workshop(self, workshop_id: str, organizer: str, cost: int, capacity: int,
                        duration: timedelta) -> None:
        workshop = MWorkshop(workshop_id, organizer, cost, capacity, duration)
        self.workshops[workshop_id] = workshop
        self.workshops_of.setdefault(organizer, []).append(workshop)

    def delete_workshop(self, workshop_id: str) -> None:
        self._delete_workshop(self.workshops[workshop_id])

    def _delete_workshop(self, workshop: MWorkshop) -> None:
        workshop.deleted = True
        for session in self.sessions_of.get(workshop.id, []):
            if session.state == "planned" and self.at < session.start:
                self._session_state(session, "cancelled")
                self._cancel("session_end", session.id)
        told = []
        for reg in [r for r in self.live.values() if r.workshop == workshop.id]:
            told.append(reg.member)
            if reg.state == "registered" and reg.session and (
                self.sessions[reg.session].state != "cancelled"
            ):
                continue  # started: told, but the session lives on
            self._end(reg, "workshop_deleted")
        self._tell_all("workshop_deleted", told)

    def plan_session(self, session_id: str, workshop_id: str, start: datetime,
                     capacity: int | None) -> None:
        workshop = self.workshops[workshop_id]
        session = MSession(session_id, workshop_id, workshop.organizer, start,
                           start + workshop.duration,
                           workshop.capacity if capacity is None else capacity)
        self.sessions[session_id] = session
        self.sessions_of.setdefault(workshop_id, []).append(session)
        self._session_state(session, "planned")
        self._schedule("session_end", session_id, session.end)
        self.note("SessionPlanned", [r.member for r in self.live.values()
                                     if r.workshop == workshop_id and r.state == "waitlisted"])

    def move_session(self, session_id: str, start: datetime) -> None:
        session = self.sessions[session_id]
        session.end = start + (session.end - session.start)
        session.start = start
        self.touched_sessions.add(session_id)
        self._schedule("session_end", session_id, session.end)
        registered = []
        until = self.policy.add_days(session.end, self.policy.confirmation_window_days)
        for reg in [r for r in self.live.values() if r.session == session_id]:
            if reg.state == "registered":
                reg.deadline = until
                registered.append(reg.member)
            else:
                self._end_and_tell(reg, "session_moved")
        self.note("SessionMoved", registered)

    def set_capacity(self, session_id: str, capacity: int) -> None:
        self.sessions[session_id].capacity = capacity
        self.touched_sessions.add(session_id)

    def cancel_session(self, session_id: str) -> None:
        session = self.sessions[session_id]
        self._session_state(session, "cancelled")
        self._cancel("session_end", session_id)
        told = [self._end(r, "session_cancelled").member
                for r in [r for r in self.live.values() if r.session == session_id]]
        self._tell_all("session_cancelled", told)

    # ------------------------------------------------------------------ requests
    def request(self, reg_id: str, member_id: str, seats: int, *, session_id: str | None,
                workshop_id: str) -> None:
        workshop = self.workshops[workshop_id]
        if session_id is not None:
            due = self.sessions[session_id].start
        else:
            due = self.policy.add_days(self.at, self.policy.future_request_due_days)
        amount = workshop.cost * seats
        reg = MReg(id=reg_id, member=member_id, organizer=workshop.organizer,
                   workshop=workshop_id, session=session_id, seats=seats, amount=amount,
                   deadline=due)
        self.regs[reg_id] = reg
        self.live[reg_id] = reg
        if amount:
            member = self.members[member_id]
            self._debit(member, amount)
            member.held += amount
            self.held += amount
        self._schedule("request", reg_id, due)
        self.note("RequestReceived", [workshop.organizer])

    def end(self, reg_id: str, trigger: str) -> None:
        """A command that ends a request (refuse, cancel, unregister, leave, ...)."""
        reg = self.regs[reg_id]
        self._free_seats(reg)
        self._end_and_tell(reg, trigger)

    def accept(self, reg_id: str) -> None:
        reg = self.regs[reg_id]
        assert reg.session is not None
        session = self.sessions[reg.session]
        reg.state = "registered"
        reg.deadline = self.policy.add_days(session.end, self.policy.confirmation_window_days)
        session.seats_taken += reg.seats
        self.touched_sessions.add(session.id)
        self._cancel("request", reg_id)
        self.note("RequestAccepted", [reg.member])

    def accept_future(self, reg_id: str) -> None:
        reg = self.regs[reg_id]
        reg.state = "waitlisted"
        reg.session = None
        reg.deadline = self.policy.add_days(self.at, self.policy.waitlist_window_days)
        self._cancel("request", reg_id)
        self._schedule("waitlist", reg_id, reg.deadline)
        self.note("RequestWaitlisted", [reg.member])

    def join(self, reg_id: str, session_id: str) -> None:
        reg = self.regs[reg_id]
        session = self.sessions[session_id]
        reg.state = "registered"
        reg.session = session_id
        reg.deadline = self.policy.add_days(session.end, self.policy.confirmation_window_days)
        session.seats_taken += reg.seats
        self.touched_sessions.add(session_id)
        self._cancel("waitlist", reg_id)
        self.note("SessionJoined", [reg.member, reg.organizer])

    # ------------------------------------------------------------------ after the session
    def confirm_held(self, session_id: str) -> None:
        session = self.sessions[session_id]
        self._session_state(session, "held")
        self._cancel("confirmation", session_id)
        registered = self.registered_in(session)
        for reg in registered:
            self._end(reg, "held")
        for person in dict.fromkeys([session.organizer, *(r.member for r in registered)]):
            self._reward_sponsor(self.members[person])
        self._tell_all("held", [r.member for r in registered])

    def confirm_not_held(self, session_id: str) -> None:
        session = self.sessions[session_id]
        self._session_state(session, "not_held")
        self._cancel("confirmation", session_id)
        told = [self._end(r, "not_held").member for r in self.registered_in(session)]
        self._tell_all("not_held", told)

    def attend(self, reg_id: str, mark: str) -> None:
        """The member says they ``"attended"`` or were ``"absent"`` (BOOK-33: no refund)."""
        reg = self.regs[reg_id]
        reg.attendance = mark
        if mark == "absent":
            del self.paid[reg_id]

    def evaluate(self, reg_id: str) -> None:
        self.regs[reg_id].evaluated = True
        del self.paid[reg_id]

    # ------------------------------------------------------------------ what booking allows
    # Whether the rules accept a booking command now (at ``self.at``, every deadline due
    # applied, as the service applies them first).
    def acting(self, member_id: str) -> bool:
        """Only an active member acts (ACC-1, ACC-7); a deactivated one is hidden, so
        nobody starts anything new with them either."""
        return self.members[member_id].status == ACTIVE

    def _party(self, actor: str, reg: MReg, party: str | None) -> bool:
        """Whether ``actor`` is the request's active ``"member"`` or ``"organizer"``."""
        return actor == (reg.organizer if party == "organizer" else reg.member) and (
            self.acting(actor))

    def open_for_changes(self, session: MSession) -> bool:
        """Planned and not started: it still takes requests, joins, changes, withdrawals."""
        return session.state == "planned" and self.at < session.start

    @staticmethod
    def seats_left(session: MSession) -> int:
        return session.capacity - session.seats_taken

    def has_live(self, member_id: str, *, session_id: str | None = None,
                 workshop_id: str = "") -> bool:
        """BOOK-4: whether the member has a live request or registration for the session,
        or (no session given) for a future session of the workshop."""
        slot = session_id or f"future|{workshop_id}"
        return any(r.member == member_id and (r.session or f"future|{r.workshop}") == slot
                   for r in self.live.values())

    def may_delete_workshop(self, actor: str, workshop_id: str) -> bool:
        """BOOK-5: its organizer, once."""
        workshop = self.workshops[workshop_id]
        return actor == workshop.organizer and self.acting(actor) and not workshop.deleted

    def may_plan_session(self, actor: str, workshop_id: str, start: datetime) -> bool:
        """BOOK-6: the organizer, for a workshop not deleted, later than now."""
        workshop = self.workshops[workshop_id]
        return (actor == workshop.organizer and self.acting(actor) and not workshop.deleted
                and start > self.at)

    def may_change_session(self, actor: str, session_id: str, *,
                           start: datetime | None = None, capacity: int | None = None) -> bool:
        """BOOK-7/8/9: the organizer, before the start, moves a session (to a later instant
        than now), changes its capacity (never below the seats taken) or cancels it."""
        session = self.sessions[session_id]
        return (actor == session.organizer and self.acting(actor)
                and self.open_for_changes(session) and (start is None or start > self.at)
                and (capacity is None
                     or capacity >= max(self.policy.min_capacity, session.seats_taken)))

    def may_request(self, member_id: str, seats: int, *, session_id: str | None = None,
                    workshop_id: str | None = None) -> bool:
        """BOOK-3, BOOK-4, BOOK-11..13, BOOK-16: seats in a session not started, or in a
        future session of a workshop not deleted, paid for now; ACC-7: not from a hidden
        organizer."""
        if session_id is not None:
            session = self.sessions[session_id]
            if not self.open_for_changes(session):
                return False  # requests close at the start (BOOK-16)
            workshop, limit = self.workshops[session.workshop], session.capacity
        else:
            assert workshop_id is not None
            workshop = self.workshops[workshop_id]
            limit = self.policy.max_future_seats
        return (self.acting(member_id) and not workshop.deleted
                and member_id != workshop.organizer and self.acting(workshop.organizer)
                and self.policy.min_seats <= seats <= limit
                and not self.has_live(member_id, session_id=session_id,
                                      workshop_id=workshop.id)
                and self.members[member_id].available >= workshop.cost * seats)

    def may_accept(self, actor: str, reg_id: str) -> bool:
        """BOOK-14, BOOK-18: the organizer, a request for a session that has the seats."""
        reg = self.regs[reg_id]
        return (self._party(actor, reg, "organizer") and reg.state == "pending"
                and reg.session is not None
                and self.seats_left(self.sessions[reg.session]) >= reg.seats)

    def may_accept_future(self, actor: str, reg_id: str) -> bool:
        """BOOK-14, BOOK-22: the organizer, a request for a future session, or one for a
        session that lacks the seats (at most ``max_future_seats``, BOOK-12; one wait per
        workshop, BOOK-4)."""
        reg = self.regs[reg_id]
        if not (self._party(actor, reg, "organizer") and reg.state == "pending"):
            return False
        return reg.session is None or (
            self.seats_left(self.sessions[reg.session]) < reg.seats
            and reg.seats <= self.policy.max_future_seats
            and not self.has_live(reg.member, workshop_id=reg.workshop))

    def may_end(self, actor: str, reg_id: str, trigger: str) -> bool:
        """A command ending a request (BOOK-14/17/19/20/25): by the party, from the states
        :data:`ENDS` gives; a registration only before its session starts."""
        reg = self.regs[reg_id]
        ending = ENDS[trigger]
        if not (self._party(actor, reg, ending.by) and reg.state in ending.ends):
            return False
        return reg.state != "registered" or (
            reg.session is not None and self.open_for_changes(self.sessions[reg.session]))

    def may_join(self, actor: str, reg_id: str, session_id: str) -> bool:
        """BOOK-23: the waitlisted member, into a session of the workshop not started, all
        their seats; BOOK-4; ACC-7: not into a hidden organizer's session."""
        reg = self.regs[reg_id]
        session = self.sessions[session_id]
        return (self._party(actor, reg, "member") and reg.state == "waitlisted"
                and session.workshop == reg.workshop and self.acting(reg.organizer)
                and self.open_for_changes(session) and self.seats_left(session) >= reg.seats
                and not self.has_live(reg.member, session_id=session_id))

    def may_confirm(self, actor: str, session_id: str) -> bool:
        """BOOK-30/31: the organizer says whether a session that ended was held."""
        session = self.sessions[session_id]
        return actor == session.organizer and self.acting(actor) and session.state == AWAITING

    def may_attend(self, actor: str, reg_id: str) -> bool:
        """BOOK-33: the member of a paid registration, once."""
        reg = self.regs[reg_id]
        return (self._party(actor, reg, "member") and reg.state == "paid"
                and reg.attendance is None)

    def may_evaluate(self, actor: str, reg_id: str) -> bool:
        """BOOK-40: the member who attended, once."""
        reg = self.regs[reg_id]
        return (self._party(actor, reg, "member") and reg.state == "paid"
                and reg.attendance == "attended" and not reg.evaluated)

    # ------------------------------------------------------------------ gifts
    def gift(self, gift_id: str, sender: str, email: str, stars: int) -> None:
        recipient = self.by_email.get(email)
        if recipient is not None and self.members[recipient].status == DEACTIVATED:
            recipient = None  # hidden: kept by address, as for no account (ACC-7)
        gift = MGift(gift_id, sender, stars, recipient, None if recipient else email)
        self.gifts[gift_id] = gift
        if recipient is None:
            self.gifts_by_email.setdefault(email, []).append(gift)
        else:
            self.gifts_to.setdefault(recipient, []).append(gift)
        self._debit(self.members[sender], stars)
        self.escrow += stars
        if recipient is not None:
            self.note("GiftReceived", [recipient])
        else:
            self.note("GiftReceived", emails=[email])

    def accept_gift(self, gift_id: str) -> None:
        gift = self.gifts[gift_id]
        gift.state = "accepted"
        assert gift.recipient is not None
        self.escrow -= gift.stars
        self._credit(self.members[gift.recipient], gift.stars)
        if self.members[gift.sender].status != PURGED:
            self.note("GiftAccepted", [gift.sender])

    # ------------------------------------------------------------------ tutorials
    def publish(self, tutorial_id: str, publisher: str, video: str) -> None:
        tutorial = MTutorial(tutorial_id, publisher, video)
        self.tutorials[tutorial_id] = tutorial
        self.tutorials_of.setdefault(publisher, []).append(tutorial)
        self.live_videos.add((publisher, video))
        self.histories.setdefault((publisher, video), [0, 0])

    def unpublish(self, tutorial_id: str) -> None:
        tutorial = self.tutorials[tutorial_id]
        if tutorial.live:
            tutorial.live = False
            self.live_videos.discard((tutorial.publisher, tutorial.video))

    def _remembered(self, since: datetime) -> bool:
        """Whether an id first used at ``since`` is still remembered (replay window)."""
        window = self.policy.replay_window
        try:
            return window is None or self.at < since + window
        except OverflowError:  # past year 9999: the service keeps it for good
            return True

    def remembers_page_view(self, page_view: str) -> bool:
        """Whether ``page_view`` now only gets the campaign it showed first (AD-7)."""
        seen = self.page_views.get(page_view)
        return seen is not None and self._remembered(seen[2])

    def remembers_view(self, view_id: str) -> bool:
        """Whether a report of ``view_id`` now only gets its first answer (TUTO-4)."""
        seen = self.view_ids.get(view_id)
        return seen is not None and self._remembered(seen[3])

    def view(self, tutorial_id: str, viewer: str, view_id: str) -> str:
        """The verdict the rules give this view report (TUTO-2/4), applied."""
        if self.remembers_view(view_id):
            return self.view_ids[view_id][2]
        tutorial = self.tutorials[tutorial_id]
        if viewer == tutorial.publisher:
            verdict = "own_view"
        else:
            # TUTO-4: per tutorial, and per video (a video changed or published again)
            marks = [(tutorial.publisher, tutorial.video, viewer), ("", tutorial.id, viewer)]
            last = max((self.marks[m] for m in marks if m in self.marks), default=None)
            if last is not None and self.at < last + self.policy.view_dedup_window:
                verdict = "within_window"
            else:
                verdict = "counted"
                for mark in marks:
                    self.marks[mark] = self.at
                history = self.histories[(tutorial.publisher, tutorial.video)]
                history[0] += 1
                due = history[0] // self.policy.views_per_tutorial_star
                while history[1] < due:
                    history[1] += 1
                    self._issue(self.members[tutorial.publisher], 1)
                    self.note("TutorialThresholdPaid", [tutorial.publisher])
        self.view_ids[view_id] = (tutorial_id, viewer, verdict, self.at)
        return verdict

    # ------------------------------------------------------------------ campaigns
    def create_campaign(self, campaign_id: str, owner: str, budget: int, start: datetime,
                        domains: tuple[str, ...]) -> None:
        campaign = MCampaign(campaign_id, owner, budget,
                             budget * self.policy.impressions_per_ad_star, start, domains)
        self.campaigns[campaign_id] = campaign
        self.campaigns_of.setdefault(owner, []).append(campaign)
        self._debit(self.members[owner], budget)
        self.ad_spend += budget
        self._start_or_schedule(campaign)

    def _start_or_schedule(self, campaign: MCampaign) -> None:
        if campaign.start > self.at:
            self._schedule("campaign", campaign.id, campaign.start)
        else:
            self._cancel("campaign", campaign.id)
            self._start_campaign(campaign)

    def _start_campaign(self, campaign: MCampaign) -> None:
        campaign.state = "running"
        self.running[campaign.id] = campaign
        self.note("CampaignStarted", [campaign.owner])

    def edit_budget(self, campaign_id: str, budget: int) -> None:
        campaign = self.campaigns[campaign_id]
        if campaign.state != "scheduled":
            return  # locked once started (AD-5): the service refuses a change
        owner = self.members[campaign.owner]
        difference = budget - campaign.budget
        if difference > 0:
            self._debit(owner, difference)
        elif difference < 0:
            self._credit(owner, -difference)
        self.ad_spend += difference
        campaign.budget = budget
        campaign.goal = budget * self.policy.impressions_per_ad_star
        self._start_or_schedule(campaign)

    def edit_text(self, campaign_id: str) -> None:
        campaign = self.campaigns[campaign_id]
        if campaign.state == "scheduled":
            self._start_or_schedule(campaign)

    def serve(self, domain: str, page_view: str) -> str | None:
        """The campaign the rules show on this page view (AD-7), its impression counted."""
        if self.remembers_page_view(page_view):
            return self.page_views[page_view][1]
        best: MCampaign | None = None
        for campaign in self.running.values():
            if domain not in campaign.domains or (
                self.members[campaign.owner].status != ACTIVE  # hidden (ACC-7)
            ):
                continue
            if best is None or _goes_before(campaign, best):
                best = campaign
        if best is None:
            return None
        best.impressions += 1
        if best.impressions >= best.goal:
            best.state = "completed"
            del self.running[best.id]
            self.note("CampaignEnded", [best.owner])
        self.page_views[page_view] = (domain, best.id, self.at)
        return best.id


def _goes_before(a: MCampaign, b: MCampaign) -> bool:
    left, right = a.impressions * b.goal, b.impressions * a.goal
    if left != right:
        return left < right
    return (a.start, a.id) < (b.start, b.id)
