"""Multi-process races and crashes: run them on your own store, as the shipped SQLite and
PostgreSQL stores are.

Each race is a function taking a **store factory**: a picklable callable with no
argument returning a store on one fresh, empty database, which every process of the
race shares (``functools.partial(MyStore, dsn)``, or a module-level function). The race
sets up its data through the service over one store of the factory, starts its worker
processes (new Python processes, ``python -m skilltroc_core.testing.races``, which
unpickle the factory: a lambda or a local function will not do), waits for them and
checks the outcome on another store, raising :class:`AssertionError` when the store got
something wrong. Every process runs the service with a manual clock at
:data:`~.processes.RACE_START` and :data:`~.processes.RACE_POLICY`.

- :func:`wallet_race` (GIFT-1): 8 processes gifting out of one wallet and buying into
  it; no balance below zero or below the gift floor, every purchase counted.
- :func:`killed_process_race` (STAR-2): a process killed in the middle of its
  purchases; the store is consistent and the retried purchases count once each.
- :func:`ad_goal_race` (AD-7, AD-8): 8 processes serving one campaign; exactly its goal
  delivered, the campaign completed once.
- :func:`seat_race` (BOOK-14): 8 processes of members asking for seats of one 5-seat
  session while the organizer's process accepts all it sees; never more than 5 taken.

:data:`RACES` lists them, to run each as a test (``docs/hosting.md``)::

    @pytest.mark.parametrize("race", races.RACES)
    def test_my_store_wins_the_race(race, tmp_path):
        race(functools.partial(MyStore, tmp_path / "race.db"))

:func:`spawn_holder` is a tool rather than a check: a process holding a unit of work
open on one member for a while, to see what other commands do meanwhile.

No dependency beyond the library: neither pytest nor hypothesis is imported.
"""

from __future__ import annotations

from collections.abc import Callable

from .ad_goal import ad_goal_race
from .processes import RACE_POLICY, RACE_START, StoreFactory
from .seats import seat_race
from .wallet import killed_process_race, spawn_holder, wallet_race

__all__ = [
    "RACES", "RACE_POLICY", "RACE_START", "StoreFactory", "ad_goal_race",
    "killed_process_race", "seat_race", "spawn_holder", "wallet_race",
]

#: Every race, each run as ``race(factory)`` on a fresh database.
RACES: tuple[Callable[[StoreFactory], None], ...] = (
    wallet_race, killed_process_race, ad_goal_race, seat_race)
