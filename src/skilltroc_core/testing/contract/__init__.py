"""The store contract: one abstract test suite every store must pass.

A store adapter (the shipped memory, SQLite and PostgreSQL ones, or a host's own)
proves it behaves like the in-memory reference by subclassing :class:`StoreContract`
and implementing ``create_store``::

    class TestMyStore(StoreContract):
        def create_store(self) -> Store:
            return MyStore(...)

Every test opens its own fresh store. :class:`StoreContract` runs every part:

- :class:`PortContract` (:mod:`.port`): the ``Store`` and ``UnitOfWork`` port checked
  directly: entities and their indexes, atomic rollback, read-only units, timers, the
  outbox, sequences, ordered queues, the ledger book and the recent instant;
- :class:`OrderedIndexContract` (:mod:`.ordered`): ordered indexes read by pages after
  a position, compared with a plain sort after any writes and rollbacks;
- :class:`ChangeFeedContract` (:mod:`.feed`): the change feed, read in commit order a
  page at a time after a position, with rollbacks, read-only units and erasure;
- :class:`ServiceParityContract` (:mod:`.service_parity`): service flows whose results
  must be identical on every store: members and gifts, ads served to their goal,
  tutorials, refused input, and every other command against the memory reference;
- :class:`BookingParityContract` (:mod:`.booking_parity`): bookings (requests, answers,
  the waitlist, moves, deadlines, deletion, the aftermath), down to balances, hold ends,
  seats, states and the notices in the outbox.

Each part is abstract the same way (:class:`StoreUnderTest`, :mod:`.base`): a host may
subclass one alone, for instance :class:`PortContract` while its adapter is young.
"""

from __future__ import annotations

from .base import StoreUnderTest
from .booking_parity import BookingParityContract
from .feed import ChangeFeedContract
from .ordered import OrderedIndexContract
from .port import PortContract
from .service_parity import ServiceParityContract

__all__ = [
    "BookingParityContract",
    "ChangeFeedContract",
    "OrderedIndexContract",
    "PortContract",
    "ServiceParityContract",
    "StoreContract",
    "StoreUnderTest",
]


class StoreContract(PortContract, OrderedIndexContract, ChangeFeedContract,
                    ServiceParityContract, BookingParityContract):
    """Abstract: every part of the contract; subclass it with ``create_store`` returning
    a fresh, empty store."""
