"""Eight processes of random commands on PostgreSQL end exactly where replaying their
commits one by one, in commit order, on a memory store ends.

The PostgreSQL store runs units of work at once under strict two-phase locking and
claims that the outcome is that of the units one after the other in commit order. Eight
worker processes run random commands (purchases, gifts and their acceptance, requests
for sessions and future sessions, accepts, refusals, waitlist joins, cancels, session
confirmations, campaign launches and serves, deadlines) on a small shared world for a
few seconds of wall time and three weeks of fast time. Every committed unit logs its
command with a number drawn inside its commit, every refused command the number it drew
while still holding its locks; the log is then replayed on a fresh memory store and the
two final states compared (see :mod:`tests.serial_world` for the method).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest

from skilltroc_core.adapters.postgres import PostgresStore

from . import serial_world
from .pg_fixtures import pg_dsn, pg_server
from .serial_world import LoggedOp

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

ROOT = Path(__file__).resolve().parent.parent
#: Wall time the workers act for (about three weeks of fast time).
SECONDS = 7.0


def committed(ops: Sequence[LoggedOp]) -> Counter[str]:
    """How many commands of each name committed, how many were refused, how many
    deadlines ``run_due`` applied (``run_due``) and of each kind in all (``due:<kind>``)."""
    counts: Counter[str] = Counter()
    for op in ops:
        entry = op.entry
        if op.refused is not None:
            counts["refused"] += 1
            continue
        if "deadline" in entry:
            counts["run_due"] += 1
            counts[f"due:{entry['deadline'][0]}"] += 1
        elif "call" in entry:
            counts[entry["call"]] += 1
            counts.update(f"due:{kind}" for kind, _, _ in entry["timers"])
    return counts


@pytest.mark.rule("STAR-2", "STAR-6", "GIFT-1", "GIFT-3", "GIFT-4", "BOOK-14", "BOOK-16",
                  "BOOK-18", "BOOK-23", "BOOK-24", "BOOK-30", "BOOK-32", "REFUND-5", "AD-7",
                  "AD-8")
def test_eight_processes_of_random_commands_end_where_their_commits_replayed_in_order_end(
    pg_dsn: str, tmp_path: Path,
) -> None:
    """The serial replay's final state, the ledger invariants on both stores, no command
    run before a deadline due by its instant, deadlines in due order; a meaningful run."""
    serial_world.create_log_tables(pg_dsn)
    world = serial_world.set_up_world(pg_dsn)
    reports = serial_world.run_workers(pg_dsn, world, tmp_path, root=ROOT, seconds=SECONDS)
    print("workers:", *reports, sep="\n  ")

    ops = serial_world.read_log(pg_dsn)
    replayed = serial_world.replay(ops)  # raises at the first op it cannot do the same way
    counts = committed(ops)
    print("committed:", dict(sorted(counts.items())))
    found = serial_world.differences(serial_world.pg_state(pg_dsn),
                                     serial_world.memory_state(replayed.store))
    assert not found, "the final states differ:\n" + "\n".join(found)
    replayed.app.check_invariants(deep=True)
    app = serial_world.new_service(PostgresStore(pg_dsn), replayed.clock, replayed.ids)
    try:
        app.check_invariants(deep=True)
    finally:
        app.store.close()
    faults = replayed.deadline_faults
    assert not faults, (
        f"{len(faults)} ops did not apply exactly the deadlines due by their instant, in "
        f"due order: {sum(f.startswith(serial_world.OUT_OF_ORDER) for f in faults)} "
        f"applied some out of due order, {sum(f.startswith(serial_world.MISSED) for f in faults)} "
        "ran before some; the first ones:\n" + "\n".join(faults[:6]))

    # a meaningful run: commits of every kind, deadlines of every kind, refusals placed
    # in the order, and (nearly) no command giving up after all its attempts
    done = sum(report["done"] for report in reports)
    assert sum(report["gave_up"] for report in reports) <= max(2, done // 200), reports
    assert len(ops) >= 200, counts
    for command in ("buy_stars", "gift", "request", "serve"):
        assert counts[command] >= 10, (command, counts)
    for command in ("accept", "accept_future", "refuse", "accept_gift", "plan_session",
                    "create_campaign", "run_due"):
        assert counts[command] >= 1, (command, counts)
    assert counts["cancel_request"] + counts["unregister"] + counts["leave_waitlist"] >= 1
    assert counts["refused"] >= 10, counts
    for kind in ("request_due", "session_end", "confirmation_window", "gift_expiry",
                 "campaign_start"):
        assert counts[f"due:{kind}"] >= 1, (kind, counts)
