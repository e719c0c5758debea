"""The application layer: one method per user command, each one unit of work.

``Skilltroc(store, clock)`` is the entry point a host uses. Commands take ids and plain
values, raise :class:`~skilltroc_core.errors.SkilltrocError` subclasses, and leave
notifications in the store's outbox.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from ..errors import InvalidInputError
from ..ledger import SupplyReport
from ..ports import OutboxItem
from ._base import ServiceBase, Tx, retry_public_methods, take_out_stored_key
from ._text import guard_public_methods
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
    "take_out_stored_key",
]

#: The most notifications one drain returns (DECISION: SQL stores bind it as a 64-bit
#: integer; a host pages through a larger outbox).
MAX_DRAIN: Final = 1_000_000


@retry_public_methods
@guard_public_methods
class Skilltroc(BookingCommands, MemberCommands, GiftCommands, SocialCommands, TutorialCommands,
                AdCommands, ServiceBase):
    """Every Skilltroc command and query over one store and one clock.

    Every public method refuses text with a NUL character or a lone surrogate in its
    arguments (:class:`~skilltroc_core.errors.InvalidInputError`, nothing changed), so
    that such text behaves the same on every store.
    """

    def supply(self) -> SupplyReport:
        """Stars by source and by place (STAR-6)."""
        with self.query() as tx:
            return tx.ledger.supply()

    def check_invariants(self, *, deep: bool = False) -> None:
        """Raise unless every ledger invariant holds (STAR-4, STAR-6, REFUND-5)."""
        if type(deep) is not bool:
            raise InvalidInputError(f"deep is True or False, not {deep!r}", rule="STAR-6")
        with self.query(apply_due=False) as tx:  # one consistent state, as it is
            tx.ledger.check_invariants(deep=deep)

    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        """The oldest unacknowledged notifications, in order; ack them once delivered.

        ``limit`` is a whole number from 1 to :data:`MAX_DRAIN`.
        """
        if type(limit) is not int or not 1 <= limit <= MAX_DRAIN:
            raise InvalidInputError(
                f"a drain limit is a whole number from 1 to {MAX_DRAIN}, got {limit!r}")
        return self.store.drain_notifications(limit)

    def ack(self, seqs: Iterable[int]) -> None:
        """Acknowledge delivered notifications by their ``seq``; unknown ones are ignored."""
        if isinstance(seqs, str | bytes) or not isinstance(seqs, Iterable):
            raise InvalidInputError(f"ack takes a list of notification seqs, got {seqs!r}")
        given = list(seqs)
        if not all(type(seq) is int and 0 < seq < 2**63 for seq in given):
            raise InvalidInputError(f"notification seqs are whole numbers > 0, got {given!r}")
        self.store.ack(given)
