"""The entity kinds the service stores, with the indexes each store keeps for them."""

from __future__ import annotations

from datetime import datetime
from operator import attrgetter
from typing import Final

import attrs

from ..accounts import AccountStatus, Member
from ..booking import (
    Attendance,
    Evaluation,
    MemberStats,
    Registration,
    RegistrationState,
    Session,
    SessionState,
    Workshop,
    WorkshopState,
)
from ..gifts import Gift, GiftState
from ..listings import catalogue_keys, folded, newest_first, word_keys
from ..ports import EntityKind, Index, IndexKey
from ..social import FeedMessage, Follow, Invitation

__all__ = [
    "BONUS_EMAILS",
    "COMMAND_KEYS",
    "EVALUATIONS",
    "FEED",
    "FOLLOWS",
    "GIFTS",
    "INVITATIONS",
    "LEGACY_KEY_SETTING",
    "MEMBERS",
    "MEMBER_STATS",
    "REGISTRATIONS",
    "SESSIONS",
    "SETTINGS",
    "WORKSHOPS",
    "BonusEmail",
    "CommandKey",
    "Setting",
]


@attrs.frozen(kw_only=True)
class CommandKey:
    """What a command's idempotency key did the first time (its arguments and result):
    a :class:`~skilltroc_core.idempotency.Remembered` the service keeps as an entity."""

    key: str
    command: str
    fingerprint: str
    result: str
    until: datetime | None = None  # forgotten from then on (None: kept for good)

    @property
    def operation(self) -> str:
        """The command the key was used for (as :mod:`skilltroc_core.idempotency` reads it)."""
        return self.command


@attrs.frozen(kw_only=True)
class Setting:
    """A store-wide value the service keeps (e.g. the key of email fingerprints)."""

    id: str
    value: str


@attrs.frozen(kw_only=True)
class BonusEmail:
    """STAR-1: this email (as a keyed one-way hash) already received its signup bonus."""

    id: str


def _email(member: Member) -> tuple[str, ...]:
    return (member.email,) if member.email else ()


def _named(member: Member) -> tuple[str, ...]:
    """Members found by name: active ones with a display name (SOCIAL-1, ACC-7)."""
    shown = member.status is AccountStatus.ACTIVE and member.profile.display_name
    return ("all",) if shown else ()


#: by_name: active members by folded display name (a purge or a deactivation takes
#: them out, name and all).
MEMBERS: EntityKind[Member] = EntityKind(
    name="member", type=Member, shared_reads=True,
    indexes=(
        Index(name="email", keys=_email, unique=True),
        Index(name="by_name", keys=_named,
              order=lambda m: folded(m.profile.display_name or "")),
    ),
)
GIFTS: EntityKind[Gift] = EntityKind(
    name="gift", type=Gift,
    indexes=(
        Index(name="pending_email",
              keys=lambda g: (g.recipient_email,)
              if g.recipient_email and g.state is GiftState.SENT else ()),
        Index(name="pending_recipient",
              keys=lambda g: (g.recipient,) if g.recipient and g.state is GiftState.SENT else ()),
        Index(name="sender", keys=lambda g: (g.sender,)),
    ),
)
FOLLOWS: EntityKind[Follow] = EntityKind(
    name="follow", type=Follow,
    indexes=(
        Index(name="follower", keys=lambda f: (f.follower,)),
        Index(name="followee", keys=lambda f: (f.followee,)),
    ),
)
#: newest: an author's messages, newest first (every page of SOCIAL-3's feeds).
FEED: EntityKind[FeedMessage] = EntityKind(
    name="feed_message", type=FeedMessage,
    indexes=(
        Index(name="author", keys=lambda m: (m.author,)),
        Index(name="newest", keys=lambda m: (m.author,),
              order=lambda m: newest_first(m.posted_at)),
    ),
)
INVITATIONS: EntityKind[Invitation] = EntityKind(
    name="invitation", type=Invitation,
    indexes=(
        Index(name="sponsor", keys=lambda i: (i.sponsor,)),
        Index(name="email", keys=lambda i: (i.email,)),
    ),
)
COMMAND_KEYS: EntityKind[CommandKey] = EntityKind(name="command_key", type=CommandKey)
SETTINGS: EntityKind[Setting] = EntityKind(name="setting", type=Setting, immutable=True)
#: The setting where earlier versions kept the key of email fingerprints, which now
#: comes from the host: a store still holding it is refused until it is taken out.
LEGACY_KEY_SETTING: Final = "email_hash_key"
BONUS_EMAILS: EntityKind[BonusEmail] = EntityKind(name="bonus_email", type=BonusEmail)


