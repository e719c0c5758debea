"""PostgreSQL for the tests: one throwaway server per session, a fresh database per test.

Import the fixtures into a test module (``from .pg_fixtures import pg_dsn, pg_server``).
There is no skip: without the PostgreSQL server binaries these tests fail, with the
install instructions in the error.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.rules import DEFAULT_POLICY
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import TEST_SECRET_KEY
from skilltroc_core.testing.pgserver import PgServer

__all__ = ["dump_tables", "pg_dsn", "pg_server", "service"]

T0 = datetime(2027, 3, 1, 8, tzinfo=UTC)
POLICY = attrs.evolve(DEFAULT_POLICY, argon2_time_cost=1, argon2_memory_kib=8)


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
    return Skilltroc(PostgresStore(dsn, schema=schema), ManualClock(T0), policy=POLICY,
                     secret_key=TEST_SECRET_KEY)


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

