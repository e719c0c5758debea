"""The deterministic simulator: volume runs on memory and SQLite, with and without faults,
determinism, replay files, shrinking a planted failure, and the ``simulate`` command."""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import attrs
import pytest

from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.rules import Policy
from skilltroc_core.service import kinds
from skilltroc_core.simulation import KINDS, Model, SimulationFailure, Simulator, Step, generate
from skilltroc_core.simulation import command as simulate_command
from skilltroc_core.simulation.model import Bookings
from skilltroc_core.simulation.runner import SIM_POLICY
from skilltroc_core.simulation.shrink import (
    Replay,
    load_replay,
    replay_steps,
    shrink,
    write_replay,
)
from skilltroc_core.tools.cli import main

from .pg_fixtures import pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

#: Kinds that are not commands (time) or that may find nothing to act on early.
_NOT_COMMANDS = {"advance", "run_due"}


class _RefusedWithoutRefund(Bookings):
    """Mutant bookings: they forget that a refused request is refunded (BOOK-14)."""

    def end(self, reg_id: str, trigger: str) -> None:
        if trigger == "refuse":
            self.model.regs[reg_id].amount = 0  # so no stars move back in the model
        super().end(reg_id, trigger)


class RefusalKeepsTheStars(Model):
    """A mutant model: its bookings part is :class:`_RefusedWithoutRefund`."""

    def __init__(self, policy: Policy, now: datetime) -> None:
        super().__init__(policy, now)
        self.bookings = _RefusedWithoutRefund(self)


def _run(seed: int, steps: int, **options: object) -> Simulator:
    simulator = Simulator(seed, **options)  # type: ignore[arg-type]
    simulator.run(generate(seed, faults=bool(options.get("faults"))), limit=steps)
    return simulator


def _state(simulator: Simulator) -> tuple[object, ...]:
    """Everything the ledger holds, read raw: transfers, holds and balances."""
    uow = simulator.inner.begin()
    try:
        book = uow.book
        return (list(book.all_transfers()), sorted(book.all_holds()),
                sorted(book.all_balances()))
    finally:
        uow.rollback()


@pytest.mark.rule("STAR-4", "STAR-6", "REFUND-5", "BOOK-12", "BOOK-16", "BOOK-24", "BOOK-32")
def test_twenty_thousand_steps_in_memory_agree_with_the_reference_model() -> None:
    summary = _run(11, 20_000, check_every=200).summary
    assert summary.steps == 20_000
    commands = set(KINDS) - _NOT_COMMANDS
    assert commands <= set(summary.by_kind), commands - set(summary.by_kind)
    assert summary.refused_by_kind["invalid"] == summary.by_kind["invalid"] > 0
    assert summary.refused > summary.refused_by_kind["invalid"]  # wrong actors, no stars...
    assert summary.simulated.days > 300  # deadlines of every kind came due
    assert summary.checks > 20_000 * 5


@pytest.mark.rule("STAR-2", "GIFT-4", "AD-7", "TUTO-2", "TUTO-4")
def test_ten_thousand_steps_with_store_failures_and_duplicates_change_nothing_twice() -> None:
    summary = _run(12, 10_000, faults=True, check_every=200).summary
    assert summary.steps == 10_000
    assert summary.faults_injected > 50
    assert summary.duplicates > 100
    assert summary.run_due_calls > 1_000


@pytest.mark.rule("STAR-6", "REFUND-5", "BOOK-18")
def test_two_thousand_steps_on_sqlite_agree_with_the_reference_model(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "sim.db")
    try:
        summary = _run(13, 2_000, store=store, store_name="sqlite", faults=True,
                       check_every=100).summary
    finally:
        store.close()
    assert summary.steps == 2_000
    assert summary.faults_injected > 0
    assert summary.by_kind["request"] > 100


@pytest.mark.rule("STAR-6", "REFUND-5")
def test_five_hundred_steps_on_postgresql_agree_with_the_reference_model(pg_dsn: str) -> None:
    store = PostgresStore(pg_dsn)
    try:
        summary = _run(14, 500, store=store, store_name="postgresql", faults=True,
                       check_every=100).summary
    finally:
        store.close()
    assert summary.steps == 500
    assert summary.faults_injected > 0


def test_the_same_seed_gives_the_same_summary_and_the_same_final_state() -> None:
    first = _run(21, 2_000, faults=True)
    second = _run(21, 2_000, faults=True)
    other = _run(22, 2_000, faults=True)
    assert first.summary.line() == second.summary.line()
    assert _state(first) == _state(second)
    assert first.summary.line() != other.summary.line()


