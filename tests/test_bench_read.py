"""The read benchmark measures the pages it claims to, on a world the service can use.

At a tiny size: the figures' keys are there and each measured page was checked, item by
item, against what was written (a wrong page stops the run); the rows written in bulk
are those the service writes through the store port; and the service runs commands,
deadlines and queries on a world built in bulk. Timings are never asserted.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.ports import EntityKind, Timer
from skilltroc_core.service import Tx
from skilltroc_core.service.read_side import SESSION_CARDS
from skilltroc_core.tools import bench_read, cli
from skilltroc_core.tools.bench import _AT, _bench_app

SIZES = (800, 3_200)
LINES = (40, 160)


@pytest.mark.rule("AD-7")
def test_the_read_benchmark_checks_and_names_its_pages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    results = bench_read.bench_read(SIZES, LINES, page=4, rounds=2)

    for name, ratio, small, big in (("catalogue", "catalogue", "800", "3200"),
                                    ("search", "search", "800", "3200"),
                                    ("statement", "statement_page", "40", "160")):
        for at in (small, big):
            for figure in ("first_page_ms", "further_page_ms", "page_ms"):
                assert isinstance(results[f"{name}_{figure}_{at}"], float)
        assert isinstance(results[f"ratio_{ratio}_{big}_vs_{small}"], float)
    # the lists as the worlds were made: a twentieth of the sessions in the domain read;
    # "beginners" in a quarter of the titles (at this size, all guided)
    assert (results["catalogue_items_small"], results["catalogue_items_big"]) == (40, 160)
    assert (results["workshops_small"], results["tutorials_small"]) == (80, 8)
    assert results["search_items_small"] == 20 + 8  # of 80 workshops and 8 tutorials
    assert (results["statement_items_small"], results["statement_items_big"]) == LINES
    # per list and world: the first page, the pages walked to the middle, the middle one
    assert results["pages_checked"] >= 2 * 3 * 3
    json.dumps(results)  # the --json line
    cli._print_read(results)
    table = capsys.readouterr().out
    assert "catalogue" in table and "statement" in table and "target <= 2" in table


def test_the_default_sizes_give_the_figures_the_issue_s_names() -> None:
    assert [bench_read.label(n) for n in (1_000, 10_000, 1_000_000, 3_200)] == [
        "1k", "10k", "1m", "3200"]


@pytest.mark.rule("AD-7")
def test_a_wrong_page_stops_the_benchmark(tmp_path: Path) -> None:
    world = bench_read._build(tmp_path, 800, 40)
    try:
        catalogue = world.listings[0]
        wrong = attrs.evolve(catalogue, expected=lambda i: catalogue.expected(i + 1))
        with pytest.raises(RuntimeError, match="not what was written"):
            bench_read._middle(wrong, 4)
        too_few = attrs.evolve(catalogue, count=5)
        with pytest.raises(ValueError, match="too few"):
            bench_read._middle(too_few, 4)
    finally:
        world.app.store.close()


class _ThroughTheService:
    """A world's entities written as the service writes them: through ``Tx.put``, which
    writes each session's catalogue card itself (the card the world gives is left out)."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def put(self, kind: EntityKind[Any], entity_id: str, entity: object) -> None:
        if kind is not SESSION_CARDS:
            self.tx.put(kind, entity_id, entity)

    def schedule(self, timer: Timer) -> None:
        self.tx.uow.schedule(timer)


@pytest.mark.rule("AD-7")
def test_the_bulk_rows_are_the_rows_the_service_writes(tmp_path: Path) -> None:
    catalogue = bench_read.Catalogue(300, ("mem_a", "mem_b", "mem_c"))
    through_port = SQLiteStore(tmp_path / "port.db")
    app = _bench_app(through_port)
    uow = through_port.begin()
    catalogue.write(_ThroughTheService(Tx(app.context, uow, _AT)))
    uow.commit()

    in_bulk = tmp_path / "bulk.db"
    SQLiteStore(in_bulk).close()
    rows = bench_read.BulkRows(str(in_bulk), every=500)  # several transactions
    catalogue.write_bulk(rows)
    rows.close()
    written = SQLiteStore(in_bulk)
    try:
        expected = dict(through_port.contents())
        assert len(expected["entities"]) == 30 + 2 * 3 + 2 * 300
        # the service records each public change in the feed (here none: the organizers
        # are not members others see): the bulk rows leave the feed out
        expected.pop("changes", None)
        expected["sequences"] = tuple(entry for entry in expected["sequences"]
                                      if entry[0] != "change")
        assert written.contents() == expected
    finally:
        written.close()
        through_port.close()


@pytest.mark.rule("BOOK-14")
def test_a_world_built_in_bulk_is_live_for_the_service(tmp_path: Path) -> None:
    world = bench_read._build(tmp_path, 800, 40)
    app, catalogue = world.app, world.catalogue
    try:
        app.check_invariants(deep=True)
        first = catalogue.card(0)  # the soonest session, in the domain read
        assert app.upcoming_sessions(domain=bench_read.DOMAIN, limit=1).items == (first,)
        request = app.request(world.reader, session_id=first.session_id, seats=1)
        app.accept(first.organizer, request)
        seats = app.upcoming_sessions(domain=bench_read.DOMAIN, limit=1).items[0].seats_left
        assert seats == first.capacity - 1
        # its end timer, written in bulk, applies: the session leaves the catalogue
        clock = app.clock
        assert isinstance(clock, ManualClock)
        clock.set(first.end + timedelta(minutes=1))
        app.run_due()
        assert app.upcoming_sessions(domain=bench_read.DOMAIN, limit=1).items == (
            catalogue.card(catalogue.in_domain(bench_read.DOMAIN)[1]),)
        assert app.statement(world.reader).total == 40 + 1  # the request's hold
        app.check_invariants(deep=True)
    finally:
        app.store.close()
