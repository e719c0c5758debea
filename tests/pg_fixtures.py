"""PostgreSQL for the tests: one throwaway server per session, a fresh database per test.

Import the fixtures into a test module (``from .pg_fixtures import pg_dsn, pg_server``).
There is no skip: without the PostgreSQL server binaries these tests fail, with the
install instructions in the error. Run as a module, this file is also the worker process
of the multi-process race tests::

    python -m tests.pg_fixtures race <dsn> <worker> <rounds>
    python -m tests.pg_fixtures book <dsn> <worker> <members> <session>
    python -m tests.pg_fixtures organize <dsn> <stop file>

(the last two: the 5-seat booking race of :mod:`tests.booking_race`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.clocks import ManualClock
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.rules import DEFAULT_POLICY
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing.pgserver import PgServer

from . import booking_race

__all__ = ["dump_tables", "pg_dsn", "pg_server", "service"]

T0 = datetime(2027, 3, 1, 8, tzinfo=UTC)
POLICY = attrs.evolve(DEFAULT_POLICY, scrypt_n=16)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the whole test session, deleted at its end."""
    with PgServer() as server:
        yield server


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> Iterator[str]:
    """The DSN of a fresh, empty database of the session's server (dropped afterwards)."""
    dsn = pg_server.new_database()
    yield dsn
    pg_server.drop_database(str(conninfo_to_dict(dsn)["dbname"]))


def service(dsn: str, *, schema: str | None = None) -> Skilltroc:
    return Skilltroc(PostgresStore(dsn, schema=schema), ManualClock(T0), policy=POLICY)


def dump_tables(dsn: str, schema: str = "public") -> dict[str, list[str]]:
    """Every row of every table of ``schema``, as PostgreSQL's text form of the row."""
    with psycopg.connect(dsn) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename",
            (schema,),
        ).fetchall()]
        return {
            table: [r[0] for r in conn.execute(
                sql.SQL("SELECT t::text FROM {}.{} t").format(
                    sql.Identifier(schema), sql.Identifier(table))
            ).fetchall()]
            for table in tables
        }


def race(dsn: str, worker: int, rounds: int) -> None:
    """Gifts out of the shared wallet and purchases into it, as fast as possible."""
    app = service(dsn)
    for i in range(rounds):
        try:
            if i % 3 == 0:
                app.buy_stars("mem_000001", 2, f"w{worker}-{i}")
            else:
                app.gift("mem_000001", f"friend{worker}@example.org", 3)
        except SkilltrocError as exc:
            if exc.code != "floor_breach":
                raise
    app.store.close()


def book(dsn: str, worker: int, members: int, session: str) -> None:
    app = service(dsn)
    booking_race.request_seats(app, worker, members, session)
    app.store.close()


def organize(dsn: str, stop: str) -> None:
    app = service(dsn)
    booking_race.main_answer(app, stop)
    app.store.close()


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "race":
        race(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif mode == "book":
        book(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif mode == "organize":
        organize(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"unknown mode {mode!r}")
