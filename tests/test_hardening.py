"""Issue 16's first fixes: revoked reset links, conflicts that name only the caller's own
call, deadlines never applied ahead of time, arguments of the wrong type refused, a
connection lost while it is being set up run again like any other loss, damaged rows
reported as store errors naming what cannot be read, and durable SQLite commits.

Each refusal changes nothing (checked with the store snapshot of ``members_support``).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skilltroc_core.adapters._sql import Runner
from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.adapters.sqlite import driver_error as sqlite_driver_error
from skilltroc_core.errors import (
    IdempotencyConflictError,
    InvalidInputError,
    InvalidTokenError,
    SkilltrocError,
    StoreError,
)
from skilltroc_core.ledger import Ledger, TransferKind
from skilltroc_core.ports import Store
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.testing import TEST_SECRET_KEY, state_of

from .members_support import (
    PASSWORD,
    email_of,
    make_world,
    reset_link,
    signup_confirmed,
    signup_provider,
)
from .pg_fixtures import POLICY, T0, pg_dsn, pg_server, service

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find


@pytest.mark.rule("ACC-4", "ACC-5")
def test_changing_the_password_revokes_an_outstanding_reset_link() -> None:
    world = make_world()
    app = world.service
    ann = signup_confirmed(app, "ann")
    token = reset_link(app, email_of("ann"))
    app.change_password(ann, PASSWORD, "another long passphrase")
    before = state_of(world.store)
    with pytest.raises(InvalidTokenError) as refused:
        app.reset_password(email_of("ann"), token, "a third long passphrase")
    assert refused.value.code == "invalid_token"
    assert state_of(world.store) == before
    assert app.sign_in(email_of("ann"), "another long passphrase") == ann


@pytest.mark.rule("STAR-2")
def test_a_reused_payment_reference_names_only_the_callers_own_purchase() -> None:
    world = make_world()
    app = world.service
    ann = signup_provider(app, "ann")
    bob = signup_provider(app, "bob")
    app.buy_stars(ann, 20, "PAY-1")
    before = state_of(world.store)
    with pytest.raises(IdempotencyConflictError) as refused:
        app.buy_stars(bob, 5, "PAY-1")
    assert ann not in refused.value.message and "20" not in refused.value.message
    assert bob in refused.value.message  # what the caller sent, so they can find it
    assert state_of(world.store) == before


@pytest.mark.rule("STAR-6")
def test_a_ledger_key_conflict_names_only_the_callers_own_movement() -> None:
    ledger = Ledger()
    ledger.open_wallet("zed")
    ledger.open_wallet("bob")
    ledger.issue(TransferKind.PURCHASE, "zed", 20, reference="first", at=T0, key="k")
    with pytest.raises(IdempotencyConflictError) as refused:
        ledger.issue(TransferKind.PURCHASE, "bob", 5, reference="second", at=T0, key="k")
    assert "zed" not in refused.value.message and "first" not in refused.value.message
    assert ledger.balance("bob").available == 0


@pytest.mark.rule("BOOK-16", "ACC-7")
def test_run_due_refuses_an_instant_later_than_now_and_applies_nothing_early() -> None:
    world = make_world()
    app = world.service
    ann = signup_confirmed(app, "ann")
    purge_at = app.deactivate(ann)
    before = state_of(world.store)
    with pytest.raises(InvalidInputError) as refused:
        app.run_due(purge_at)  # 15 days ahead: the purge must wait for its day
    assert refused.value.facts["until"] == purge_at
    assert state_of(world.store) == before
    assert app.run_due(world.clock.now()) == 0  # now, or before it, is fine
    world.advance(timedelta(days=15))
    assert app.run_due() == 1


@pytest.mark.rule("STAR-5")
@pytest.mark.parametrize("limit", [0, -1, False, True, "", "10", 2.0])
def test_a_statement_page_size_that_is_not_a_whole_number_from_1_is_refused(
    limit: Any,
) -> None:
    world = make_world()
    app = world.service
    ann = signup_provider(app, "ann")
    with pytest.raises(InvalidInputError) as refused:
        app.statement(ann, limit=limit)
    assert refused.value.rule == "STAR-5"
    assert len(app.statement(ann, limit=1).items) == 1  # the signup bonus
    assert app.statement(ann).total == 1  # None: the policy's page


@pytest.mark.rule("STAR-6", "TUTO-3")
@pytest.mark.parametrize("flag", [1, "yes", None, 0.0])
def test_a_yes_or_no_argument_takes_only_true_or_false(flag: Any) -> None:
    world = make_world()
    app = world.service
    ann = signup_provider(app, "ann")
    with pytest.raises(InvalidInputError):
        app.check_invariants(deep=flag)
    with pytest.raises(InvalidInputError):
        app.my_tutorials(ann, include_deleted=flag)
    app.check_invariants(deep=True)
    assert app.my_tutorials(ann, include_deleted=True) == []


@pytest.mark.rule("STAR-2")
def test_a_connection_lost_while_being_set_up_is_run_again(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The server drops the new connection before the store has set it up (a restart, a
    pooler): the store says retryable, and the service reconnects and runs the command."""
    app = service(pg_dsn)
    ann = app.signup("ann@example.org", provider="google").member_id
    app.store.close()  # the next unit of work connects anew
    connect = psycopg.connect
    dropped: list[int] = []

    def dropping(*args: Any, **kwargs: Any) -> psycopg.Connection[Any]:
        conn = connect(*args, **kwargs)
        if not dropped:
            dropped.append(conn.info.backend_pid)
            with connect(pg_dsn, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (dropped[0],))
        return conn

    monkeypatch.setattr(psycopg, "connect", dropping)
    app.buy_stars(ann, 5, "PAY-1")
    assert dropped and app.retries >= 1
    assert app.balance(ann).available == 15
    app.store.close()


