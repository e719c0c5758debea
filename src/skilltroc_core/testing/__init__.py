"""Testing kit for hosts: check your own store adapter, or your own code over the service.

- :class:`StoreContract` (:mod:`.contract`, needs pytest): the abstract test suite every
  store must pass; subclass it with ``create_store`` returning a fresh, empty store. It
  joins the port contract (:mod:`.contract.port`: the store port checked directly) and
  the service parity checks (:mod:`.contract.service_parity`,
  :mod:`.contract.booking_parity`: service flows giving the reference's results).
- :class:`SkilltrocMachine` (:mod:`.machine`, needs hypothesis): a stateful machine
  running random command sequences over the whole service on ``create_store()``,
  checking after every step that refusals change nothing, that accepted commands did
  what they say, the ledger invariants, star conservation against a naive model of
  balances, seats within capacity and deadlines applied. ``MyMachine.TestCase`` runs it
  under pytest or unittest.
- Hypothesis strategies (:mod:`.strategies`, needs hypothesis): :func:`emails`,
  :func:`passwords`, :func:`member_signups`, :func:`workshops`, :func:`session_starts`,
  :func:`instants`, :func:`star_amounts`, and :func:`commands`, which draws
  :class:`Command` descriptions to run with :func:`apply` (:mod:`.steps`,
  no dependency), recording the ids they create in a :class:`KnownIds`.
- :mod:`.races` (no dependency): multi-process races and crashes to run on a store
  shared by several processes, each taking a picklable store factory
  (``races.RACES``, ``races.wallet_race(functools.partial(MyStore, dsn))``).
- :func:`state_of` (:mod:`.snapshot`, no dependency): everything a store holds, as a
  :class:`StoreState` to compare before and after (``changes()`` names what differs),
  and :func:`changes_nothing`, a block that must leave the store as it found it.
- :data:`TEST_SECRET_KEY`: a secret key for services over test stores that keep data.

A host checks its adapter in about ten lines (``docs/hosting.md``)::

    class TestMyStore(StoreContract):
        def create_store(self) -> Store:
            return MyStore()

    class MyStoreMachine(SkilltrocMachine):
        def create_store(self) -> Store:
            return MyStore()

    TestMyStoreMachine = MyStoreMachine.TestCase

pytest and hypothesis are development dependencies, not run-time ones: importing this
package imports neither; each name is imported when first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .contract import StoreContract
    from .machine import SkilltrocMachine, StarModel
    from .snapshot import Scope, StoreState, changes_nothing, scoped_state, state_of
    from .steps import Applied, Call, Command, KnownIds, apply, resolve
    from .strategies import (
        commands,
        emails,
        instants,
        member_signups,
        passwords,
        session_starts,
        star_amounts,
        workshops,
    )

__all__ = [
    "TEST_SECRET_KEY",
    "Applied",
    "Call",
    "Command",
    "KnownIds",
    "Scope",
    "SkilltrocMachine",
    "StarModel",
    "StoreContract",
    "StoreState",
    "apply",
    "changes_nothing",
    "commands",
    "emails",
    "instants",
    "member_signups",
    "passwords",
    "resolve",
    "scoped_state",
    "session_starts",
    "star_amounts",
    "state_of",
    "workshops",
]

#: The host's secret key that test services use (never one for production: it is public).
TEST_SECRET_KEY = b"skilltroc test secret key: not for production"

# Where each name lives, imported lazily: the contract suite needs pytest, the machine
# and the strategies need hypothesis, and hosts may have neither at run time. (Commands
# as data live in ``steps``: a submodule named ``commands`` would shadow the strategy.)
_HOMES = {
    "Applied": "steps", "Call": "steps", "Command": "steps",
    "KnownIds": "steps", "apply": "steps", "resolve": "steps",
    "StoreContract": "contract",
    "SkilltrocMachine": "machine", "StarModel": "machine",
    "Scope": "snapshot", "StoreState": "snapshot", "changes_nothing": "snapshot",
    "scoped_state": "snapshot", "state_of": "snapshot",
    "commands": "strategies", "emails": "strategies", "instants": "strategies",
    "member_signups": "strategies", "passwords": "strategies",
    "session_starts": "strategies", "star_amounts": "strategies", "workshops": "strategies",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f".{home}", __name__), name)


def __dir__() -> list[str]:
    return sorted(__all__)
