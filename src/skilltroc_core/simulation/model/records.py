"""The records the reference model keeps, and every way a request ends (:data:`ENDS`).

Plain mutable records, one per member, workshop, session, registration, gift, tutorial
and campaign, and the refund and notice table of the request endings: the
:class:`~.core.Model` and its parts read and change them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

import attrs

__all__ = ["ACTIVE", "AWAITING", "DEACTIVATED", "ENDS", "LIVE", "PENDING", "PURGED", "Ending",
           "MCampaign", "MGift", "MMember", "MReg", "MSession", "MTutorial", "MWorkshop", "Note"]

#: (event, sorted member recipients, sorted emails) of one expected notice.
Note = tuple[str, tuple[str, ...], tuple[str, ...]]

PENDING: Final = "pending_confirmation"
ACTIVE: Final = "active"
DEACTIVATED: Final = "deactivated"
PURGED: Final = "purged"
LIVE: Final = frozenset({"pending", "registered", "waitlisted"})
#: A session that ended, waiting for its organizer to say whether it was held.
AWAITING: Final = "awaiting_confirmation"


@attrs.frozen
class Ending:
    """How one trigger ends a request: the refund matrix (REFUND-1..5) and the notice
    that tells of it (BOOK-21, the NOTIFY table)."""

    #: the registration's final state
    state: str
    #: how its hold ends: ``"posted"`` to the organizer, or voided for this reason
    outcome: str
    #: the notice that tells of it (None: none; a purged member is told nothing, ACC-7)
    notice: str | None = None
    #: whom it tells: the ``"member"`` or the ``"organizer"`` alone, or each member it
    #: ends for, in one notice about the ``"session"`` or the ``"workshop"``
    told: str | None = None
    #: who ends it by a command (the ``"member"`` or the ``"organizer"``), and the live
    #: states that command ends; None: a deadline or a change of the session ends it
    by: str | None = None
    ends: frozenset[str] = frozenset()


#: Every way a request ends, by its trigger.
ENDS: Final[dict[str, Ending]] = {
    "refuse": Ending("refused", "refused", "RequestRefused", told="member",
                     by="organizer", ends=frozenset({"pending"})),
    "cancel": Ending("cancelled", "cancelled_by_member", "RequestCancelled", told="organizer",
                     by="member", ends=frozenset({"pending"})),
    "expire": Ending("expired", "expired", "RequestExpired", told="member"),
    "session_moved": Ending("voided_by_move", "session_moved", "RequestVoidedBySessionMove",
                            told="member"),
    "session_cancelled": Ending("session_cancelled", "session_cancelled", "SessionCancelled",
                                told="session"),
    "workshop_deleted": Ending("workshop_deleted", "workshop_deleted", "WorkshopDeleted",
                               told="workshop"),
    "unregister": Ending("unregistered", "unregistered", "MemberUnregistered",
                         told="organizer", by="member", ends=frozenset({"registered"})),
    "cancel_transaction": Ending("transaction_cancelled", "transaction_cancelled",
                                 "TransactionCancelled", told="member", by="organizer",
                                 ends=frozenset({"registered", "waitlisted"})),
    "not_held": Ending("refunded_not_held", "not_held", "SessionNotHeld", told="session"),
    "organizer_silent": Ending("refunded_organizer_silent", "organizer_silent",
                               "SessionLapsed", told="session"),
    "leave": Ending("left_waitlist", "left_waitlist", "WaitlistLeft", told="organizer",
                    by="member", ends=frozenset({"waitlisted"})),
    "waitlist_expire": Ending("waitlist_expired", "waitlist_expired", "WaitlistExpired",
                              told="member"),
    "account_purged": Ending("account_purged", "account_purged"),
    "held": Ending("paid", "posted", "SessionHeld", told="session"),
}


@attrs.define
class MMember:
    id: str
    email: str | None
    status: str
    pro: bool
    complete: bool
    sponsor: str | None = None
    rewarded: bool = False
    available: int = 0
    held: int = 0
    token: str | None = None


@attrs.define
class MWorkshop:
    id: str
    organizer: str
    cost: int
    capacity: int
    duration: timedelta
    deleted: bool = False


@attrs.define
class MSession:
    id: str
    workshop: str
    organizer: str
    start: datetime
    end: datetime
    capacity: int
    seats_taken: int = 0
    state: str = "planned"


@attrs.define
class MReg:
    id: str
    member: str
    organizer: str
    workshop: str
    session: str | None
    seats: int
    amount: int
    deadline: datetime
    state: str = "pending"
    attendance: str | None = None
    evaluated: bool = False
    outcome: str | None = None
    ended_at: datetime | None = None


@attrs.define
class MGift:
    id: str
    sender: str
    stars: int
    recipient: str | None
    email: str | None
    state: str = "sent"


@attrs.define
class MTutorial:
    id: str
    publisher: str
    video: str
    live: bool = True


@attrs.define
class MCampaign:
    id: str
    owner: str
    budget: int
    goal: int
    start: datetime
    domains: tuple[str, ...]
    state: str = "scheduled"
    impressions: int = 0
