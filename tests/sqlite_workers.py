"""Worker processes for the SQLite race and crash tests (run with ``python -m``).

Modes: ``race`` (gifts and purchases on one wallet), ``purchases`` (for the crash
test), and the 5-seat booking race of :mod:`tests.booking_race`: ``book <db> <worker>
<members> <session>`` (a requesting process) and ``organize <db> <stop file>`` (the
organizer accepting until the stop file exists).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import attrs

from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.clocks import ManualClock
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.rules import DEFAULT_POLICY
from skilltroc_core.service import Skilltroc

from . import booking_race

T0 = datetime(2027, 3, 1, 8, tzinfo=UTC)
POLICY = attrs.evolve(DEFAULT_POLICY, scrypt_n=16)


def service(path: str) -> Skilltroc:
    return Skilltroc(SQLiteStore(path), ManualClock(T0), policy=POLICY)


def race(path: str, worker: int, rounds: int) -> None:
    """Gifts out of the shared wallet and purchases into it, as fast as possible."""
    app = service(path)
    for i in range(rounds):
        try:
            if i % 3 == 0:
                app.buy_stars("mem_000001", 2, f"w{worker}-{i}")
            else:
                app.gift("mem_000001", f"friend{worker}@example.org", 3)
        except SkilltrocError as exc:
            if exc.code not in ("floor_breach",):
                raise


def purchases(path: str, count: int) -> None:
    """Purchases with payment references p0..p{count-1}, printing each one done."""
    app = service(path)
    for i in range(count):
        app.buy_stars("mem_000001", 1, f"p{i}")
        print(i, flush=True)


if __name__ == "__main__":
    mode, db = sys.argv[1], sys.argv[2]
    if mode == "race":
        race(db, int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "book":
        booking_race.request_seats(service(db), int(sys.argv[3]), int(sys.argv[4]),
                                   sys.argv[5])
    elif mode == "organize":
        booking_race.main_answer(service(db), sys.argv[3])
    else:
        purchases(db, int(sys.argv[3]))
