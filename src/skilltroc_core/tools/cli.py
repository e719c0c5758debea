"""The ``skilltroc`` command: ``run`` (scenarios), ``demo``, ``docs``, ``bench``,
``simulate``, ``secret`` (the host's secret key).

Every subcommand exits with :data:`EXIT_OK` (0) when it did what was asked,
:data:`EXIT_FAILED` (1) when a scenario, a check or a simulation failed, and
:data:`EXIT_USAGE` (2) for a usage mistake or input it cannot use (an unknown option, a
malformed scenario file, a file or folder that does not exist, a store it cannot open):
then it prints one line saying what to change, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .. import __version__
from ..adapters.memory import MemoryStore
from ..adapters.sqlite import SQLiteStore
from ..catalogue import rule_ids
from ..errors import ScenarioFormatError, StoreError
from ..keys import MIN_SECRET_BYTES
from ..ports import Store
from ..service import take_out_stored_key
from ..simulation.command import add_parser as add_simulate_parser
from ..simulation.progress import Progress
from . import bench, bench_read, bench_scale
from .demo import ledger_demo
from .docsgen import project_root, write_or_check
from .scenarios import Runner, example_files, load_scenario

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "main", "run_scenarios"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
_EPILOG = ("exit status: 0 done, 1 a scenario, check or simulation failed, 2 a usage "
           "mistake or unusable input (malformed file, missing file, store it cannot open)")


class UsageError(Exception):
    """A mistake of the person running the command: shown as one line, exit status 2."""


def _process_counts(text: str) -> list[int]:
    """``--processes 1,2,4,8``: whole numbers from 1 up, comma-separated."""
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"process counts are like 1,2,4,8, not {text!r}")
    return counts


def _positive(text: str) -> int:
    """A command-line count from 1 (argparse refuses anything else)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number from 1, not {text!r}")
    return value


