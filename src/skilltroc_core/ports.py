"""The ports the domain core is plugged into: time, identifiers, password hashing, stores.

A host supplies implementations or picks the shipped ones: clocks in
:mod:`skilltroc_core.adapters.clocks`, ids in :mod:`skilltroc_core.adapters.ids`, password
hashing in :mod:`skilltroc_core.passwords`, stores in :mod:`skilltroc_core.adapters`.

The store port is deliberately small and generic so that each adapter (memory, SQLite,
PostgreSQL) implements it once for every entity the library has or will have:

- **entities**: frozen values stored by ``(kind, id)``; each :class:`EntityKind` names
  the indexes the store maintains (unique or not) from the entity's own fields; an
  ordered index keeps each key's entities sorted and is read by pages after a position
  (keyset pagination), in O(log n + page);
- **ledger book**: the :class:`~skilltroc_core.ledger.LedgerBook` of the star ledger;
- **outbox**: notifications appended in order, drained at least once, acknowledged;
- **timers**: deadlines by due instant, popped in order;
- **counters**: named sequences (ids);
- **ordered queues**: named sets of members, each with a text sort key; the member with
  the smallest key (ties by member) is read in O(log n) (ad serving, AD-7);
- **change feed**: every change the service records of a public entity (a
  :class:`Change`), written with the unit of work and read after it commits, in commit
  order, a page at a time from a position (:meth:`Store.changes`); an erasure takes an
  entity's changes out of it (:meth:`UnitOfWork.forget_changes`).

Everything one command writes goes through one :class:`UnitOfWork` and commits together
or not at all.

Apart from the port, a store may show everything it keeps (:class:`Inspectable`, as the
shipped stores do): for checks and tests, never for commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final, Generic, NamedTuple, Protocol, TypeAlias, TypeVar, runtime_checkable

import attrs

from .events import Notification
from .ledger import LedgerBook

__all__ = [
    "ORDER_SEPARATOR",
    "RECENT_TRANSFERS",
    "Change",
    "Clock",
    "Contents",
    "EntityKind",
    "IdGenerator",
    "Index",
    "IndexKey",
    "Inspectable",
    "Ordered",
    "OutboxItem",
    "PasswordHasher",
    "Store",
    "Timer",
    "UnitOfWork",
    "ordered_key",
    "position_of",
]

E = TypeVar("E")

#: How many of the newest-numbered transfers :meth:`Store.recent_instant` looks at: more
#: than one process's block of transfer numbers (PostgreSQL takes 32 at a time).
RECENT_TRANSFERS: Final = 256


@runtime_checkable
class Clock(Protocol):
    """Where "now" comes from. The domain never reads the time any other way."""

    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


@runtime_checkable
class IdGenerator(Protocol):
    """Makes new, unique, opaque identifiers."""

    def new_id(self, prefix: str) -> str:
        """A fresh id starting with ``prefix`` (e.g. ``"mem"`` for members)."""
        ...


@runtime_checkable
class PasswordHasher(Protocol):
    """Turns passwords into slow salted hashes and checks them (ACC-4)."""

    def hash(self, password: str) -> str: ...

    def verify(self, password: str, hashed: str) -> bool: ...

    def needs_rehash(self, hashed: str) -> bool:
        """True when ``hashed`` should be replaced by a new hash of the same password
        (older scheme or costs): the service does it at the next successful sign-in."""
        ...


#: What separates a key of an ordered index from the entity's sort text in the pairs
#: :meth:`EntityKind.keys_of` gives, and a sort text from the entity's id in a position
#: (:meth:`UnitOfWork.page`): no key, sort text or id contains it.
ORDER_SEPARATOR: Final = "\x00"


@attrs.frozen(kw_only=True)
class Index(Generic[E]):
    """A lookup a store keeps for an entity kind: ``keys(entity)`` gives its keys.

    An *ordered* index (``order`` given) keeps each key's entities sorted by
    ``order(entity)``, then by id, and is read a page at a time
    (:meth:`UnitOfWork.page`), never with :meth:`UnitOfWork.find`. Sort texts compare
    as Python strings do (by code point; bytewise in UTF-8), so a number or an instant
    sorts as it should when written fixed-width (see
    :func:`~skilltroc_core.ordering.sortable_instant`). An ordered index is not unique.
    """

    name: str
    keys: Callable[[E], Iterable[str]]
    unique: bool = False
    order: Callable[[E], str] | None = None

    def __attrs_post_init__(self) -> None:
        if self.unique and self.order is not None:  # programming error
            raise TypeError(f"index {self.name}: an ordered index cannot be unique")


#: A key an entity is posted under: the position of the index in its kind, and the key.
IndexKey: TypeAlias = tuple[int, str]


@attrs.frozen(kw_only=True)
class EntityKind(Generic[E]):
    """A kind of stored entity: its name, its class and the indexes kept for it."""

    name: str
    type: type[E]
    indexes: tuple[Index[E], ...] = ()
    #: Every ``(index position, key)`` pair at once (see :meth:`keys_of`): one call per
    #: write instead of one per index, for kinds written on every command. It must agree
    #: with the indexes' own ``keys``. Kept: without it a booking lifecycle takes 9% more
    #: instructions (registrations, bench booking), a serve 4.6% (campaigns, about 9% of
    #: its CPU time: bench ads), 2026-12.
    all_keys: Callable[[E], tuple[IndexKey, ...]] | None = None
    #: What its index keys are made from (the fields :meth:`keys_of` reads, e.g. an
    #: ``operator.attrgetter``), for kinds often written without a change to them: a store
    #: may keep the keys an entity is posted under, instead of making them again, when
    #: this gives an equal value for the entity stored and the one written. Entities for
    #: which it gives equal values must have the same keys.
    keyed_by: Callable[[E], object] | None = None
    #: Stored once and never changed nor deleted (a setting): a store with many writers
    #: at once reads it without locking it, since nothing can change under the reader.
    immutable: bool = False
    #: Mostly read to check something and seldom written (members): a store with many
    #: writers at once lets units read it together (PostgreSQL: ``FOR SHARE``), and a unit
    #: writing it waits for them.
    shared_reads: bool = False

    def keys_of(self, entity: E) -> tuple[IndexKey, ...]:
        """Each ``(position in indexes, key)`` pair ``entity`` is posted under, in index
        order, without repeats: what a store compares to move an entity between keys.

        In an ordered index the pair's text is the key, :data:`ORDER_SEPARATOR` and the
        entity's sort text (:func:`ordered_key` reads them apart), so that an entity whose
        sort text changes moves, as one whose key changes does."""
        if self.all_keys is not None:
            return self.all_keys(entity)
        pairs: dict[IndexKey, None] = {}  # a dict keeps the order and drops repeats
        for position, index in enumerate(self.indexes):
            order = index.order
            if order is None:
                for key in index.keys(entity):
                    pairs[position, key] = None
            else:
                sort = order(entity)
                for key in index.keys(entity):
                    pairs[position, f"{key}{ORDER_SEPARATOR}{sort}"] = None
        return tuple(pairs)

    @property
    def ordered(self) -> frozenset[int]:
        """The positions of the ordered indexes."""
        return frozenset(position for position, index in enumerate(self.indexes)
                         if index.order is not None)

    def index(self, name: str) -> Index[E]:
        for index in self.indexes:
            if index.name == name:
                return index
        raise LookupError(f"{self.name} has no index {name!r}")  # programming error


def ordered_key(posted: str) -> tuple[str, str]:
    """``(key, sort text)`` of a pair's text in an ordered index (see
    :meth:`EntityKind.keys_of`)."""
    key, _, sort = posted.partition(ORDER_SEPARATOR)
    return key, sort


def position_of(sort: str, entity_id: str) -> str:
    """Where an entity stands in an ordered index key: its sort text, then its id."""
    return f"{sort}{ORDER_SEPARATOR}{entity_id}"


class Ordered(NamedTuple, Generic[E]):
    """An entity read from an ordered index, with its position there (what
    :meth:`UnitOfWork.page` takes as ``after`` to read on)."""

    position: str
    entity: E


@attrs.frozen(kw_only=True)
class Timer:
    """A deadline: at ``due``, the handler for ``kind`` runs on the thing ``ref`` names."""

    kind: str
    ref: str
    due: datetime

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.ref}"


@attrs.frozen(kw_only=True)
class OutboxItem:
    """A notification waiting in the outbox, with its position."""

    seq: int
    notification: Notification


@attrs.frozen(kw_only=True)
class Change:
    """One change to a public entity, as the feed keeps it.

    ``position`` is opaque text that only the store which gave it reads back
    (:meth:`Store.changes` reads on after it); positions compare as text in feed order.
    ``data`` is the record the service wrote (JSON text), None for a tombstone: the
    entity was deleted or erased.
    """

    position: str
    topic: str  # e.g. "workshop", "session", "tutorial", "campaign", "profile"
    entity_id: str
    data: str | None


class UnitOfWork(Protocol):
    """One atomic command: every read and write of it, then commit or rollback."""

    @property
    def book(self) -> LedgerBook: ...

    def get(self, kind: EntityKind[E], entity_id: str) -> E | None: ...
    def put(self, kind: EntityKind[E], entity_id: str, entity: E) -> None: ...
    def delete(self, kind: EntityKind[E], entity_id: str) -> None: ...
    def find(self, kind: EntityKind[E], index: str, key: str) -> list[E]:
        """Entities whose ``index`` has ``key``, in the order they were first stored."""
        ...

    def page(self, kind: EntityKind[E], index: str, key: str, *, after: str | None = None,
             limit: int) -> list[Ordered[E]]:
        """Up to ``limit`` entities of ``key`` in an ordered ``index``, in order of their
        positions (:func:`position_of`: sort text, then id), each one after ``after``:
        a position this method gave (keyset pagination: entities added or removed
        meanwhile shift nothing), or any text (a prefix reads on from where it would
        stand). In O(log n + limit) whatever the number of entities. It locks nothing:
        for queries, never to decide a command on."""
        ...

    def scan(self, kind: EntityKind[E], *, after: str | None = None, limit: int
             ) -> list[tuple[str, E]]:
        """Up to ``limit`` stored entities of ``kind`` with their ids, in an order of ids
        the store keeps, each after the id ``after``: a walk over every entity, for
        maintenance (rebuilding what a new version derives from stored entities), never
        for a command."""
        ...

    def repost(self, kind: EntityKind[E], entity_id: str) -> None:
        """Post a stored entity under the keys its kind gives it now, as stored keys may
        predate an index a new version added (nothing if it is not stored)."""
        ...

    def append_notification(self, notification: Notification) -> None: ...
    def forget_notifications(self, member_id: str, email: str | None) -> None:
        """Drop undelivered notices to ``member_id`` or ``email`` (erasure, ACC-7)."""
        ...

    def schedule(self, timer: Timer) -> None:
        """Add a timer, replacing any with the same kind and ref."""
        ...

    def cancel_timer(self, kind: str, ref: str) -> None: ...
    def next_due(self, until: datetime, *, wait: bool = True) -> Timer | None:
        """The earliest timer due at or before ``until`` that no other unit of work is
        applying; it stays scheduled (the caller cancels it when it applies it).

        A store with several writers at once also claims it for this unit until it ends,
        so that other units skip it. When every due timer is claimed by others: with
        ``wait``, wait for those units to end and look again (a command must not run
        before the deadlines due by its instant); without, None (a scheduler leaves
        them to the units applying them).
        """
        ...

    def guard_due(self, until: datetime) -> None:
        """Every timer due by ``until`` was applied before this unit's command: a store
        with several writers at once refuses to commit it (a
        :class:`~skilltroc_core.errors.ConcurrencyError`, nothing written: the command runs
        again, applying it first) if another unit committed a timer due by then
        meanwhile. A store with one writer at a time has nothing to check."""
        ...

    def erasing(self) -> None:
        """This unit erases personal data (a purge, ACC-7): a store that keeps former
        versions of rows in a journal (SQLite's WAL) folds it in and empties it once the
        unit commits, so that nothing erased stays in its files."""
        ...

    def confirm_due(self) -> None:
        """Raise the :class:`~skilltroc_core.errors.ConcurrencyError` the commit would
        raise (see :meth:`guard_due`) for a command about to be refused: a refusal may
        rest on a state that a deadline due by then changes."""
        ...

    def next_in_sequence(self, name: str) -> int: ...

    def queue_put(self, queue: str, member: str, sort_key: str, *,
                  later: bool = False) -> None:
        """Put ``member`` in ``queue`` at ``sort_key``, replacing its previous key.

        ``later``: the member is in the queue already and moves back (its new key is not
        smaller), so it cannot become anyone's first: a store with many writers at once
        need not make readers of the queue's first member wait for it.

        Keys compare as Python strings compare (by code point; bytewise in UTF-8), so a
        key that sorts like the value it encodes is fixed-width digits and separators.
        A key never contains the NUL character.
        """
        ...

    def queue_remove(self, queue: str, member: str) -> None:
        """Take ``member`` out of ``queue`` (nothing if it is not there)."""
        ...

    def queue_first(self, queue: str) -> str | None:
        """The member of ``queue`` with the smallest key, ties by the smaller member;
        None when the queue is empty."""
        ...

    def queue_key(self, queue: str, member: str) -> str | None:
        """The key ``member`` has in ``queue``, None when it is not there."""
        ...

    def record_change(self, topic: str, entity_id: str, data: str | None) -> None:
        """Append a change to the feed (``data`` None: a tombstone), written with this
        unit: it is read once the unit commits, and never if it rolls back."""
        ...

    def forget_changes(self, topic: str, entity_id: str) -> None:
        """Erase every recorded change of this entity, those of this unit included
        (ACC-7: a purge): later reads of the feed never show them again. The service
        records a tombstone right after, so that a reader who saw them learns of it."""
        ...

    def commit(self) -> None: ...
    def rollback(self) -> None: ...


class Store(Protocol):
    """A place where Skilltroc's state lives; opens units of work."""

    @property
    def keeps_data(self) -> bool:
        """True when what is committed outlives the process (SQLite, PostgreSQL): the
        service then needs the host's secret key (see :mod:`skilltroc_core.keys`)."""
        ...

    def begin(self, *, read_only: bool = False) -> UnitOfWork:
        """A new unit of work. A ``read_only`` one (a query) sees one consistent state,
        locks nothing, and refuses every write with a
        :class:`~skilltroc_core.errors.StateConflictError`; it ends by a rollback."""
        ...

    def drain_notifications(self, limit: int = 100) -> list[OutboxItem]:
        """The oldest unacknowledged notifications, in order (delivered at least once)."""
        ...

    def ack(self, seqs: Iterable[int]) -> None:
        """Remove delivered notifications from the outbox."""
        ...

    def recent_instant(self) -> datetime | None:
        """A recent instant the star ledger recorded: the newest ``at`` among its
        :data:`RECENT_TRANSFERS` highest-numbered transfers; None when it has none.

        Read outside any unit of work, in O(log n) whatever the store's size (the
        transfers' primary key). A store whose processes number transfers in blocks
        (PostgreSQL) may answer an instant a little older than the very newest. The
        service compares its clock with it before its first command
        (``Policy.clock_tolerance``)."""
        ...

    def changes(self, after: str | None = None, limit: int = 100) -> list[Change]:
        """Up to ``limit`` committed changes after position ``after`` (None: from the
        start), in feed order; read outside any unit of work. ``after`` is a position
        this store gave (other text: an :class:`~skilltroc_core.errors.InvalidInputError`).

        Feed order is commit order as far as a reader can tell: once a reader has seen a
        position, no change at or before it becomes visible later; a unit's changes come
        in the order it recorded them; and a change recorded after its unit waited for
        another unit (for a lock it held) or read what that unit wrote comes after that
        unit's changes, so an entity's changes come in the order of its versions. A
        reader that goes on from the last position it saw misses no change and sees none
        twice, even with many writers at once (PostgreSQL). A forgotten change
        (:meth:`UnitOfWork.forget_changes`) is never read again."""
        ...

    def close(self) -> None: ...


#: Everything something keeps, as :meth:`Inspectable.contents` shows it: by section (a
#: name: ``"balances"``, ``"entities/member"``, a table...), each entry's key and value.
Contents: TypeAlias = Mapping[str, Sequence[tuple[str, object]]]


@runtime_checkable
class Inspectable(Protocol):
    """Shows everything it keeps: the shipped stores and the memory ledger book do. Not
    part of the :class:`Store` port (a host's store need not): for checks and tests (see
    :mod:`skilltroc_core.testing.snapshot`), never for commands."""

    def contents(self) -> Contents:
        """Everything kept now, committed, read outside any unit of work.

        Within a section keys are unique; entries come in a stable order: the order kept
        where it means something (transfers, the outbox, the postings of an index key),
        sorted by key elsewhere, so that two reads of the same state are equal. What reads
        the same through the port is the same here: nothing empty is listed (an index key
        with no postings, a queue with no members). Values are comparable with ``==``.
        """
        ...