# Booking ------------------------------------------------------------------------------
_R = RegistrationState
# The positions of REGISTRATIONS' indexes (their order below).
(_SESSION_LIVE, _WORKSHOP_LIVE, _WORKSHOP_WAITLIST, _ORGANIZER_PENDING, _MEMBER_LIVE,
 _MEMBER_TO_EVALUATE, _MEMBER_SESSION, _MEMBER_FUTURE) = range(8)


def _registration_keys(r: Registration) -> tuple[IndexKey, ...]:
    """Every ``(index position, key)`` of a registration in :data:`REGISTRATIONS`' indexes
    (one function, because a registration is written on every booking command)."""
    state = r.state
    if state is _R.PENDING or state is _R.REGISTERED:
        session = r.session
        keys: list[IndexKey] = [(_SESSION_LIVE, session)] if session else []
        keys.append((_WORKSHOP_LIVE, r.workshop))
        if state is _R.PENDING:
            keys.append((_ORGANIZER_PENDING, r.organizer))
        keys.append((_MEMBER_LIVE, r.member))
        if session:
            keys.append((_MEMBER_SESSION, f"{r.member}|{session}"))
        elif state is _R.PENDING and session is None:
            keys.append((_MEMBER_FUTURE, f"{r.member}|{r.workshop}"))
        return tuple(keys)
    if state is _R.WAITLISTED:
        return ((_WORKSHOP_LIVE, r.workshop), (_WORKSHOP_WAITLIST, r.workshop),
                (_MEMBER_LIVE, r.member), (_MEMBER_FUTURE, f"{r.member}|{r.workshop}"))
    if state is _R.PAID and not r.evaluated and r.attendance is not Attendance.ABSENT:
        return ((_MEMBER_TO_EVALUATE, r.member),)
    return ()


def _registration_index(position: int, name: str, unique: bool) -> Index[Registration]:
    return Index(name=name, unique=unique,
                 keys=lambda r: tuple(key for at, key in _registration_keys(r) if at == position))


def _listed_workshop(w: Workshop) -> tuple[str, ...]:
    if w.state is not WorkshopState.ACTIVE:
        return ()
    return (*catalogue_keys(w.domain, w.mode, w.locality), f"organizer:{w.organizer}",
            *word_keys(w.title, w.description, w.domain, w.locality))


#: catalogue: active workshops newest first, by catalogue key (domain, mode, locality,
#: organizer) and by word of their title, description, domain and locality.
WORKSHOPS: EntityKind[Workshop] = EntityKind(
    name="workshop", type=Workshop,
    indexes=(
        Index(name="organizer", keys=lambda w: (w.organizer,)),
        Index(name="catalogue", keys=_listed_workshop,
              order=lambda w: newest_first(w.created_at)),
    ),
)
SESSIONS: EntityKind[Session] = EntityKind(
    name="session", type=Session,
    indexes=(
        Index(name="workshop", keys=lambda s: (s.workshop,)),
        Index(name="organizer_awaiting",
              keys=lambda s: (s.organizer,)
              if s.state is SessionState.AWAITING_CONFIRMATION else ()),
    ),
    keyed_by=attrgetter("workshop", "organizer", "state"),  # not at a seat taken
)
#: session_live: pending and registered, by session; workshop_live and member_live:
#: pending, registered and waitlisted; workshop_waitlist: waitlisted; organizer_pending:
#: unanswered; member_to_evaluate: paid, not evaluated, not declared absent.
#: BOOK-4: member_session, one live request or registration per session and member, and
#: member_future, one live future-session request or waitlist entry per workshop and member.
REGISTRATIONS: EntityKind[Registration] = EntityKind(
    name="registration", type=Registration,
    indexes=tuple(
        _registration_index(position, name, unique)
        for position, (name, unique) in enumerate((
            ("session_live", False), ("workshop_live", False), ("workshop_waitlist", False),
            ("organizer_pending", False), ("member_live", False),
            ("member_to_evaluate", False), ("member_session", True), ("member_future", True),
        ))
    ),
    all_keys=_registration_keys,
)
EVALUATIONS: EntityKind[Evaluation] = EntityKind(
    name="evaluation", type=Evaluation,
    indexes=(
        Index(name="workshop", keys=lambda e: (e.workshop,)),
        Index(name="recommender", keys=lambda e: (e.member,) if e.recommend else ()),
    ),
)
MEMBER_STATS: EntityKind[MemberStats] = EntityKind(name="member_stats", type=MemberStats)
