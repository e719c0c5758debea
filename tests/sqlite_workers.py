"""Worker processes for the SQLite race and crash tests (run with ``python -m``): the
modes of :func:`tests.store_races.worker_main` on a SQLite file."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import attrs

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.rules import DEFAULT_POLICY
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import TEST_SECRET_KEY

from . import store_races

T0 = datetime(2027, 3, 1, 8, tzinfo=UTC)
POLICY = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)


def service(path: str) -> Skilltroc:
    return Skilltroc(SQLiteStore(path), ManualClock(T0), policy=POLICY, secret_key=TEST_SECRET_KEY)


if __name__ == "__main__":
    store_races.worker_main(sys.argv[1:], service)