def test_the_workload_is_a_pure_function_of_the_seed() -> None:
    assert list(itertools.islice(generate(5, faults=True), 500)) == list(
        itertools.islice(generate(5, faults=True), 500))
    faulty = list(itertools.islice(generate(5, faults=True), 2_000))
    assert any(step.fault for step in faulty) and any(step.twice for step in faulty)
    assert not any(s.fault or s.twice for s in itertools.islice(generate(5), 2_000))


def test_a_replay_file_runs_the_same_steps_again(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    steps = tuple(itertools.islice(generate(31, faults=True), 600))
    path = write_replay(tmp_path / "replay.json",
                        Replay(seed=31, store="memory", faults=True, steps=steps))
    assert load_replay(path).steps == steps
    assert main(["simulate", "--seed", "31", "--steps", "600", "--faults"]) == 0
    direct = capsys.readouterr().out.strip().splitlines()[-1]
    assert main(["simulate", "--replay", str(path)]) == 0
    replayed = capsys.readouterr().out.strip().splitlines()[-1]
    assert replayed == direct


def test_a_planted_bug_is_found_and_shrunk_to_a_short_step_list_that_still_fails() -> None:
    steps = list(itertools.islice(generate(41), 3_000))
    mutant = functools.partial(replay_steps, seed=41, model_class=RefusalKeepsTheStars)
    failure = mutant(steps)
    assert failure is not None and failure.step is not None
    assert failure.step.kind == "refuse"

    shrunk = shrink(steps, failure, mutant)

    assert len(shrunk) <= 8 < failure.index
    assert [s.kind for s in shrunk].count("refuse") == 1
    again = mutant(shrunk)
    assert again is not None and again.check == failure.check
    assert replay_steps(shrunk, seed=41) is None  # the real model agrees with the library


def test_the_simulate_command_prints_a_one_line_summary_and_exits_0(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--seed", "3", "--steps", "400", "--faults"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("simulate seed=3 store=memory faults=on steps=400 ")
    assert "refused=" in lines[0] and "invariant_checks=" in lines[0]
    assert "faults_injected=" in lines[0] and "by kind" in lines[0]


def test_a_failing_run_prints_the_seed_writes_a_shrunk_replay_and_exits_1(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulate_command, "Simulator",
                        functools.partial(Simulator, model_class=RefusalKeepsTheStars))

    def mutant_replay(candidate: Sequence[Step], *, seed: int, store: str, faults: bool,
                      check_every: int) -> SimulationFailure | None:
        return replay_steps(candidate, seed=seed, store=store, faults=faults,
                            check_every=check_every, model_class=RefusalKeepsTheStars)

    monkeypatch.setattr(simulate_command, "replay_steps", mutant_replay)
    out = tmp_path / "failure.json"
    code = main(["simulate", "--seed", "41", "--steps", "3000", "--replay-out", str(out)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 1
    assert lines[0].startswith("FAILED at step ")
    assert lines[1].startswith("seed 41 ")
    assert lines[-1].startswith("FAILED simulate seed=41 ")
    data = json.loads(out.read_text())
    assert data["seed"] == 41 and data["failure"]["check"]
    assert 1 <= len(data["steps"]) <= 8
    again = tmp_path / "again.json"
    assert main(["simulate", "--replay", str(out), "--replay-out", str(again)]) == 1
    assert len(json.loads(again.read_text())["steps"]) <= len(data["steps"])
    capsys.readouterr()
    monkeypatch.undo()
    assert main(["simulate", "--replay", str(out)]) == 0  # the real model does not


def test_a_bad_replay_file_is_refused_with_exit_status_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"seed": 1, "steps": [{"kind": "teleport", "args": [1, 2, 3, 4]}]}')
    assert main(["simulate", "--replay", str(bad)]) == 2
    assert "not a simulator replay file" in capsys.readouterr().out


@pytest.mark.rule("AD-7", "TUTO-4")
def test_steps_with_a_replay_window_agree_with_the_model_and_forget_old_ids() -> None:
    """With Policy.replay_window set, replayed page views and view reports past the
    window count as new in the service exactly when the model says so, and run_due
    deletes the ids whose time came."""
    policy = attrs.evolve(SIM_POLICY, replay_window=timedelta(hours=48))
    simulator = _run(23, 5_000, faults=True, policy=policy)
    model = simulator.model
    assert simulator.summary.simulated.days > 30
    simulator.app.run_due()
    uow = simulator.inner.begin()
    try:
        kept = [key for key in (*(f"page_view:{p}" for p in model.page_views),
                                *(f"tutorial_view:{v}" for v in model.view_ids))
                if uow.get(kinds.COMMAND_KEYS, key) is not None]
    finally:
        uow.rollback()
    remembered = ([p for p in model.page_views if model.advertising.remembers_page_view(p)]
                  + [v for v in model.view_ids if model.publishing.remembers_view(v)])
    assert len(kept) == len(remembered) < len(model.page_views) + len(model.view_ids)
