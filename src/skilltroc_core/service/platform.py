"""What the host runs the platform with: the clock's instant, due deadlines, the outbox
of notices, and the checks of the books.

Rules: STAR-4..6, REFUND-5 (the books), the deadlines of BOOK-16, BOOK-24, BOOK-32 and
ACC-7 (applied by :meth:`PlatformService.run_due`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from ..ledger import SupplyReport
from ..ports import OutboxItem
from ..refusals import refusal, shown
from .context import Area
from .registry import HOST, command, query

__all__ = ["MAX_DRAIN", "PlatformService"]


#: The most notifications one drain returns (DECISION: SQL stores bind it as a 64-bit
#: integer; a host pages through a larger outbox).
MAX_DRAIN: Final = 1_000_000


class PlatformService(Area):
    """The host's own operations: time, deadlines, notices, the books."""

    @query(actor=HOST, rules=("STAR-5",))
    def now(self) -> datetime:
        """The instant the next command or query runs at (see
        :meth:`~skilltroc_core.service.context.ServiceContext.now`)."""
        return self.context.now()

    @command(actor=HOST, rules=("BOOK-16", "BOOK-24", "BOOK-32", "ACC-7"))
    def run_due(self, until: datetime | None = None) -> int:
        """Apply every deadline due at or before ``until`` (default: now; a later instant
        is refused: a deadline is never applied before its time), in due order.

        Each runs in its own unit of work with ``now`` = its due instant. Costs
        O(due · log n): the store pops timers from an index ordered by due instant.
        Several processes may call it at once: they share the due timers (a timer
        another one is applying is left to it). Returns how many this call applied.
        """
        return self.context.run_due(until)

    @query(actor=HOST, rules=("STAR-6",))
    def supply(self) -> SupplyReport:
        """Stars by source and by place (STAR-6)."""
        with self.query() as tx:
            return tx.ledger.supply()

    @query(actor=HOST, rules=("STAR-4", "STAR-6", "REFUND-5"))
    def check_invariants(self, *, deep: bool = False) -> None:
        """Raise unless every ledger invariant holds (STAR-4, STAR-6, REFUND-5)."""
        if type(deep) is not bool:
            raise refusal("flag_not_bool", rule="STAR-6", field="deep", got=shown(deep))
        with self.query(apply_due=False) as tx:  # one consistent state, as it is
            tx.ledger.check_invariants(deep=deep)

    @query(actor=HOST, rules=())
    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        """The oldest unacknowledged notifications, in order; ack them once delivered.

        ``limit`` is a whole number from 1 to :data:`MAX_DRAIN`.
        """
        if type(limit) is not int or not 1 <= limit <= MAX_DRAIN:
            raise refusal("drain_limit_invalid", limit=MAX_DRAIN, got=shown(limit))
        return self.context.store.drain_notifications(limit)

    @command(actor=HOST, rules=())
    def ack(self, seqs: Iterable[int]) -> None:
        """Acknowledge delivered notifications by their ``seq``; unknown ones are ignored."""
        if isinstance(seqs, str | bytes) or not isinstance(seqs, Iterable):
            raise refusal("ack_not_list", got=shown(seqs))
        given = list(seqs)
        if not all(type(seq) is int and 0 < seq < 2**63 for seq in given):
            raise refusal("ack_seq_invalid", got=shown(given))
        self.context.store.ack(given)
