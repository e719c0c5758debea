"""The library logs through ``logging.getLogger("skilltroc_core")``: retries, migrations,
cache drops, deadlines applied, purges; and never a password, a token, a hash or an
email (the records of every example scenario, a purge, a migration and retries are
read)."""

from __future__ import annotations

import io
import logging
import re
import sqlite3
from pathlib import Path

import pytest

from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import ConcurrencyError
from skilltroc_core.service import Skilltroc
from skilltroc_core.tools.scenarios import Runner, example_files, load_scenario

from .members_support import PASSWORD, make_world, reset_link, signup_confirmed
from .schema_history import back_to_version_5

#: What must never be in a record: an email, an argon2 hash, a long token-like string.
SECRET = re.compile(r"@|\$argon2|[A-Za-z0-9_\-]{32,}")


def _records(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records
            if record.name.startswith("skilltroc_core")]


@pytest.mark.rule("ACC-7", "ACC-4")
def test_no_record_of_a_full_run_holds_a_secret_or_an_email(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="skilltroc_core")
    for index, path in enumerate(example_files()):
        store = SQLiteStore(tmp_path / f"s{index}.db")
        Runner(load_scenario(path), store, io.StringIO()).run()
        store.close()
    world = make_world()
    app = world.service
    ann = signup_confirmed(app, "ann")
    token = reset_link(app, "ann@example.org")
    app.reset_password("ann@example.org", token, "another long secret")
    app.deactivate(ann)
    world.advance(days=16)
    app.run_due()
    records = _records(caplog)
    assert any("purging member" in r for r in records)
    assert any("run_due applied" in r for r in records)
    assert any("deadline" in r and "applied" in r for r in records)
    leaks = [r for r in records if SECRET.search(r) or PASSWORD in r
             or "another long secret" in r or token in r]
    assert not leaks, leaks


def test_a_migration_and_a_dropped_cache_are_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="skilltroc_core")
    path = tmp_path / "old.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    back_to_version_5(conn.execute)
    conn.execute("PRAGMA user_version=5")
    conn.close()
    first = SQLiteStore(path)
    second = SQLiteStore(path)
    app = Skilltroc(first, make_world().clock, secret_key=bytes(range(32)))
    other = Skilltroc(second, app.clock, secret_key=bytes(range(32)))
    member = app.signup("zed@example.org", provider="google").member_id
    app.balance(member)
    other.buy_stars(member, 5, "pay-1")  # another connection commits
    assert app.balance(member).available == 15
    records = _records(caplog)
    assert any("schema version 5 -> 6" in r for r in records), records
    assert any("store cache dropped: another process committed" in r for r in records)
    first.close()
    second.close()


def test_a_command_run_again_is_logged_without_its_arguments(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="skilltroc_core")
    world = make_world()
    app = world.service
    ann = signup_confirmed(app, "ann")
    commit = type(world.store).begin
    failures = [ConcurrencyError("another unit won", nothing_written=True)]

    def begin_failing_once(store: object, **kwargs: object) -> object:
        if failures:
            raise failures.pop()
        return commit(store, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(world.store), "begin", begin_failing_once)
    app.buy_stars(ann, 5, "pay-secret-reference-1")
    records = _records(caplog)
    assert any("buy_stars met another unit of work (concurrency_conflict); running it "
               "again, attempt 2 of" in r for r in records), records
    assert not any("pay-secret" in r or ann in r for r in records)
