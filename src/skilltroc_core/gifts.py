"""Star gifts (GIFT-1..4): sent into escrow, credited only when the recipient accepts.

The recipient is named by email, member or not (GIFT-2). A gift to a member records
that member; a gift to someone who is not a member keeps the address until they sign up
with it, then it is theirs to accept (GIFT-3). The sender can never take a gift back
(GIFT-4); with a policy expiry an unaccepted gift goes to the platform's issuance account.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import attrs

from .statemachine import Move, TransitionTable, transition

__all__ = ["GIFT_LIFECYCLE", "Gift", "GiftState"]


class GiftState(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    EXPIRED = "expired"


GIFT_LIFECYCLE: TransitionTable[GiftState] = TransitionTable(
    "gift",
    GiftState,
    GiftState.SENT,
    frozenset({GiftState.ACCEPTED, GiftState.EXPIRED}),
    [
        Move(source=GiftState.SENT, trigger="accept", target=GiftState.ACCEPTED, rule="GIFT-3"),
        Move(source=GiftState.SENT, trigger="expire", target=GiftState.EXPIRED, rule="GIFT-4"),
    ],
)


@attrs.frozen(kw_only=True)
class Gift:
    """Stars waiting in gift escrow for their recipient."""

    id: str
    sender: str
    stars: int
    sent_at: datetime
    recipient: str | None = None  # member id, once the recipient is a member
    recipient_email: str | None = None  # only while the recipient is not a member
    state: GiftState = GiftState.SENT
    ended_at: datetime | None = None

    def accepted(self, now: datetime) -> Gift:
        state = transition(GIFT_LIFECYCLE, self.state, "accept", what=f"gift {self.id}",
                           rule="GIFT-3")
        return attrs.evolve(self, state=state, ended_at=now)

    def expired(self, now: datetime) -> Gift:
        state = transition(GIFT_LIFECYCLE, self.state, "expire", what=f"gift {self.id}",
                           rule="GIFT-4")
        return attrs.evolve(self, state=state, ended_at=now)

    def claimed_by(self, member: str) -> Gift:
        """The gift's non-member recipient signed up as ``member``: the address goes."""
        return attrs.evolve(self, recipient=member, recipient_email=None)
