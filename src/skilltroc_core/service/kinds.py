"""The entity kinds the service stores, with the indexes each store keeps for them."""

from __future__ import annotations

import attrs

from ..accounts import Member
from ..gifts import Gift, GiftState
from ..ports import EntityKind, Index
from ..social import FeedMessage, Follow, Invitation

__all__ = [
    "BONUS_EMAILS",
    "COMMAND_KEYS",
    "FEED",
    "FOLLOWS",
    "GIFTS",
    "INVITATIONS",
    "MEMBERS",
    "SETTINGS",
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