# ---------------------------------------------------------------------- stores under damage
def _damaged_store(where: str, tmp_path: Path, dsn: str) -> tuple[Store, Callable[[str], None]]:
    """A store holding one member and one notice, and a way to run SQL on its tables."""
    if where == "sqlite":
        path = tmp_path / "damaged.db"
        store: Store = SQLiteStore(path)

        def run(statement: str) -> None:
            with sqlite3.connect(path) as conn:
                conn.execute(statement)
    else:
        store = PostgresStore(dsn)

        def run(statement: str) -> None:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(statement.encode())
    app = Skilltroc(store, ManualClock(T0), policy=POLICY, secret_key=TEST_SECRET_KEY)
    app.signup("ann@example.org", password=PASSWORD)  # and its confirmation notice
    return store, run


@pytest.mark.rule("STAR-6")
@pytest.mark.parametrize("where", ["sqlite", "postgres"])
def test_a_damaged_row_is_a_store_error_naming_what_cannot_be_read(
    where: str, tmp_path: Path, pg_dsn: str,
) -> None:
    store, run = _damaged_store(where, tmp_path, pg_dsn)
    run("UPDATE entities SET data = '{\"id\": ' WHERE kind = 'member'")  # cut short
    run("UPDATE outbox SET data = '[1, 2]'")  # valid JSON, not a notification
    uow = store.begin()
    with pytest.raises(StoreError) as entity:
        uow.get(kinds.MEMBERS, "mem_000001")
    uow.rollback()
    assert "member 'mem_000001'" in entity.value.message
    with pytest.raises(StoreError) as notice:
        store.drain_notifications()
    assert "notification 1 " in notice.value.message
    store.close()


def _damages(text: str) -> st.SearchStrategy[str]:
    """``text`` (a stored JSON row) damaged: cut short, a byte flipped, a field with a
    value of another type, a field missing, or not an object at all."""
    row = json.loads(text)
    names = sorted(row)
    odd_values = st.one_of(st.none(), st.integers(), st.text(max_size=5), st.booleans(),
                           st.lists(st.integers(), max_size=2), st.just({"x": 1}),
                           st.just("2027-01-01T00:00:00"), st.just("9999-12-31T23:59:59+14:00"))
    return st.one_of(
        st.integers(0, len(text) - 1).map(lambda cut: text[:cut]),
        st.tuples(st.integers(0, len(text) - 1), st.characters()).map(
            lambda at: text[:at[0]] + at[1] + text[at[0] + 1:]),
        st.tuples(st.sampled_from(names), odd_values).map(
            lambda change: json.dumps({**row, change[0]: change[1]})),
        st.sampled_from(names).map(
            lambda name: json.dumps({k: v for k, v in row.items() if k != name})),
        st.sampled_from(["[]", "null", "1", '"text"', "{}"]),
    )


_MEMBER_ROW = (
    '{"category":null,"confirmation_token_hash":null,"confirmed_at":'
    '"2027-03-01T08:00:00.000000+00:00","created_at":"2027-03-01T08:00:00.000000+00:00",'
    '"deactivated_at":null,"email":"ann@example.org","id":"mem_000001","kind":"individual",'
    '"password_hash":null,"profile":{"bio":null,"description":null,"display_name":null,'
    '"locality":null,"photo":null,"website":null},"provider":"google","purge_at":null,'
    '"reset_expires_at":null,"reset_token_hash":null,"sponsor":null,'
    '"sponsor_rewarded":false,"status":"active"}')
_NOTICE_ROW = (
    '{"at":"2027-03-01T08:00:00.000000+00:00","emails":[],"event":"GiftReceived",'
    '"facts":[["gift","gift_000001"],["sender","mem_000002"],["stars",5]],'
    '"recipients":["mem_000001"],"rule":"GIFT-3"}')