def _seconds(text: str) -> float:
    """A duration in seconds, more than 0 and finite."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 86_400:
        raise argparse.ArgumentTypeError(f"a number of seconds above 0, not {text!r}")
    return value


def _print_scale(results: dict[str, Any]) -> None:
    print(f"scale benchmark ({results['seconds']} s a run on {results['cpus']} CPUs; each "
          "process buys, gifts, requests a seat, accepts, unregisters on its own members "
          "and workshop; beside raw psycopg writing the same kind of rows, one transaction "
          "a command)")
    if "postgres_skipped" in results:
        print(f"  postgres: skipped ({results['postgres_skipped']})")
    else:
        print("  processes  commands/s  raw psycopg/s  raw/ours  scaling vs 1  raw scaling  "
              "retries")
        for n in results["processes"]:
            print(f"  {n:>9}  {results[f'commands_per_s_{n}']:>10,}  "
                  f"{results[f'raw_per_s_{n}']:>13,}  "
                  f"{results.get(f'ratio_vs_raw_{n}', '-'):>8}  "
                  f"{results.get(f'scaling_{n}_vs_1', '-'):>12}  "
                  f"{results.get(f'raw_scaling_{n}_vs_1', '-'):>11}  "
                  f"{results[f'retries_{n}']:>7}")
        for key, value in results.items():
            if key.startswith("contended_commands_per_s_"):
                n = key.rsplit("_", 1)[1]
                print(f"  contended: {n} processes in the same 3 sessions   {value:>8,} "
                      f"commands/s, {results[f'contended_retries_{n}']:,} retries")
        if "unrelated_wait_ms" in results:
            print(f"  buy_stars of B while a unit holds A's wallet      "
                  f"{results['unrelated_wait_ms']:>8} ms (A's purchase held open: "
                  f"{results['unrelated_wait_ms_command']} ms; nothing held: "
                  f"{results['unrelated_free_ms']} ms)")
    sqlite = [int(key.rsplit("_", 1)[1]) for key in results
              if key.startswith("sqlite_commands_per_s_")]
    if sqlite:
        print("  sqlite, one file: " + ", ".join(
            f"{n} process{'es' if n > 1 else ''} {results[f'sqlite_commands_per_s_{n}']:,}/s"
            for n in sqlite) + "".join(
            f", scaling {n} vs 1 {results[f'sqlite_scaling_{n}_vs_1']}"
            for n in sqlite if f"sqlite_scaling_{n}_vs_1" in results))


def _print_read(results: dict[str, Any]) -> None:
    print(f"read benchmark (SQLite; pages of {results['page_items']}, best of "
          f"{results['rounds']} rounds; the first page and one in the middle through "
          "cursors; small world beside big world)")
    for name, what in (("catalogue", "sessions"), ("search", "results"),
                       ("statement", "lines")):
        small, big = (key.rsplit("_", 1)[1] for key in results
                      if key.startswith(f"{name}_page_ms_"))
        ratio = next(value for key, value in results.items()
                     if key.startswith(f"ratio_{name}"))
        print(f"  {name:<9} {results[f'{name}_items_small']:>9,} vs "
              f"{results[f'{name}_items_big']:>9,} {what:<8}  first page "
              f"{results[f'{name}_first_page_ms_{small}']:>6} vs "
              f"{results[f'{name}_first_page_ms_{big}']:>6} ms, further page "
              f"{results[f'{name}_further_page_ms_{small}']:>6} vs "
              f"{results[f'{name}_further_page_ms_{big}']:>6} ms  ratio {ratio:>5}  "
              "(target <= 2)")
    print(f"  worlds of {results['sessions_small']:,} and {results['sessions_big']:,} "
          f"sessions built in {results['build_s_small']} s and {results['build_s_big']} s; "
          f"{results['pages_checked']:,} pages checked against what was written; "
          f"{results['seconds']} s in all")


def _bench(args: argparse.Namespace) -> int:
    results: dict[str, Any]
    if args.target == "read":
        results = bench_read.bench_read()
        _print_read(results)
    if args.target == "scale":
        results = bench_scale.bench_scale(args.processes, dsn=args.dsn, seconds=args.seconds)
        _print_scale(results)
    if args.target == "store":
        results = bench.bench_store(n=min(args.n, 5_000), lifecycles=min(args.n, 500),
                                    postgres=not args.no_postgres, dsn=args.dsn)
        print(f"store benchmark ({results['commands']} purchases and gifts, "
              f"{results['lifecycles']} booking lifecycles; each beside raw writes of the "
              "same rows in as many transactions)")
        for db, raw in (("sqlite", "sqlite3"), ("postgres", "psycopg")):
            if f"{db}_commands_per_s" not in results:
                continue
            print(f"  {db}: store commands/s {results[f'{db}_commands_per_s']:>8,}  raw {raw} "
                  f"{results[f'raw_{db}_transactions_per_s']:>8,}  ratio "
                  f"{results[f'ratio_{db}_vs_raw']:>5}  (target <= 2.5)")
            print(f"  {db}: lifecycles/s     {results[f'{db}_lifecycles_per_s']:>8,}  raw {raw} "
                  f"{results[f'raw_{db}_lifecycles_per_s']:>8,}  ratio "
                  f"{results[f'ratio_{db}_lifecycles_vs_raw']:>5}")
        if "postgres_skipped" in results:
            print(f"  postgres: skipped ({results['postgres_skipped']})")
    if args.target == "booking":
        results = bench.bench_booking(n=min(args.n, 20_000), big=args.members)
        print(f"booking benchmark ({results['lifecycles']} lifecycles, memory store)")
        print(f"  lifecycles/s (request, accept, end, held, payout) "
              f"{results['lifecycles_per_s']:>8,}")
        print(f"  raw writes of the same lifecycles/s (dicts, heap) "
              f"{results['raw_lifecycles_per_s']:>8,}  ratio "
              f"{results['ratio_lifecycles_vs_raw']}  (guard <= 6)")
        for key, value in results.items():
            if key.startswith("run_due"):
                print(f"  {key:<40} {value:>10}s")
        print(f"  run_due ratio {args.members:,} vs 10,000 pending    "
              f"{results['ratio_run_due_1m_vs_10k']:>8}  (target <= 2)")
    if args.target == "ads":
        results = bench.bench_ads(serves=min(args.n, 50_000), views=min(args.n, 50_000))
        print(f"ads benchmark ({results['serves']} serves over {results['domains']} domains, "
              "memory store)")
        print(f"  serves/s, 100 running campaigns      "
              f"{results['serves_per_s_100_campaigns']:>10,}")
        print(f"  serves/s, 10,000 running campaigns   "
              f"{results['serves_per_s_10000_campaigns']:>10,}")
        print(f"  time ratio 10,000 vs 100 campaigns   "
              f"{results['ratio_10000_vs_100_campaigns']:>10}  (O(log n): a small ratio)")
        print(f"  record_view/s                        {results['record_views_per_s']:>10,}")
    if args.target == "ledger":
        results = bench.bench_ledger(n=args.n, big=args.members)
        print(f"ledger benchmark ({results['cycles']} hold+post cycles, GC paused, best of 3)")
        print(f"  hold+post cycles/s   {results['hold_post_cycles_per_s']:>12,}")
        print(f"  bare-dict baseline/s {results['baseline_cycles_per_s']:>12,}")
        print(f"  ratio (ours/base)    {results['ratio_hold_post_vs_baseline']:>12}  (guard <= 6)")
        print(f"  transfers/s          {results['transfers_per_s']:>12,}")
        for key, value in results.items():
            if key.startswith(("balance_reads", "ratio_balance_read_vs")):
                print(f"  {key:<36} {value:>12,}")
        print(
            f"  read time {args.members:,} vs 1,000 members: ledger "
            f"x{results['ratio_balance_read_big_vs_1k']}, bare dict "
            f"x{results['ratio_bare_dict_read_big_vs_1k']} (same growth = constant-time reads)"
        )
    if args.json:
        print(json.dumps({"benchmark": args.target, **results}))
    return 0


def _open_store(spec: str, index: int, folder: Path) -> Store:
    """A fresh store for one scenario: memory, sqlite:PATH (a new file) or a PostgreSQL DSN."""
    if spec == "memory":
        return MemoryStore()
    if spec.startswith("sqlite:"):
        path = Path(spec.removeprefix("sqlite:"))
        if index:
            path = path.with_name(f"{path.stem}-{index}{path.suffix}")
        if path.exists():
            raise UsageError(f"{path} exists; name a new database file")
        if not path.parent.is_dir():
            raise UsageError(f"the folder {path.parent} does not exist; create it or name "
                             "a database file in an existing folder")
        return SQLiteStore(path)
    if spec.startswith(("postgresql://", "postgres://")):
        return postgres_store(spec, schema=f"skilltroc_run_{uuid.uuid4().hex[:12]}")
    if spec == "sqlite":
        return SQLiteStore(folder / f"scenario-{index}.db")
    raise UsageError(f"unknown store {spec!r}: memory, sqlite:PATH or postgresql://...")


def postgres_store(dsn: str, *, schema: str | None = None) -> Store:
    """A PostgreSQL store, or a :class:`UsageError` saying which extra to install."""
    try:
        from ..adapters.postgres import PostgresStore  # noqa: PLC0415 - optional dependency
    except ImportError as exc:
        raise UsageError("PostgreSQL needs psycopg: pip install 'skilltroc-core[postgres]'"
                         ) from exc
    return PostgresStore(dsn, schema=schema)


def run_scenarios(files: Sequence[str], store: str = "sqlite", quiet: bool = False,
                  out: TextIO | None = None) -> int:
    """Run scenario files; print the timeline (or only failures) and ``N passed, N failed``."""
    out = out or sys.stdout
    passed = failed = malformed = 0
    live = Progress(sys.stderr, "scenarios", len(files)) if quiet and len(files) > 1 else None
    with tempfile.TemporaryDirectory(prefix="skilltroc-") as folder:
        for index, name in enumerate(files):
            if live is not None:
                live.step(0 if index == 0 else 1)
            try:
                scenario = load_scenario(name, known_rules=set(rule_ids()))
            except ScenarioFormatError as exc:
                out.write(f"MALFORMED {exc.message}\n")
                malformed += 1
                continue
            opened = _open_store(store, index, Path(folder))
            try:
                result = Runner(scenario, opened, out, quiet=quiet).run()
            finally:
                opened.close()
            passed += result.passed
            failed += not result.passed
            if not quiet:
                out.write("\n")
    if live is not None:
        live.close()
    counts = f"{passed} passed, {failed + malformed} failed"
    out.write(f"{counts} ({malformed} malformed)\n" if malformed else f"{counts}\n")
    return EXIT_USAGE if malformed else EXIT_FAILED if failed else EXIT_OK


def _run(args: argparse.Namespace) -> int:
    files = [*args.files, *(str(path) for path in example_files())] if args.examples else (
        args.files)
    if not files:
        raise UsageError("name scenario files, or --examples")
    return run_scenarios(files, args.store, args.quiet)


def _docs(args: argparse.Namespace) -> int:
    if args.snapshot is not None:
        root = project_root()
        if root is None:
            raise UsageError("--snapshot writes into the source checkout's catalogue")
        from .rulebook import write_snapshot  # noqa: PLC0415

        path = write_snapshot(root / "src" / "skilltroc_core" / "catalogue" / "releases",
                              args.snapshot)
        print(f"skilltroc docs: kept the catalogue of {args.snapshot} in {path}")
        return 0
    if args.site is not None:
        from .site import SiteError, build_site  # noqa: PLC0415 - needs the docs extra

        try:
            build_site(Path(args.site), project_root())
        except SiteError as exc:
            raise UsageError(str(exc)) from exc
        print(f"skilltroc docs: built the rule site in {args.site}: serve it with "
              f"`python3 -m http.server -d {args.site} 8000` and open http://127.0.0.1:8000 "
              "(from the disk the pages open too, but the search needs the server)")
        return 0
    stale = write_or_check(project_root(), Path(args.out), args.check)
    if args.check:
        if stale:
            print(f"skilltroc docs: out of date in {args.out}: {', '.join(stale)} "
                  "(run `skilltroc docs` and commit)")
            return 1
        print(f"skilltroc docs: {args.out} is up to date")
        return 0
    print(f"skilltroc docs: wrote {', '.join(stale) or 'nothing (all up to date)'} in {args.out}")
    return 0


def _secret(args: argparse.Namespace) -> int:
    if args.action == "new":
        print(secrets.token_hex(MIN_SECRET_BYTES))
        return 0
    if (args.sqlite is None) == (args.postgres is None):
        raise UsageError("take-out: name one store, --sqlite PATH or --postgres DSN")
    store: Store
    if args.sqlite is not None:
        if not Path(args.sqlite).is_file():
            raise UsageError(f"take-out: no database file {args.sqlite}")
        store = SQLiteStore(args.sqlite)
    else:
        store = postgres_store(args.postgres, schema=args.schema)
    try:
        key = take_out_stored_key(store)
    finally:
        store.close()
    if key is None:
        print("this store holds no key: nothing to take out", file=sys.stderr)
        return 0
    print(key.hex())
    print("the store no longer holds this key: give this text in previous_secret_keys, or "
          "the addresses it remembers are forgotten", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skilltroc", description="Skilltroc's rules as an executable domain core.",
        epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"skilltroc {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="a short ledger demo printing a statement")
    demo.set_defaults(handler=lambda args: ledger_demo(sys.stdout))

    run = commands.add_parser(
        "run", help="run scenario files (how to write them: docs/scenarios.md)")
    run.add_argument("files", nargs="*", metavar="FILE")
    run.add_argument("--examples", action="store_true",
                     help="run the example scenarios the package carries (after any FILE)")
    run.add_argument("--store", default="sqlite",
                     help="memory | sqlite:PATH | postgresql://... (default: a fresh SQLite file)")
    run.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    run.set_defaults(handler=_run)

    docs = commands.add_parser("docs", help="generate the rule docs from the code")
    docs.add_argument("--out", default="docs", help="folder to write (default: docs)")
    docs.add_argument("--check", action="store_true",
                      help="exit 1 when the committed docs differ from what the code generates")
    docs.add_argument("--site", metavar="DIR",
                      help="build the rule site (HTML, English and French, searchable) into DIR "
                           "instead; needs the docs extra")
    docs.add_argument("--snapshot", metavar="VERSION",
                      help="at a release: keep the catalogue of VERSION for the rule change log "
                           "(catalogue/releases/VERSION.json)")
    docs.set_defaults(handler=_docs)

    bench_parser = commands.add_parser(
        "bench", help="throughput against a same-process baseline",
        description="ledger, booking, ads: in memory; store: SQLite and PostgreSQL beside "
        "raw writes of the same rows; scale: commands/s as host processes are added "
        "(PostgreSQL, beside raw psycopg processes), the wait of an unrelated command, a "
        "contended run, and SQLite with 1 and 4 processes; read: catalogue, search and "
        "statement pages on SQLite with 10,000 vs 1,000,000 sessions (statements of 1,000 "
        "vs 1,000,000 lines)",
    )
    bench_parser.add_argument("target",
                              choices=["ledger", "store", "booking", "ads", "scale", "read"])
    bench_parser.add_argument("--json", action="store_true", help="end with one JSON line")
    bench_parser.add_argument("--n", type=_positive, default=50_000,
                              help="operations per run")
    bench_parser.add_argument(
        "--members", type=_positive, default=1_000_000,
        help="members in the big balance-read run; pending requests in the big run_due run",
    )
    bench_parser.add_argument(
        "--dsn", default=None,
        help="store, scale: PostgreSQL to benchmark on (default: a throwaway server via "
        "initdb); scale works in schemas of its own there, dropped at the end",
    )
    bench_parser.add_argument(
        "--processes", type=_process_counts, default=[1, 2, 4, 8], metavar="N,N,...",
        help="scale: the process counts to time (default: 1,2,4,8)",
    )
    bench_parser.add_argument("--seconds", type=_seconds, default=3.0,
                              help="scale: seconds each run is timed (default: 3)")
    bench_parser.add_argument("--no-postgres", action="store_true",
                              help="store: SQLite only")
    bench_parser.set_defaults(handler=_bench)
    add_simulate_parser(commands)

    secret = commands.add_parser(
        "secret", help="the host's secret key: make one, or take an old one out of a store",
        description="new: print 32 random bytes in hex, for Skilltroc(secret_key=...). "
        "take-out: remove the key of email fingerprints that earlier versions kept in the "
        "store, and print it (hex) for previous_secret_keys.",
    )
    secret.add_argument("action", choices=["new", "take-out"])
    secret.add_argument("--sqlite", metavar="PATH", help="take-out: the SQLite database")
    secret.add_argument("--postgres", metavar="DSN", help="take-out: the PostgreSQL database")
    secret.add_argument("--schema", default=None, help="take-out: its schema, if not the default")
    secret.set_defaults(handler=_secret)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``skilltroc`` command; its exit status (see the module)."""
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except BrokenPipeError:  # the reader went away (``| head``): nothing more to say
        sys.stderr.close()
        return EXIT_OK
    except (UsageError, StoreError, OSError) as exc:
        message = exc.message if isinstance(exc, StoreError) else str(exc)
        print(f"skilltroc {args.command}: {message}", file=sys.stderr)
        return EXIT_USAGE
    return result


if __name__ == "__main__":
    sys.exit(main())
