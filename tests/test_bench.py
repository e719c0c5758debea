"""The benchmarks' baselines do the bookkeeping they are compared with.

A ratio against a baseline means something only if the baseline writes what the
library writes. Timings themselves are never asserted.
"""

from __future__ import annotations

import pytest

from skilltroc_core import bench
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.ledger import HoldState
from skilltroc_core.service import kinds


@pytest.mark.rule("BOOK-30")
def test_the_raw_lifecycle_baseline_writes_what_the_library_writes() -> None:
    n = 30
    app, clock, organizer, workshop, members = bench._booking_world(n)
    store = app.store
    assert isinstance(store, MemoryStore)
    book = store.book
    transfers, lines = len(book.transfers), sum(map(len, book.statement.values()))
    notices = len(store.drain_notifications(10_000))
    stars = app.balance(organizer).available

    bench._timed_lifecycles(app, clock, organizer, workshop, members)
    tally: dict[str, int] = {}
    bench._raw_lifecycles(n, tally)

    uow = store.begin()
    try:
        to_evaluate = sum(len(uow.find(kinds.REGISTRATIONS, "member_to_evaluate", m))
                          for m in members)
        attended = sum(s.attended_held for m in members
                       if (s := uow.get(kinds.MEMBER_STATS, m)) is not None)
    finally:
        uow.rollback()
    assert tally == {
        "transfers": len(book.transfers) - transfers,
        "statement_lines": sum(map(len, book.statement.values())) - lines,
        "posted_holds": sum(h.state is HoldState.POSTED for h in book.holds.values()),
        "notifications": len(store.drain_notifications(10_000)) - notices,
        "timers": len(store._timers),
        "to_evaluate": to_evaluate,
        "organizer_stars": app.balance(organizer).available - stars,
        "attended": attended,
    }
    assert tally["posted_holds"] == tally["to_evaluate"] == tally["attended"] == n
