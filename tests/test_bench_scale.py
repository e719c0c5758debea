"""The scale benchmark runs, and its workers' commands really commit.

A smoke test with tiny settings on the session's throwaway PostgreSQL server: the
figures' keys are there, and every schema the workers wrote holds the ledger's
invariants with the purchases, gifts and requests the workers counted. Timings are
never asserted.
"""

from __future__ import annotations

import json
import math

import psycopg
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import TEST_SECRET_KEY
from skilltroc_core.tools import cli
from skilltroc_core.tools.bench_scale import MEMBERS, ROUND, START_STARS, bench_scale

from .pg_fixtures import POLICY, T0, pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

TAG = "smoke"


def _count(dsn: str, schema: str, query: str) -> int:
    with psycopg.connect(dsn) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        row = conn.execute(query).fetchone()
        assert row is not None
        return int(row[0])


def _check_service_schema(dsn: str, schema: str, workers: int, commands: int) -> None:
    """The invariants hold (deep), and the rows match the commands the workers counted."""
    app = Skilltroc(PostgresStore(dsn, schema=schema), ManualClock(T0), policy=POLICY,
                    secret_key=TEST_SECRET_KEY)
    try:
        app.check_invariants(deep=True)
        bought = _count(dsn, schema, "SELECT count(*) FROM transfers WHERE kind = 'purchase' "
                                     "AND reference NOT LIKE 'payment:%-setup-%'")
        # each worker's rounds start with a purchase: its last round may be cut short
        assert commands / len(ROUND) <= bought <= math.ceil(commands / len(ROUND)) + workers
        assert bought >= workers  # every worker ran at least one round
        gifts = _count(dsn, schema, "SELECT count(*) FROM transfers WHERE kind = 'gift_sent'")
        holds = _count(dsn, schema, "SELECT count(*) FROM transfers WHERE kind = 'hold'")
        assert bought >= gifts >= holds >= bought - workers
        # every member's wallet moved from its starting stars
        wallets = _count(dsn, schema, "SELECT count(*) FROM accounts WHERE available + held "
                                      f"> {START_STARS}")
        assert wallets >= workers
        assert _count(dsn, schema, "SELECT count(*) FROM accounts") >= workers * MEMBERS
    finally:
        app.store.close()


def test_the_scale_benchmark_runs_and_its_commands_commit(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    results = bench_scale((1, 2), dsn=pg_dsn, seconds=0.3, contended=2,
                          sqlite_processes=(1, 2), hold=0.2, tries=1, keep=True, tag=TAG)

    for key in ("commands_per_s_1", "commands_per_s_2", "raw_per_s_1", "raw_per_s_2",
                "ratio_vs_raw_2", "scaling_2_vs_1", "unrelated_wait_ms",
                "unrelated_wait_ms_command", "unrelated_free_ms", "contended_commands_per_s_2",
                "contended_retries_2", "sqlite_commands_per_s_1", "sqlite_commands_per_s_2",
                "sqlite_scaling_2_vs_1"):
        assert key in results, key
    assert "postgres_skipped" not in results
    for n in (1, 2):
        assert results[f"commands_{n}"] > 0
        assert results[f"raw_transactions_{n}"] > 0
        assert results[f"sqlite_commands_{n}"] > 0
        _check_service_schema(pg_dsn, f"{TAG}_pg_{n}", n, results[f"commands_{n}"])
        raw = f"{TAG}_raw_{n}"
        assert _count(pg_dsn, raw, "SELECT count(*) FROM transfers") >= n
        assert _count(pg_dsn, raw, "SELECT count(*) FROM accounts WHERE available + held "
                                   f"> {START_STARS}") >= n
    _check_service_schema(pg_dsn, f"{TAG}_contended_2", 2, results["contended_commands_2"])
    assert _count(pg_dsn, f"{TAG}_contended_2",
                  "SELECT count(*) FROM entities WHERE kind = 'session'") == 3

    cli._print_scale(results)  # the table prints every figure it has
    table = capsys.readouterr().out
    assert "contended: 2 processes" in table
    assert "scaling 2 vs 1" in table
    json.dumps(results)  # the --json line


def test_the_command_line_takes_process_counts() -> None:
    args = cli.build_parser().parse_args(
        ["bench", "scale", "--processes", "1,4", "--seconds", "0.5", "--json"])
    assert (args.target, args.processes, args.seconds, args.json) == ("scale", [1, 4], 0.5, True)
    assert cli.build_parser().parse_args(["bench", "scale"]).processes == [1, 2, 4, 8]
    for wrong in ("0,2", "two", ""):
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(["bench", "scale", "--processes", wrong])
