"""The model's state, and what its parts share: notices, stars, deadlines, request endings.

:class:`Model` keeps every record and platform total, the record of what the current
step did (notices, members and sessions touched, requests ended) and the heap of
deadlines. The rules of each area are its parts (:attr:`Model.accounts`,
:attr:`Model.gifting`, :attr:`Model.schedule`, :attr:`Model.bookings`,
:attr:`Model.publishing`, :attr:`Model.advertising`), each changing this state through
the steps kept here: stars credited, debited, issued and swept; deadlines set, dropped
and applied by the part of their area; a request ended as :data:`~.records.ENDS` says.

Deadlines are kept in a heap ordered like the stores order timers (due instant, then
scheduling order), so expiries apply at their own instants and in the same order.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable
from datetime import datetime

from ...rules import Policy
from .accounts import Accounts
from .advertising import Advertising
from .bookings import Bookings
from .gifting import Gifting
from .publishing import Publishing
from .records import (
    ACTIVE,
    ENDS,
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
from .schedule import Schedule

__all__ = ["Model"]


class Model:
    """What the rules say the state is, kept by hand; its parts apply the rules by area."""

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
        # the rules, by area: each part reads and changes the state above
        self.accounts = Accounts(self)
        self.gifting = Gifting(self)
        self.schedule = Schedule(self)
        self.bookings = Bookings(self)
        self.publishing = Publishing(self)
        self.advertising = Advertising(self)

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

    def unnote(self, member_id: str, email: str | None) -> None:
        """Take a member being purged, and its address, out of this step's notices."""
        kept: list[Note] = []
        for event, recipients, emails in self.notes:
            who = tuple(w for w in recipients if w != member_id)
            mails = tuple(m for m in emails if m != email)
            if who or mails:
                kept.append((event, who, mails))
        self.notes = kept

    # ------------------------------------------------------------------ stars
    def credit(self, member: MMember, stars: int) -> None:
        member.available += stars
        self.wallets += stars
        self.touched.add(member.id)

    def debit(self, member: MMember, stars: int) -> None:
        member.available -= stars
        self.wallets -= stars
        self.touched.add(member.id)

    def issue(self, member: MMember, stars: int) -> None:
        self.credit(member, stars)
        self.issued += stars

    def sweep(self, member: MMember, stars: int) -> None:
        if stars:
            self.debit(member, stars)
            self.returned += stars

    # ------------------------------------------------------------------ deadlines
    def set_deadline(self, kind: str, ref: str, due: datetime) -> None:
        """The ``kind`` deadline of ``ref`` is now ``due`` (any earlier one is dropped)."""
        seq = next(self._seq)
        self._versions[(kind, ref)] = seq
        heapq.heappush(self._heap, (due, seq, kind, ref))

    def drop_deadline(self, kind: str, ref: str) -> None:
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
        apply = self._deadline_handlers()
        while heap and heap[0][0] <= now:
            due, seq, kind, ref = heapq.heappop(heap)
            if self._versions.get((kind, ref)) != seq:
                continue
            del self._versions[(kind, ref)]
            self.at = due
            apply[kind](ref)
            ran += 1
        self.at = now
        return ran

    def _deadline_handlers(self) -> dict[str, Callable[[str], None]]:
        """Which part applies each kind of deadline, given what it is about."""
        return {"request": self.bookings.due_request, "waitlist": self.bookings.due_waitlist,
                "session_end": self.schedule.due_session_end,
                "confirmation": self.schedule.due_confirmation,
                "purge": self.accounts.due_purge, "campaign": self.advertising.due_campaign}

    def remembered(self, since: datetime) -> bool:
        """Whether an id first used at ``since`` is still remembered (replay window)."""
        window = self.policy.replay_window
        try:
            return window is None or self.at < since + window
        except OverflowError:  # past year 9999: the service keeps it for good
            return True

    # ------------------------------------------------------------------ requests ending
    def end_request(self, reg: MReg, trigger: str) -> MReg:
        """End ``reg`` as :data:`~.records.ENDS` says of ``trigger``: its hold refunded to
        the member or posted to the organizer; it tells nobody."""
        state, outcome = ENDS[trigger].state, ENDS[trigger].outcome
        member = self.members[reg.member]
        if reg.amount:
            member.held -= reg.amount
            self.held -= reg.amount
            self.touched.add(member.id)
            if outcome == "posted":
                self.credit(self.members[reg.organizer], reg.amount)
            else:
                self.credit(member, reg.amount)
                if member.status == PURGED:
                    self.sweep(member, reg.amount)
        reg.state = state
        reg.outcome = outcome if reg.amount else None
        reg.ended_at = self.at
        del self.live[reg.id]
        if state == "paid":
            self.paid[reg.id] = reg
        self.ended.append(reg)
        return reg

    def end_and_tell(self, reg: MReg, trigger: str) -> None:
        """End ``reg``; its notice tells the one party :data:`~.records.ENDS` names."""
        self.end_request(reg, trigger)
        ending = ENDS[trigger]
        assert ending.notice is not None
        self.note(ending.notice, [reg.member if ending.told == "member" else reg.organizer])

    def tell_all(self, trigger: str, recipients: Iterable[str]) -> None:
        """The one notice of ``trigger``, about a session or a workshop, to ``recipients``."""
        notice = ENDS[trigger].notice
        assert notice is not None
        self.note(notice, recipients)

    def free_seats(self, reg: MReg) -> None:
        if reg.state == "registered" and reg.session:
            session = self.sessions[reg.session]
            session.seats_taken -= reg.seats
            self.touched_sessions.add(session.id)

    # ------------------------------------------------------------------ shared reads
    def registered_in(self, session: MSession) -> list[MReg]:
        return [r for r in self.live.values()
                if r.session == session.id and r.state == "registered"]

    def acting(self, member_id: str) -> bool:
        """Only an active member acts (ACC-1, ACC-7); a deactivated one is hidden, so
        nobody starts anything new with them either."""
        return self.members[member_id].status == ACTIVE

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
