"""Gifts in the reference model: stars held in escrow from sending to acceptance."""

from __future__ import annotations

from .part import Part
from .records import DEACTIVATED, PURGED, MGift, MMember

__all__ = ["Gifting"]


class Gifting(Part):
    """Gifts sent to a member or kept by address (GIFT-3), accepted, or expired with
    their recipient's purge."""

    def send(self, gift_id: str, sender: str, email: str, stars: int) -> None:
        model = self.model
        recipient = model.by_email.get(email)
        if recipient is not None and model.members[recipient].status == DEACTIVATED:
            recipient = None  # hidden: kept by address, as for no account (ACC-7)
        gift = MGift(gift_id, sender, stars, recipient, None if recipient else email)
        model.gifts[gift_id] = gift
        if recipient is None:
            model.gifts_by_email.setdefault(email, []).append(gift)
        else:
            model.gifts_to.setdefault(recipient, []).append(gift)
        model.debit(model.members[sender], stars)
        model.escrow += stars
        if recipient is not None:
            model.note("GiftReceived", [recipient])
        else:
            model.note("GiftReceived", emails=[email])

    def accept(self, gift_id: str) -> None:
        model = self.model
        gift = model.gifts[gift_id]
        gift.state = "accepted"
        assert gift.recipient is not None
        model.escrow -= gift.stars
        model.credit(model.members[gift.recipient], gift.stars)
        if model.members[gift.sender].status != PURGED:
            model.note("GiftAccepted", [gift.sender])

    def claim(self, member_id: str, email: str) -> None:
        """GIFT-3: gifts kept by address become the member's (at signup, or back from a
        deactivation: a hidden account's address is answered as no account's, ACC-7)."""
        for gift in self.model.gifts_by_email.pop(email, []):
            if gift.state == "sent":
                gift.recipient, gift.email = member_id, None
                self.model.gifts_to.setdefault(member_id, []).append(gift)

    def expire_for(self, member: MMember) -> None:
        """A purge: the gifts still sent to the member, or to its address while hidden
        (ACC-7), expire; their stars go back to the platform."""
        model = self.model
        hidden = model.gifts_by_email.pop(member.email, []) if member.email else []
        for gift in [*model.gifts_to.get(member.id, []), *hidden]:
            if gift.state == "sent":
                gift.state = "expired"
                gift.email = None
                model.escrow -= gift.stars
                model.returned += gift.stars
