"""What a store holds, to check that something (a refused command) changed nothing.

The one helper every harness uses: the tests, the scenario runner, the state machine and
the simulator. No dependency (neither pytest nor hypothesis)::

    before = state_of(store)
    ...
    assert before.changes(state_of(store)) == []  # each line names a change

    with changes_nothing(store), pytest.raises(SkilltrocError):
        service.gift(bob, "carol@example.org", 1)

:func:`state_of` reads everything the store keeps, from its
:meth:`~skilltroc_core.ports.Inspectable.contents` (the memory, SQLite and PostgreSQL
stores have one, and so has the memory ledger book): every entity, index posting (in
order), balance, transfer, statement line, hold, idempotency record, supply counter,
notice of the outbox (in order), timer, sequence and queue member. What reads the same
through the port is the same state: an index key left with no postings by a rolled-back
unit of work is not listed. Posting order and outbox order are part of the state.

A store without ``contents()`` (a host's own) is read through the
:class:`~skilltroc_core.ports.Store` port instead, which cannot list what a store holds:
what it shows of the entities and accounts a :class:`Scope` names, plus what it shows of
the whole store (the platform accounts, the supply counters, the next transfer number,
the next timer due and the outbox): :func:`scoped_state`. A harness that must not read a
large store whole after every step (the simulator) reads that scope on any store.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

import attrs

from ..ledger import SYSTEM_ACCOUNTS
from ..ports import EntityKind, Inspectable, Store

__all__ = ["Scope", "StoreState", "changes_nothing", "scoped_state", "state_of"]

#: Later than any timer (the next one due is part of a scoped state).
_END_OF_TIME: Final = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
#: More notices than any outbox a check reads holds.
_WHOLE_OUTBOX: Final = 1_000_000
#: How many changes :meth:`StoreState.changes` spells out, at the most.
_SHOWN: Final = 12
_ABSENT: Final[Any] = object()

Entries = tuple[tuple[str, object], ...]


@attrs.frozen
class StoreState:
    """What a store held at one moment: each section's entries (key, value), in the order
    the store gave them. Two states are equal when every section is, order included."""

    sections: Mapping[str, Entries]

    @classmethod
    def of(cls, contents: Mapping[str, Sequence[tuple[str, object]]]) -> StoreState:
        """The state of these contents; a section with no entries is no section."""
        return cls({name: tuple(entries) for name, entries in contents.items() if entries})

    def __getitem__(self, section: str) -> dict[str, object]:
        """The entries of ``section`` by key (empty when the state has none)."""
        return dict(self.sections.get(section, ()))

    def without(self, *sections: str) -> StoreState:
        """This state without ``sections`` (to compare all but them)."""
        return StoreState({name: entries for name, entries in self.sections.items()
                           if name not in sections})

    def changes(self, later: StoreState) -> list[str]:
        """What differs in ``later``, one line per entry added, removed or changed (a
        section whose entries only moved says so); empty when nothing does."""
        found: list[str] = []
        for name in sorted(self.sections.keys() | later.sections.keys()):
            old, new = self.sections.get(name, ()), later.sections.get(name, ())
            if old != new:
                found += _section_changes(name, old, new)
        if len(found) > _SHOWN:
            found[_SHOWN:] = [f"... and {len(found) - _SHOWN} more"]
        return found


def _section_changes(name: str, old: Entries, new: Entries) -> list[str]:
    before, after = dict(old), dict(new)
    keys = [*before, *(key for key in after if key not in before)]
    found = []
    for key in keys:
        was, now = before.get(key, _ABSENT), after.get(key, _ABSENT)
        if was is _ABSENT:
            found.append(f"{name} {key}: added {now!r}")
        elif now is _ABSENT:
            found.append(f"{name} {key}: removed (was {was!r})")
        elif was != now:
            found.append(f"{name} {key}: {was!r} -> {now!r}")
    return found or [f"{name}: the same entries in another order"]


def _kept(items: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(items)  # a copy: the caller's list may grow meanwhile


@attrs.frozen
class Scope:
    """What a state read through the port looks at: entities by kind and id, and member
    accounts (the platform accounts are always read)."""

    entities: tuple[tuple[EntityKind[Any], str], ...] = attrs.field(default=(),
                                                                    converter=_kept)
    accounts: tuple[str, ...] = attrs.field(default=(), converter=_kept)


def state_of(store: Store | Inspectable, scope: Scope | None = None) -> StoreState:
    """Everything ``store`` keeps, when it shows it (``contents()``); otherwise
    :func:`scoped_state` of ``scope``, which a store without ``contents()`` needs.

    Read between units of work, never inside one (the store's lock is taken)."""
    if isinstance(store, Inspectable):
        return StoreState.of(store.contents())
    if scope is None:
        raise TypeError(f"{type(store).__name__} does not show its contents(): give "
                        "state_of a Scope to read through the Store port")
    return scoped_state(store, scope)


def scoped_state(store: Store, scope: Scope) -> StoreState:
    """What the Store port shows of ``scope`` and of the whole store, on any store, in
    O(scope): the entities and accounts named, the platform accounts, the supply
    counters, the next transfer number, the next timer due and the outbox. Read in a
    query's unit of work: nothing is applied nor written."""
    unit = store.begin(read_only=True)
    try:
        book = unit.book
        sections: dict[str, Sequence[tuple[str, object]]] = {
            "entities": [(f"{kind.name}/{ref}", unit.get(kind, ref))
                         for kind, ref in scope.entities],
            "balances": [(account, book.balance(account))
                         for account in (*scope.accounts, *SYSTEM_ACCOUNTS)],
            "ledger totals": sorted(book.counters().items()),
            "ledger": [("next transfer", book.next_seq())],
            "timers": [("next due", unit.next_due(_END_OF_TIME))],
        }
    finally:
        unit.rollback()
    sections["outbox"] = [(str(item.seq), item.notification)
                          for item in store.drain_notifications(_WHOLE_OUTBOX)]
    return StoreState.of(sections)


@contextmanager
def changes_nothing(store: Store | Inspectable, scope: Scope | None = None, *,
                    what: str = "the block") -> Iterator[StoreState]:
    """The block leaves ``store`` as it found it (see :func:`state_of`), whether it ends
    or raises (a refusal goes on, once checked): an :class:`AssertionError` names what
    changed otherwise. Yields the state before."""
    before = state_of(store, scope)
    try:
        yield before
    finally:
        changed = before.changes(state_of(store, scope))
        if changed:
            raise AssertionError(f"{what} changed the store: " + "; ".join(changed))
