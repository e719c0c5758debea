"""The benchmarks' baselines do the bookkeeping they are compared with.

A ratio against a baseline means something only if the baseline writes what the
library writes. Timings themselves are never asserted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from skilltroc_core.adapters import memory
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.booking import RegistrationState, SessionState
from skilltroc_core.ledger import HoldState
from skilltroc_core.service import kinds
from skilltroc_core.service.read_side import SESSION_CARDS
from skilltroc_core.tools import bench

# The baseline's index postings, in its order, as the library's (kind, index) names.
_INDEXES: list[tuple[str, str]] = [
    (kinds.SESSIONS.name, "workshop"), (kinds.SESSIONS.name, "organizer_awaiting"),
    *((kinds.REGISTRATIONS.name, name) for name in (
        "session_live", "workshop_live", "organizer_pending", "member_live", "member_session",
        "member_to_evaluate"))]


def _written(store: MemoryStore) -> Counter[str]:
    """What the lifecycles' tally counts, read off a memory store."""
    book = store.book
    sessions = list(store._entities.get(kinds.SESSIONS.name, {}).values())
    registrations: list[Any] = list(store._entities.get(kinds.REGISTRATIONS.name, {}).values())
    counts: Counter[str] = Counter(
        transfers=len(book.transfers), statement_lines=sum(map(len, book.statement.values())),
        posted_holds=sum(h.state is HoldState.POSTED for h in book.holds.values()),
        timers=len(store._timers),
        paid=sum(r.state is RegistrationState.PAID for r in registrations),
        held_sessions=sum(s.state is SessionState.HELD for s in sessions),
        seats_taken=sum(s.seats_taken for s in sessions),
        attended=sum(s.attended_held for s in store._entities.get(
            kinds.MEMBER_STATS.name, {}).values()),
        organized=sum(s.organized_held for s in store._entities.get(
            kinds.MEMBER_STATS.name, {}).values()),
    )
    for position, index in enumerate(_INDEXES):
        postings = store._indexes.get(index, {})
        counts[f"postings_{position}"] = sum(map(len, postings.values()))
    for item in store.drain_notifications(10_000):
        notice = item.notification
        counts[f"notices_{notice.event}_{notice.rule}"] += 1
    counts["session_cards"] = len(store._entities.get(SESSION_CARDS.name, {}))
    counts["catalogue_postings"] = sum(
        map(len, store._indexes.get((SESSION_CARDS.name, "catalogue"), {}).values()))
    changes = [change for change in store.changes(limit=100_000) if change.topic == "session"]
    counts["session_changes"] = sum(change.data is not None for change in changes)
    counts["session_tombstones"] = sum(change.data is None for change in changes)
    counts["session_change_chars"] = sum(len(change.data or "") for change in changes)
    counts["changed_sessions"] = len({change.entity_id for change in changes})
    return counts


def _counting_card_writes(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count the session cards the memory store writes and deletes from now on."""
    counts: Counter[str] = Counter()
    unit = memory._MemoryUnitOfWork
    put, delete = unit.put, unit.delete

    def counted_put(self: Any, kind: Any, entity_id: str, entity: Any) -> None:
        counts["session_card_writes"] += kind is SESSION_CARDS
        put(self, kind, entity_id, entity)

    def counted_delete(self: Any, kind: Any, entity_id: str) -> None:
        counts["session_card_deletes"] += kind is SESSION_CARDS and (
            self.get(kind, entity_id) is not None)
        delete(self, kind, entity_id)

    monkeypatch.setattr(unit, "put", counted_put)
    monkeypatch.setattr(unit, "delete", counted_delete)
    return counts


@pytest.mark.rule("BOOK-30")
def test_the_raw_lifecycle_baseline_writes_what_the_library_writes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    n = 30
    app, clock, organizer, workshop, members = bench._booking_world(n)
    store = app.store
    assert isinstance(store, MemoryStore)
    app.ack([item.seq for item in store.drain_notifications(10_000)])  # the signups'
    before = _written(store)
    before["organizer_stars"] = app.balance(organizer).available

    card_writes = _counting_card_writes(monkeypatch)
    bench._timed_lifecycles(app, clock, organizer, workshop, members)
    after = _written(store)
    after.update(card_writes)
    after["organizer_stars"] = app.balance(organizer).available
    tally: dict[str, int] = {}
    bench._raw_lifecycles(n, tally)

    after.subtract(before)
    assert tally == {key: count for key, count in after.items()
                     if count or key in tally}
    assert tally["posted_holds"] == tally["paid"] == tally["attended"] == n
    assert tally["notices_SessionHeld_BOOK-30"] == tally["organized"] == n // 10
    # a card and a record when planned and at each seat taken, a tombstone at its end
    assert tally["session_card_writes"] == tally["session_changes"] == n // 10 + n
    assert tally["session_tombstones"] == tally["session_card_deletes"] == n // 10
