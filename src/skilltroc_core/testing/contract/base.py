"""What every part of the store contract shares: the store under test and a service on it.

Each part is an abstract pytest class built on :class:`StoreUnderTest`: a subclass
implements ``create_store`` returning a fresh, empty store, and every test gets its own
through the ``store`` fixture (closed after the test).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from ...adapters.clocks import ManualClock
from ...ports import Store
from ...rules import DEFAULT_POLICY
from ...service import Skilltroc
from .. import TEST_SECRET_KEY

__all__ = ["CHEAP_POLICY", "T0", "StoreUnderTest", "service_on"]

#: The instant every contract test starts at.
T0 = datetime(2027, 3, 1, 8, 0, tzinfo=UTC)
#: The default policy with the cheapest password hashing (signups stay fast).
CHEAP_POLICY = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)


class StoreUnderTest:
    """Abstract: subclass it with ``create_store`` returning a fresh, empty store."""

    def create_store(self) -> Store:
        raise NotImplementedError

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = self.create_store()
        try:
            yield store
        finally:
            store.close()


def service_on(store: Store, **policy_changes: Any) -> tuple[Skilltroc, ManualClock]:
    """A service over ``store`` and its manual clock (at :data:`T0`), with
    :data:`CHEAP_POLICY` changed by ``policy_changes``."""
    clock = ManualClock(T0)
    policy = attrs.evolve(CHEAP_POLICY, **policy_changes)
    return Skilltroc(store, clock, policy=policy, secret_key=TEST_SECRET_KEY), clock
