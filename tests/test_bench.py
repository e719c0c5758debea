"""The benchmarks' baselines do the bookkeeping they are compared with.

A ratio against a baseline means something only if the baseline writes what the
library writes. Timings themselves are never asserted.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.booking import RegistrationState, SessionState
from skilltroc_core.ledger import HoldState
from skilltroc_core.service import kinds
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
    return counts


@pytest.mark.rule("BOOK-30")
def test_the_raw_lifecycle_baseline_writes_what_the_library_writes() -> None:
    n = 30
    app, clock, organizer, workshop, members = bench._booking_world(n)
    store = app.store
    assert isinstance(store, MemoryStore)
    app.ack([item.seq for item in store.drain_notifications(10_000)])  # the signups'
    before = _written(store)
    before["organizer_stars"] = app.balance(organizer).available

    bench._timed_lifecycles(app, clock, organizer, workshop, members)
    after = _written(store)
    after["organizer_stars"] = app.balance(organizer).available
    tally: dict[str, int] = {}
    bench._raw_lifecycles(n, tally)

    after.subtract(before)
    assert tally == {key: count for key, count in after.items()
                     if count or key in tally}
    assert tally["posted_holds"] == tally["paid"] == tally["attended"] == n
    assert tally["notices_SessionHeld_BOOK-30"] == tally["organized"] == n // 10
