"""The application layer: one method per user command, each one unit of work.

``Skilltroc(store, clock)`` is the entry point a host uses. Commands take ids and plain
values, raise :class:`~skilltroc_core.errors.SkilltrocError` subclasses, and leave
notifications in the store's outbox.
"""

from __future__ import annotations

from ..ledger import SupplyReport
from ..ports import OutboxItem
from ._base import ServiceBase, Tx
from .ads import AdCommands
from .booking import AgendaItem, BookingCommands, ProfileStats
from .gifts import GiftCommands
from .members import MemberCommands, ProfileView, SignupResult
from .social import ContactMatch, SocialCommands
from .tutorials import TutorialCommands, TutorialStats

__all__ = [
    "AgendaItem",
    "ContactMatch",
    "ProfileStats",
    "ProfileView",
    "SignupResult",
    "Skilltroc",
    "TutorialStats",
    "Tx",
]


class Skilltroc(BookingCommands, MemberCommands, GiftCommands, SocialCommands, TutorialCommands,
                AdCommands, ServiceBase):
    """Every Skilltroc command and query over one store and one clock."""

    def supply(self) -> SupplyReport:
        """Stars by source and by place (STAR-6)."""
        with self.query() as tx:
            return tx.ledger.supply()

    def check_invariants(self, *, deep: bool = False) -> None:
        """Raise unless every ledger invariant holds (STAR-4, STAR-6, REFUND-5)."""
        with self._unit(self.now()) as tx:
            tx.ledger.check_invariants(deep=deep)

    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        """The oldest unacknowledged notifications, in order; ack them once delivered."""
        return self.store.drain_notifications(limit)

    def ack(self, seqs: list[int]) -> None:
        self.store.ack(seqs)
