"""Gift commands (GIFT-1..4)."""

from __future__ import annotations

from typing import Final

from ..accounts import normalize_email
from ..gifts import Gift
from ..ledger import GIFT_ESCROW, ISSUANCE, TransferKind, at_most_max_stars
from ..ports import Timer
from ..refusals import refusal, shown
from . import kinds
from .context import Area, ServiceContext
from .registry import ANYONE, MEMBER, OWNER, command, query
from .units import Tx, host_key

__all__ = ["GIFT_EXPIRY_TIMER", "GiftService"]

GIFT_EXPIRY_TIMER: Final = "gift_expiry"


class GiftService(Area):
    """Send and accept star gifts."""

    def register(self, context: ServiceContext) -> None:
        context.timer_handlers[GIFT_EXPIRY_TIMER] = self._gift_expiry_due

    @command(actor=MEMBER, rules=("GIFT-1", "GIFT-2", "GIFT-4"))
    def gift(self, member_id: str, to_email: str, stars: int, *, key: str | None = None) -> str:
        """Send ``stars`` to the person with ``to_email``, member or not (GIFT-1, GIFT-2).

        The sender must keep at least the gift floor (10): 15 stars allow at most 5. The
        stars wait in gift escrow until the recipient accepts (GIFT-3) and never come
        back (GIFT-4). Returns the gift id.

        DECISION (ACC-7: no gift naming a deactivated account, and it stays hidden): a
        gift to the address of a deactivated account is answered exactly as for an
        address no account uses: accepted, kept by address (the gift names no member),
        its notice mailed to the address. If the account is reactivated the gift becomes
        its to accept, as at a signup with that address (GIFT-3); if it is purged, the
        address is erased with it and the stars go to the issuance account (GIFT-4).
        """
        policy = self.policy
        if type(stars) is not int or stars < policy.min_gift:
            raise refusal("gift_invalid", minimum=policy.min_gift, got=shown(stars))
        at_most_max_stars(stars)
        address = normalize_email(to_email, policy)
        with self.command() as tx:
            sender = tx.actor(member_id)
            # The address is fingerprinted, not stored: keys outlive a recipient's purge
            # (and a retry after a rotation of the secret key finds the first call).
            fingerprint, *earlier = (f"{sender.id},{known},{stars}"
                                     for known in tx.email_fingerprints(address))
            stored_key = host_key(key, "GIFT-1")
            replayed = tx.replay(stored_key, "gift", fingerprint, "GIFT-1", also=tuple(earlier),
                                 call=f"{sender.id}, {stars} stars")
            if replayed is not None:
                return replayed
            if address == sender.email:
                raise refusal("gift_to_self")
            recipient = tx.addressee(address)
            tx.require_stars(sender, stars, keep=policy.gift_floor, rule="GIFT-1")
            gift_id = tx.new_id("gift")
            tx.ledger.transfer(
                TransferKind.GIFT_SENT, sender.id, GIFT_ESCROW, stars,
                reference=f"gift:{gift_id}", at=tx.now, keep_at_least=policy.gift_floor,
            )
            gift = Gift(
                id=gift_id, sender=sender.id, stars=stars, sent_at=tx.now,
                recipient=recipient.id if recipient else None,
                recipient_email=None if recipient else address,
            )
            tx.put(kinds.GIFTS, gift_id, gift)
            if recipient is not None:
                tx.notify("GiftReceived", recipients=(recipient.id,), gift=gift_id,
                          sender=sender.id, stars=stars)
            else:
                tx.notify("GiftReceived", emails=(address,), gift=gift_id,
                          sender=sender.id, stars=stars)
            if policy.gift_expiry_days is not None:
                tx.schedule(GIFT_EXPIRY_TIMER, gift_id,
                            policy.add_days(tx.now, policy.gift_expiry_days, what="gift",
                                            rule="GIFT-4"))
            tx.remember(stored_key, "gift", fingerprint, gift_id)
            return gift_id

    @command(actor=OWNER, rules=("GIFT-3",))
    def accept_gift(self, member_id: str, gift_id: str) -> None:
        """GIFT-3: the recipient accepts; the stars leave escrow for their wallet, once."""
        with self.command() as tx:
            member = tx.actor(member_id)
            gift = tx.require(kinds.GIFTS, gift_id)
            if gift.recipient != member.id:
                raise refusal("gift_not_theirs", gift=gift.id, member=member.id)
            accepted = gift.accepted(tx.now)
            tx.ledger.transfer(TransferKind.GIFT_ACCEPTED, GIFT_ESCROW, member.id, gift.stars,
                               reference=f"gift:{gift.id}", at=tx.now)
            tx.put(kinds.GIFTS, gift.id, accepted)
            tx.cancel_timer(GIFT_EXPIRY_TIMER, gift.id)
            # a purged sender is told nothing (notify tells a purged account nothing)
            tx.notify("GiftAccepted", recipients=(gift.sender,), gift=gift.id,
                      recipient=member.id, stars=gift.stars)

    @query(actor=ANYONE, rules=("GIFT-3",))
    def gift_state(self, gift_id: str) -> Gift:
        """A gift as it stands (sender, recipient, stars, state)."""
        with self.query() as tx:
            return tx.require(kinds.GIFTS, gift_id)

    def _gift_expiry_due(self, tx: Tx, timer: Timer) -> None:
        """GIFT-4 with a policy expiry: unaccepted stars go to the issuance account."""
        gift = tx.get(kinds.GIFTS, timer.ref)
        if gift is None or gift.ended_at is not None:
            return
        tx.ledger.transfer(TransferKind.GIFT_EXPIRED, GIFT_ESCROW, ISSUANCE, gift.stars,
                           reference=f"gift:{gift.id}", at=tx.now)
        tx.put(kinds.GIFTS, gift.id, gift.expired(tx.now))
