"""Shrinking a failing run to a short step list, and replay files.

:func:`shrink` is delta debugging: it drops chunks of steps, then smaller chunks, down
to single steps, keeping each removal after which the run still fails the same check.
Steps name entities by index into what exists when they run, so a shorter list still
replays meaningfully. The result is written as a JSON replay file
``{seed, store, faults, steps, failure}`` that ``skilltroc simulate --replay`` runs.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs

from ..adapters.memory import MemoryStore
from ..adapters.sqlite import SQLiteStore
from ..ports import Store
from ..refusals import refusal, shown
from .model import Model
from .runner import SimulationFailure, Simulator
from .workload import Step, step_from_json, step_to_json

__all__ = ["Replay", "load_replay", "open_store", "replay_steps", "shrink", "store_kind",
           "write_replay"]


@attrs.frozen(kw_only=True)
class Replay:
    """A recorded run: what to replay and how it failed."""

    seed: int
    store: str
    faults: bool
    steps: tuple[Step, ...]
    failure: dict[str, Any] | None = None


def store_kind(spec: str) -> str:
    """``memory``, ``sqlite`` or ``postgresql`` for a ``--store`` value."""
    if spec.startswith("sqlite"):
        return "sqlite"
    if spec.startswith(("postgresql://", "postgres://")):
        return "postgresql"
    return "memory"


@contextmanager
def open_store(spec: str, *, fresh: bool = False) -> Iterator[Store]:
    """A store for one run: ``memory``, ``sqlite:PATH`` (a new file) or a PostgreSQL DSN
    (a new schema). With ``fresh`` (or ``sqlite`` alone) SQLite uses a temporary file."""
    if spec == "memory":
        yield MemoryStore()
        return
    if spec.startswith("sqlite"):
        path = spec.removeprefix("sqlite").removeprefix(":")
        if fresh or not path:
            with tempfile.TemporaryDirectory(prefix="skilltroc-sim-") as folder:
                store = SQLiteStore(Path(folder) / "simulation.db")
                try:
                    yield store
                finally:
                    store.close()
            return
        if Path(path).exists():
            raise refusal("simulation_file_exists", path=path)
        store = SQLiteStore(path)
        try:
            yield store
        finally:
            store.close()
        return
    if spec.startswith(("postgresql://", "postgres://")):
        from ..adapters.postgres import PostgresStore  # noqa: PLC0415 - optional dependency

        pg = PostgresStore(spec, schema=f"skilltroc_sim_{uuid.uuid4().hex[:12]}")
        try:
            yield pg
        finally:
            pg.close()
        return
    # what follows a scheme may hold a password: only the scheme is shown
    scheme, sep, _ = spec.partition("://")
    raise refusal("simulation_unknown_store", got=shown(scheme + (sep and sep + "...")))


def replay_steps(
    steps: Sequence[Step], *, seed: int, store: str = "memory", faults: bool = False,
    check_every: int = 1, model_class: type[Model] = Model,
) -> SimulationFailure | None:
    """Run ``steps`` on a fresh store; the failure, or None if every check held."""
    with open_store(store, fresh=True) as opened:
        simulator = Simulator(seed, store=opened, store_name=store_kind(store), faults=faults,
                              check_every=check_every, model_class=model_class)
        try:
            simulator.run(steps)
        except SimulationFailure as failure:
            return failure
    return None


def shrink(
    steps: Sequence[Step],
    failure: SimulationFailure,
    still_fails: Callable[[Sequence[Step]], SimulationFailure | None],
    *,
    max_runs: int = 400,
    max_seconds: float = 120.0,
) -> list[Step]:
    """The shortest step list found that still fails ``failure``'s check.

    Cuts the list at the failing step, removes chunks (halves, quarters, ... single
    steps) as long as the run still fails the same check, then tries small integers in
    place of each step's random ones and removes chunks again; within ``max_runs`` runs
    and ``max_seconds``.
    """
    current = list(steps[: failure.index + 1])
    deadline = time.monotonic() + max_seconds
    runs = 0

    def fails(candidate: list[Step]) -> list[Step] | None:
        nonlocal runs
        runs += 1
        found = still_fails(candidate)
        if found is None or found.check != failure.check:
            return None
        return candidate[: found.index + 1]

    def out_of_budget() -> bool:
        return runs >= max_runs or time.monotonic() >= deadline

    current = _drop_chunks(current, fails, out_of_budget)
    # Small integers point at the first members, sessions...: once steps use them, the
    # steps that only created other entities can go too.
    for index in range(len(current)):
        for value in _SIMPLE:
            if out_of_budget() or index >= len(current):
                break
            step = current[index]
            simple = attrs.evolve(step, args=(value,) * len(step.args))
            if simple == step:
                continue
            kept = fails([*current[:index], simple, *current[index + 1:]])
            if kept is not None:
                current = kept
                break
    return _drop_chunks(current, fails, out_of_budget)


#: The integers tried in place of a step's random ones (0 is avoided: it selects the
#: "someone else acts" and other deliberate-refusal branches of many steps).
_SIMPLE = (1, 2, 3, 5, 7)


def _drop_chunks(current: list[Step], fails: Callable[[list[Step]], list[Step] | None],
                 out_of_budget: Callable[[], bool]) -> list[Step]:
    """Delta debugging: remove halves, quarters, ... single steps while it still fails."""
    parts = 2
    while len(current) > 1 and not out_of_budget():
        size = -(-len(current) // parts)
        removed = False
        for start in range(0, len(current), size):
            candidate = current[:start] + current[start + size:]
            if not candidate:
                continue
            kept = fails(candidate)
            if kept is not None:
                current = kept
                parts = max(parts - 1, 2)
                removed = True
                break
            if out_of_budget():
                break
        if not removed:
            if parts >= len(current):
                break
            parts = min(len(current), parts * 2)
    return current


def write_replay(path: str | os.PathLike[str], replay: Replay) -> Path:
    """Write ``replay`` as JSON; returns the path."""
    target = Path(path)
    data = {
        "seed": replay.seed,
        "store": replay.store,
        "faults": replay.faults,
        "failure": replay.failure,
        "steps": [step_to_json(step) for step in replay.steps],
    }
    target.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    return target


def load_replay(path: str | os.PathLike[str]) -> Replay:
    """Read a replay file; :class:`InvalidInputError` if it is not one."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or type(data.get("seed")) is not int:
            raise ValueError("no integer seed")
        steps = tuple(step_from_json(item) for item in data["steps"])
        return Replay(seed=data["seed"], store=str(data.get("store", "memory")),
                      faults=bool(data.get("faults", False)), steps=steps,
                      failure=data.get("failure"))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise refusal("replay_file_invalid", path=str(path), problem=str(exc)) from exc
