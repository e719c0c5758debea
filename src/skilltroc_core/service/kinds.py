"""The entity kinds the service stores, with the indexes each store keeps for them."""

from __future__ import annotations

from collections.abc import Callable

import attrs

from ..accounts import Member
from ..booking import (
    Attendance,
    Evaluation,
    MemberStats,
    Registration,
    RegistrationState,
    Session,
    SessionState,
    Workshop,
)
from ..gifts import Gift, GiftState
from ..ports import EntityKind, Index
from ..social import FeedMessage, Follow, Invitation

__all__ = [
    "BONUS_EMAILS",
    "COMMAND_KEYS",
    "EVALUATIONS",
    "FEED",
    "FOLLOWS",
    "GIFTS",
    "INVITATIONS",
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
    """What a command's idempotency key did the first time (its arguments and result)."""

    key: str
    command: str
    fingerprint: str
    result: str


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


MEMBERS: EntityKind[Member] = EntityKind(
    name="member", type=Member,
    indexes=(Index(name="email", keys=_email, unique=True),),
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
FEED: EntityKind[FeedMessage] = EntityKind(
    name="feed_message", type=FeedMessage,
    indexes=(Index(name="author", keys=lambda m: (m.author,)),),
)
INVITATIONS: EntityKind[Invitation] = EntityKind(
    name="invitation", type=Invitation,
    indexes=(
        Index(name="sponsor", keys=lambda i: (i.sponsor,)),
        Index(name="email", keys=lambda i: (i.email,)),
    ),
)
COMMAND_KEYS: EntityKind[CommandKey] = EntityKind(name="command_key", type=CommandKey)
SETTINGS: EntityKind[Setting] = EntityKind(name="setting", type=Setting)
BONUS_EMAILS: EntityKind[BonusEmail] = EntityKind(name="bonus_email", type=BonusEmail)


# Booking ------------------------------------------------------------------------------
def _reg_keys(state_set: frozenset[RegistrationState], key: Callable[[Registration], str | None]
              ) -> Callable[[Registration], tuple[str, ...]]:
    def keys(registration: Registration) -> tuple[str, ...]:
        if registration.state not in state_set:
            return ()
        value = key(registration)
        return (value,) if value else ()

    return keys


_R = RegistrationState
_WITH_SESSION = frozenset({_R.PENDING, _R.REGISTERED})
_LIVE = frozenset({_R.PENDING, _R.REGISTERED, _R.WAITLISTED})

WORKSHOPS: EntityKind[Workshop] = EntityKind(
    name="workshop", type=Workshop,
    indexes=(Index(name="organizer", keys=lambda w: (w.organizer,)),),
)
SESSIONS: EntityKind[Session] = EntityKind(
    name="session", type=Session,
    indexes=(
        Index(name="workshop", keys=lambda s: (s.workshop,)),
        Index(name="organizer_awaiting",
              keys=lambda s: (s.organizer,)
              if s.state is SessionState.AWAITING_CONFIRMATION else ()),
    ),
)
REGISTRATIONS: EntityKind[Registration] = EntityKind(
    name="registration", type=Registration,
    indexes=(
        Index(name="session_live", keys=_reg_keys(_WITH_SESSION, lambda r: r.session)),
        Index(name="workshop_live", keys=_reg_keys(_LIVE, lambda r: r.workshop)),
        Index(name="workshop_waitlist",
              keys=_reg_keys(frozenset({_R.WAITLISTED}), lambda r: r.workshop)),
        Index(name="organizer_pending",
              keys=_reg_keys(frozenset({_R.PENDING}), lambda r: r.organizer)),
        Index(name="member_live", keys=_reg_keys(_LIVE, lambda r: r.member)),
        Index(name="member_to_evaluate",
              keys=lambda r: (r.member,)
              if r.state is _R.PAID and not r.evaluated and r.attendance is not Attendance.ABSENT
              else ()),
        # BOOK-4: one live request or registration per session and member ...
        Index(name="member_session", unique=True,
              keys=_reg_keys(_WITH_SESSION,
                             lambda r: f"{r.member}|{r.session}" if r.session else None)),
        # ... and one live future-session request or waitlist entry per workshop and member.
        Index(name="member_future", unique=True,
              keys=lambda r: (f"{r.member}|{r.workshop}",)
              if (r.state is _R.WAITLISTED or (r.state is _R.PENDING and r.session is None))
              else ()),
    ),
)
EVALUATIONS: EntityKind[Evaluation] = EntityKind(
    name="evaluation", type=Evaluation,
    indexes=(
        Index(name="workshop", keys=lambda e: (e.workshop,)),
        Index(name="recommender", keys=lambda e: (e.member,) if e.recommend else ()),
    ),
)
MEMBER_STATS: EntityKind[MemberStats] = EntityKind(name="member_stats", type=MemberStats)
