"""What mutation testing of ``service/context.py`` found untested (issue 20): the bounds of
``attempts`` and the retries it counts, a key with no current key, how often the store's
recent instant is read, how a command and ``run_due`` ask the store for due deadlines
(one a unit, waiting or not), what ``run_due`` logs, and that a failed ``run_due`` unit is
rolled back."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.errors import (
    ConcurrencyError,
    ConfigurationError,
    InvalidInputError,
)
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.context import DEFAULT_ATTEMPTS
from skilltroc_core.simulation.faults import FaultyStore, StoreFault
from skilltroc_core.testing import TEST_SECRET_KEY, state_of

from .members_support import CHEAP_POLICY, START
from .store_spies import SpyStore

#: A policy that takes the clock as it is: the store's recent instant is never needed.
AS_IT_IS = attrs.evolve(CHEAP_POLICY, clock_tolerance=None)


def _service(store: MemoryStore, **options: Any) -> tuple[Skilltroc, ManualClock]:
    clock = ManualClock(START)
    options.setdefault("policy", CHEAP_POLICY)
    return Skilltroc(store, clock, secret_key=TEST_SECRET_KEY, **options), clock


# ---------------------------------------------------------------------- attempts, retries
def test_attempts_are_a_whole_number_from_1_to_1000_and_12_by_default() -> None:
    assert DEFAULT_ATTEMPTS == 12
    assert _service(MemoryStore())[0].attempts == 12
    for fine in (1, 1000):
        assert _service(MemoryStore(), attempts=fine)[0].attempts == fine
    for wrong in (0, 1001, "3", 2.0):
        with pytest.raises(InvalidInputError) as refused:
            _service(MemoryStore(), attempts=wrong)
        assert refused.value.reason == "attempts_invalid"


def test_each_command_run_again_counts_one_retry_and_the_last_attempt_gives_up() -> None:
    store = SpyStore()
    app, _ = _service(store, attempts=3)
    ann = app.signup("ann@example.org", provider="google").member_id
    assert app.retries == 0
    store.conflicts = 2
    app.buy_stars(ann, 5, "PAY-1")
    assert app.retries == 2
    assert app.balance(ann).available == 15
    store.conflicts = 3
    with pytest.raises(ConcurrencyError):
        app.buy_stars(ann, 5, "PAY-2")
    assert app.retries == 4  # the third attempt is not run again
    assert app.balance(ann).available == 15


# ---------------------------------------------------------------------- keys
@pytest.mark.rule("ACC-4")
def test_previous_keys_without_a_current_key_are_refused() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Skilltroc(MemoryStore(), ManualClock(START), policy=CHEAP_POLICY,
                  previous_secret_keys=(TEST_SECRET_KEY,))
    assert refused.value.reason == "previous_keys_without_current"
    # a memory store keeps nothing: a key of the moment serves it
    app = Skilltroc(MemoryStore(), ManualClock(START), policy=CHEAP_POLICY)
    assert app.signup("ann@example.org", provider="google").member_id


# ---------------------------------------------------------------------- the recent instant
@pytest.mark.rule("STAR-5")
def test_the_stores_recent_instant_is_read_once_when_the_service_is_made() -> None:
    store = SpyStore()
    app, clock = _service(store)
    assert store.recent_reads == 1
    ann = app.signup("ann@example.org", provider="google").member_id
    app.buy_stars(ann, 5, "PAY-1")
    clock.advance(timedelta(minutes=5))
    app.buy_stars(ann, 5, "PAY-2")
    assert store.recent_reads == 1


@pytest.mark.rule("STAR-5")
def test_a_recent_instant_the_store_could_not_give_is_read_at_the_first_command_only() -> None:
    store = SpyStore(first_read_fails=True)
    app, _ = _service(store)  # made even though the store could not answer yet
    assert store.recent_reads == 1
    ann = app.signup("ann@example.org", provider="google").member_id
    assert store.recent_reads == 2
    app.buy_stars(ann, 5, "PAY-1")
    assert store.recent_reads == 2


def test_a_service_taking_the_clock_as_it_is_never_reads_the_recent_instant() -> None:
    store = SpyStore()
    app, _ = _service(store, policy=AS_IT_IS)
    app.signup("ann@example.org", provider="google")
    assert store.recent_reads == 0


# ---------------------------------------------------------------------- due deadlines
def _three_due(app: Skilltroc, clock: ManualClock) -> None:
    """Three accounts deactivated: three purges come due 15 days later (ACC-7)."""
    for name in ("ann", "bob", "cid"):
        app.deactivate(app.signup(f"{name}@example.org", provider="google").member_id)
    clock.advance(timedelta(days=CHEAP_POLICY.account_retention_days))


@pytest.mark.rule("ACC-7")
def test_run_due_applies_each_deadline_in_a_unit_of_its_own_without_waiting() -> None:
    """run_due takes the due deadlines no other unit is applying (``wait=False``), one a
    unit; a command applies every deadline due in its own unit, waiting for one another
    unit is applying (``wait=True``)."""
    store = SpyStore()
    app, clock = _service(store)
    _three_due(app, clock)
    store.forget()
    assert app.run_due() == 3
    assert {call.get("wait", True) for call in store.called("next_due")} == {False}
    assert len(store.begins) == 3 + 1 + 1  # one a deadline, the one finding none, forget
    assert app.run_due() == 0
    _three_due(app, clock)
    store.forget()
    app.signup("dan@example.org", provider="google")
    assert {call.get("wait", True) for call in store.called("next_due")} == {True}
    assert app.run_due() == 0  # the command applied all three


@pytest.mark.rule("ACC-7")
def test_run_due_logs_what_it_applied_and_nothing_when_nothing_was_due(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="skilltroc_core")
    app, clock = _service(MemoryStore())
    assert app.run_due() == 0
    assert not [r for r in caplog.records if "run_due applied" in r.getMessage()]
    _three_due(app, clock)
    app.run_due()
    assert [r.getMessage() for r in caplog.records if "run_due applied" in r.getMessage()
            ] == [f"run_due applied 3 deadline(s) due by {clock.now().isoformat()}"]


@pytest.mark.rule("ACC-7")
def test_a_run_due_unit_that_fails_is_rolled_back_and_the_store_stays_usable() -> None:
    memory = MemoryStore()
    faulty = FaultyStore(memory)
    app = Skilltroc(faulty, ManualClock(START), policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY)
    world_clock = app.context.clock
    assert isinstance(world_clock, ManualClock)
    _three_due(app, world_clock)
    before = state_of(memory)
    faulty.arm(3)  # inside the first deadline's unit
    with pytest.raises(StoreFault):
        app.run_due()
    assert state_of(memory) == before
    assert app.run_due() == 3  # not busy: the failed unit let go of the store

