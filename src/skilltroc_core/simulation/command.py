"""``skilltroc simulate``: run the simulator, shrink and record a failure, replay it."""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Iterator
from typing import TextIO

from ..errors import SkilltrocError
from .progress import Progress
from .runner import SimulationFailure, Simulator
from .shrink import Replay, load_replay, open_store, replay_steps, shrink, store_kind, write_replay
from .workload import Step, generate

__all__ = ["add_parser", "simulate"]


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``simulate`` subcommand to the ``skilltroc`` parser."""
    parser = commands.add_parser(
        "simulate", help="a seeded, deterministic workload checked against a reference model")
    parser.add_argument("--seed", type=int, default=1, help="the workload's seed (default 1)")
    parser.add_argument("--steps", type=counted, default=10_000,
                        help="steps to run (default 10,000)")
    parser.add_argument("--store", default=None,
                        help="memory (default) | sqlite:PATH (a new file) | postgresql://...")
    parser.add_argument("--faults", action="store_true",
                        help="inject store failures, duplicate deliveries, late and repeated "
                             "run_due")
    parser.add_argument("--replay", metavar="FILE", help="run the steps of a replay file")
    parser.add_argument("--replay-out", metavar="FILE",
                        help="where a failure's replay goes (default skilltroc-replay-SEED.json)")
    parser.add_argument("--check-every", type=counted, default=1_000,
                        help="full checks (every member, hold and session; ledger "
                             "invariants) every N steps (default 1,000)")
    parser.add_argument("--progress", type=counted, default=0, metavar="N",
                        help="print a progress line to stderr every N steps")
    parser.add_argument("--no-shrink", action="store_true", help="record a failure unshrunk")
    parser.set_defaults(handler=simulate)


def counted(text: str) -> int:
    """A command-line count: a whole number from 0 (argparse refuses anything else)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"a whole number from 0, not {text!r}")
    return value


def _progress(steps: Iterator[Step], every: int, err: TextIO, total: int | None
              ) -> Iterator[Step]:
    """The steps, with a progress line on a terminal (rate, time left) and, with
    ``--progress N``, a line every N steps anywhere."""
    live = Progress(err, "steps", total)
    try:
        for index, step in enumerate(steps, 1):
            yield step
            live.step()
            if every and index % every == 0:
                err.write(f"simulate: {index:,} steps\n")
                err.flush()
    finally:
        live.close()


def simulate(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run; exit status 0 when every check held, 1 on a failure (recorded), 2 on bad use."""
    out = out or sys.stdout
    seed: int = args.seed
    faults: bool = args.faults
    recorded: tuple[Step, ...] | None = None
    store_spec: str = args.store or "memory"
    try:
        if args.replay:
            replay = load_replay(args.replay)
            seed, faults, recorded = replay.seed, replay.faults, replay.steps
            if args.store is None:
                store_spec = replay.store if replay.store != "postgresql" else "memory"
        steps: Iterator[Step] = (iter(recorded) if recorded is not None
                                 else generate(seed, faults=faults))
        limit = None if recorded is not None else args.steps
        with open_store(store_spec) as store:
            simulator = Simulator(seed, store=store, store_name=store_kind(store_spec),
                                  faults=faults, check_every=args.check_every)
            try:
                summary = simulator.run(
                    _progress(steps, args.progress, sys.stderr,
                              len(recorded) if recorded is not None else limit), limit=limit)
            except SimulationFailure as failure:
                return _failed(args, out, failure, simulator, seed, faults, store_spec, recorded)
    except SkilltrocError as exc:
        out.write(f"skilltroc simulate: {exc}\n")
        return 2
    out.write(summary.line() + "\n")
    return 0


def _failed(args: argparse.Namespace, out: TextIO, failure: SimulationFailure,
            simulator: Simulator, seed: int, faults: bool, store_spec: str,
            recorded: tuple[Step, ...] | None) -> int:
    out.write(f"FAILED at step {failure.index}: {failure.check}: {failure.message}\n")
    out.write(f"seed {seed} (faults {'on' if faults else 'off'}, store {store_spec})\n")
    steps = list(recorded[: failure.index + 1] if recorded is not None
                 else itertools.islice(generate(seed, faults=faults), failure.index + 1))
    if not args.no_shrink:
        kind = store_kind(store_spec)
        spec = store_spec if kind == "postgresql" else kind
        steps = shrink(steps, failure, lambda candidate: replay_steps(
            candidate, seed=seed, store=spec, faults=faults, check_every=args.check_every))
    path = args.replay_out or f"skilltroc-replay-{seed}.json"
    write_replay(path, Replay(
        seed=seed, store=store_kind(store_spec), faults=faults, steps=tuple(steps),
        failure={"step": failure.index, "check": failure.check, "message": failure.message}))
    out.write(f"{len(steps)} steps still fail (of {failure.index + 1}); wrote {path}; "
              f"run it again with: skilltroc simulate --replay {path}\n")
    summary = simulator.summary
    out.write(f"FAILED {summary.line()}\n")
    return 1