@pytest.mark.rule("STAR-6")
@settings(max_examples=60, deadline=None)
@given(member=_damages(_MEMBER_ROW), notice=_damages(_NOTICE_ROW))
def test_fuzz_whatever_a_damaged_row_holds_reading_it_is_a_store_error_or_a_value(
    member: str, notice: str,
) -> None:
    """Every read of a damaged member row or outbox row either gives a value or raises
    a SkilltrocError; never a JSONDecodeError, KeyError, TypeError or ValueError."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "s.db"
        app = Skilltroc(SQLiteStore(path), ManualClock(T0), policy=POLICY,
                        secret_key=TEST_SECRET_KEY)
        ann = app.signup("ann@example.org", provider="google").member_id
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE entities SET data = ? WHERE kind = 'member' AND id = ?",
                         (member, ann))
            conn.execute("INSERT INTO outbox (seq, data, recipients) VALUES (99, ?, ?)",
                         (notice, '["mem_000001"]'))
        reads: list[Callable[[], object]] = [
            lambda: app.member(ann), lambda: app.balance(ann), lambda: app.profile(ann),
            lambda: app.statement(ann), lambda: app.drain_notifications(1000),
            lambda: app.sign_in("ann@example.org", PASSWORD),
            lambda: app.request_password_reset("ann@example.org"),
            lambda: app.buy_stars(ann, 5, "PAY-1"), lambda: app.deactivate(ann),
        ]
        for read in reads:  # anything but a SkilltrocError fails the test
            with contextlib.suppress(SkilltrocError):
                read()
        app.store.close()


@pytest.mark.rule("STAR-6", "ACC-4")
def test_regression_a_member_row_with_a_number_for_its_password_hash_is_a_store_error(
    tmp_path: Path,
) -> None:
    """Found by the damaged-row fuzz: the row decoded (the codec took any JSON value for
    a text field) and sign-in failed later with an AttributeError in the hasher."""
    path = tmp_path / "s.db"
    app = Skilltroc(SQLiteStore(path), ManualClock(T0), policy=POLICY,
                    secret_key=TEST_SECRET_KEY)
    ann = app.signup("ann@example.org", provider="google").member_id
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE entities SET data = ? WHERE kind = 'member' AND id = ?",
                     (json.dumps({**json.loads(_MEMBER_ROW), "password_hash": 0}), ann))
    with pytest.raises(StoreError) as damaged:
        app.sign_in("ann@example.org", PASSWORD)
    assert "member 'mem_000001'" in damaged.value.message
    app.store.close()


def test_a_driver_error_while_rows_are_read_is_a_store_error() -> None:
    """SQLite reads pages as the rows are fetched: a damaged page fails then."""

    class Failing:
        def execute(self, sql: str, params: Any = (), /) -> Failing:
            return self

        def executemany(self, sql: str, rows: Any, /) -> Failing:
            return self

        def fetchone(self) -> Any:
            raise sqlite3.DatabaseError("database disk image is malformed")

        def fetchall(self) -> list[Any]:
            raise sqlite3.DatabaseError("database disk image is malformed")

    runner = Runner(Failing(), "?", driver_errors=(sqlite3.Error,),
                    translate=sqlite_driver_error)
    for read in (runner.one, runner.all):
        with pytest.raises(StoreError, match="malformed"):
            read("SELECT 1")


@pytest.mark.rule("STAR-6")
def test_sqlite_commits_are_durable_unless_the_host_says_otherwise(tmp_path: Path) -> None:
    def level(store: SQLiteStore) -> int:
        return int(store._conn.execute("PRAGMA synchronous").fetchone()[0])

    durable = SQLiteStore(tmp_path / "a.db")
    assert level(durable) == 2  # FULL: the WAL is synced at every commit
    durable.close()
    fast = SQLiteStore(tmp_path / "b.db", synchronous="normal")
    assert level(fast) == 1
    fast.close()
    with pytest.raises(InvalidInputError):
        SQLiteStore(tmp_path / "c.db", synchronous="off")  # type: ignore[arg-type]
    assert not (tmp_path / "c.db").exists()


# ---------------------------------------------------------------------- secrets in values
@pytest.mark.rule("ACC-4")
def test_a_member_shows_no_secret_in_its_repr_and_hosts_get_a_view_without_them() -> None:
    world = make_world()
    app = world.service
    ann = signup_confirmed(app, "ann")
    token = reset_link(app, email_of("ann"))
    query = world.store.begin(read_only=True)
    stored = query.get(kinds.MEMBERS, ann)
    query.rollback()
    assert stored is not None and stored.password_hash and stored.reset_token_hash
    for secret in (stored.password_hash, stored.reset_token_hash, email_of("ann"), token):
        assert secret not in repr(stored)
    view = app.member(ann)
    assert not hasattr(view, "password_hash") and not hasattr(view, "reset_token_hash")
    assert view.has_password and view.email == email_of("ann")
    assert email_of("ann") not in repr(view) and ann in repr(view)
