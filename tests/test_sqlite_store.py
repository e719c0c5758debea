"""SQLite-specific behaviour: schema, bad files, erasure, races and crashes."""

from __future__ import annotations

import sqlite3
import threading
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters._sql import SCHEMA_VERSION
from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import (
    ConcurrencyError,
    InvalidInputError,
    SchemaTooNewError,
    SkilltrocError,
    StoreError,
)
from skilltroc_core.ports import EntityKind, Index
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import TEST_SECRET_KEY, races
from skilltroc_core.testing.contract.feed import recorded

from .members_support import CHEAP_POLICY, START, check_two_stores_see_each_others_commits
from .schema_history import back_to_version_3, back_to_version_5

T0 = races.RACE_START
POLICY = races.RACE_POLICY


def service(path: str) -> Skilltroc:
    return Skilltroc(SQLiteStore(path), ManualClock(T0), policy=POLICY, secret_key=TEST_SECRET_KEY)


def test_opening_a_store_twice_applies_the_schema_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    store = SQLiteStore(path)
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 6
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_version_1_store_is_migrated_on_open_and_keeps_its_data(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    app = service(str(path))
    alice = app.signup("alice@example.org", provider="google").member_id
    app.store.close()
    conn = sqlite3.connect(path)  # turn the file back into what version 1 wrote
    back_to_version_3(conn.execute)
    conn.execute("DROP TABLE queue_entries")
    conn.execute("DROP INDEX entity_keys_by_id")
    conn.execute("CREATE INDEX entity_keys_by_id ON entity_keys (kind, id)")
    conn.execute("PRAGMA user_version=1")
    conn.commit()
    conn.close()
    app = service(str(path))
    assert app.balance(alice).available == 10
    app.store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    columns = [row[2] for row in conn.execute("PRAGMA index_info(entity_keys_by_id)")]
    assert columns == ["kind", "id", "idx", "key"]
    plan = conn.execute("EXPLAIN QUERY PLAN SELECT idx, key FROM entity_keys "
                        "WHERE kind = 'member' AND id = 'x'").fetchall()
    assert "entity_keys_by_id (kind=? AND id=?)" in plan[0][3]


@pytest.mark.rule("STAR-6")
def test_a_version_3_store_migrates_to_shards_and_keeps_its_ledger(tmp_path: Path) -> None:
    """Version 4: platform accounts and supply counters become shards and transfers
    are numbered by a sequence; balances, supply and the numbering go on."""
    path = tmp_path / "s.db"
    app = service(str(path))
    alice = app.signup("alice@example.org", provider="google").member_id
    app.buy_stars(alice, 20, "PAY-1")
    app.gift(alice, "bob@example.org", 5)
    before = (app.balance(alice), app.supply())
    last = max(line.transfer_seq for line in app.statement(alice).items)
    app.store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    back_to_version_3(conn.execute)
    conn.execute("PRAGMA user_version=3")
    conn.close()
    app = service(str(path))
    assert (app.balance(alice), app.supply()) == before
    assert app.buy_stars(alice, 1, "PAY-2").seq == last + 1
    app.check_invariants(deep=True)
    app.store.close()


@pytest.mark.rule("STAR-6")
def test_a_version_5_store_gains_the_change_feed(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    app = service(str(path))
    alice = app.signup("alice@example.org", provider="google").member_id
    app.store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    back_to_version_5(conn.execute)
    conn.execute("PRAGMA user_version=5")
    conn.close()
    store = SQLiteStore(path)
    uow = store.begin()
    uow.record_change("profile", alice, "{}")
    uow.commit()
    assert recorded(store.changes()) == [("profile", alice, "{}")]
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


@pytest.mark.parametrize("recorded", [0, -1, 1, 3, 5])
def test_a_recorded_version_that_does_not_match_the_tables_is_refused_untouched(
    tmp_path: Path, recorded: int,
) -> None:
    """A Skilltroc file whose user_version was changed by hand: refused with a clear
    error instead of a half-run migration ("table accounts already exists") or steps
    run a second time."""
    path = tmp_path / "s.db"
    app = service(str(path))
    alice = app.signup("alice@example.org", provider="google").member_id
    app.store.close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={recorded}")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(StoreError) as refused:
        SQLiteStore(path)
    assert f"records schema version {recorded}" in refused.value.message
    assert f"version {SCHEMA_VERSION}" in refused.value.message
    assert path.read_bytes() == before
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")  # put back: usable again
    conn.commit()
    conn.close()
    assert service(str(path)).balance(alice).available == 10


def test_a_store_written_by_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version=99")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNewError) as refused:
        SQLiteStore(path)
    assert refused.value.code == "schema_too_new"


def test_another_programs_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="another program") as refused:
        SQLiteStore(path)
    assert (refused.value.reason, refused.value.facts) == ("store_foreign", {"store": str(path)})
    assert refused.value.message_in("fr") == (
        f"{path} appartient à un autre programme, pas à Skilltroc")
    tables = sqlite3.connect(path).execute("SELECT name FROM sqlite_master").fetchall()
    assert tables == [("recipes",)]


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database at all, " * 200)
    with pytest.raises(StoreError):
        SQLiteStore(path)
    with pytest.raises(StoreError):
        SQLiteStore(tmp_path)


@pytest.mark.rule("ACC-7")
def test_after_a_purge_the_members_personal_data_is_nowhere_in_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.db"
    app = service(str(path))
    carol = app.signup("carol.unique@example.org", password="correct horse",
                       display_name="Carolina Zed")
    assert carol.confirmation_token is not None
    app.confirm_email(carol.member_id, carol.confirmation_token)
    app.update_profile(carol.member_id, bio="A bio nobody may keep")
    bob = app.signup("bob@example.org", provider="google").member_id
    app.buy_stars(bob, 30, "PAY-9")
    app.gift(bob, "carol.unique@example.org", 5)
    app.follow(bob, carol.member_id)
    app.post_message(carol.member_id, "Carolina Zed says hello")
    app.deactivate(carol.member_id)
    clock = app.clock
    assert isinstance(clock, ManualClock)
    clock.advance(days=15)
    assert app.run_due() == 1
    app.check_invariants(deep=True)
    store = app.store
    assert isinstance(store, SQLiteStore)
    store.checkpoint()
    store.close()
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    for secret in (b"carol.unique", b"Carolina Zed", b"nobody may keep"):
        assert secret not in data


@pytest.mark.rule("ACC-7")
def test_forgotten_changes_leave_no_byte_of_their_data_in_the_files(tmp_path: Path) -> None:
    """The feed's changes of an erased entity are deleted with the rest of the purge:
    overwritten in the file, and the WAL folded in and emptied."""
    store = SQLiteStore(tmp_path / "s.db")
    uow = store.begin()
    uow.record_change("profile", "mem_1", '{"display_name": "Carolina Zed"}')
    uow.record_change("profile", "mem_2", '{"display_name": "Bob"}')
    uow.commit()
    uow = store.begin()
    uow.record_change("profile", "mem_1", '{"bio": "A bio nobody may keep"}')
    uow.commit()

    def everything() -> bytes:
        return b"".join(p.read_bytes() for p in tmp_path.iterdir())

    assert b"Carolina Zed" in everything()  # the search does find it
    uow = store.begin()
    uow.forget_changes("profile", "mem_1")
    uow.record_change("profile", "mem_1", None)
    uow.erasing()
    uow.commit()
    data = everything()  # the store still open: nothing left for its closing to fold in
    store.close()
    for secret in (b"Carolina Zed", b"nobody may keep"):
        assert secret not in data
    assert b"Bob" in data  # the others' changes stay


@pytest.mark.rule("GIFT-1", "STAR-6")
def test_eight_processes_gifting_and_buying_on_one_wallet_keep_every_invariant(
    tmp_path: Path,
) -> None:
    races.wallet_race(partial(SQLiteStore, tmp_path / "race.db"))


@pytest.mark.rule("STAR-2", "STAR-6")
def test_a_process_killed_mid_command_leaves_a_consistent_store_and_retries_apply_once(
    tmp_path: Path,
) -> None:
    races.killed_process_race(partial(SQLiteStore, tmp_path / "crash.db"))


@pytest.mark.rule("AD-7", "AD-8")
def test_eight_processes_serving_one_campaign_deliver_exactly_its_goal(
    tmp_path: Path,
) -> None:
    races.ad_goal_race(partial(SQLiteStore, tmp_path / "ads.db"))


@pytest.mark.rule("BOOK-12", "BOOK-14", "BOOK-18", "REFUND-5")
def test_eight_processes_requesting_one_five_seat_session_never_oversell_it(
    tmp_path: Path,
) -> None:
    """8 processes sign up members who each ask for a seat (some cancel at once) while
    the organizer's process accepts every pending request it sees: exactly 5 seats end
    up taken, every accept that could not be done was refused with a state conflict (the
    worker fails otherwise), and everyone else got their star back."""
    races.seat_race(partial(SQLiteStore, tmp_path / "seats.db"))


class _CommitFails:
    """A connection whose next COMMIT fails (a full disk, an I/O error)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.failed = False

    def execute(self, sql: str, *args: Any) -> object:
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("disk I/O error")
        return self.conn.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self.conn, name)


@pytest.mark.rule("STAR-2")
def test_a_failed_commit_rolls_back_and_the_store_stays_usable(tmp_path: Path) -> None:
    """A COMMIT that fails leaves nothing written and no transaction open: the next
    command runs at once and the retried purchase credits once."""
    app = service(str(tmp_path / "s.db"))
    alice = app.signup("alice@example.org", provider="google").member_id
    store = app.store
    assert isinstance(store, SQLiteStore)
    real = store._conn
    store._conn = _CommitFails(real)  # type: ignore[assignment]
    with pytest.raises(StoreError, match="disk I/O error") as failed:
        app.buy_stars(alice, 5, payment_reference="PAY-1")
    assert failed.value.code == "store_error"
    store._conn = real
    assert not real.in_transaction
    assert app.balance(alice).available == 10
    app.buy_stars(alice, 5, payment_reference="PAY-1")
    assert app.balance(alice).available == 15
    app.check_invariants(deep=True)


@pytest.mark.rule("GIFT-1", "STAR-6")
def test_a_commit_through_another_connection_empties_the_cache_of_this_one(
    tmp_path: Path,
) -> None:
    """Two stores on one file (as two processes would be): each keeps what it read and
    wrote between units of work, and drops it all as soon as the other one commits."""
    path = str(tmp_path / "s.db")
    first, second = service(path), service(path)
    check_two_stores_see_each_others_commits(first, second)


@attrs.frozen
class Probe:
    id: str
    tag: str


PROBES: EntityKind[Probe] = EntityKind(
    name="probe", type=Probe, indexes=(Index(name="tag", keys=lambda p: (p.tag,), unique=True),)
)


def test_a_rolled_back_unit_of_work_leaves_nothing_of_it_in_the_cache(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    uow = store.begin()
    uow.put(PROBES, "p1", Probe(id="p1", tag="red"))
    uow.commit()
    uow = store.begin()
    assert uow.find(PROBES, "tag", "red") == [Probe(id="p1", tag="red")]
    uow.put(PROBES, "p1", Probe(id="p1", tag="blue"))
    uow.put(PROBES, "p2", Probe(id="p2", tag="red"))
    assert uow.find(PROBES, "tag", "red") == [Probe(id="p2", tag="red")]
    assert uow.next_in_sequence("probe") == 1
    uow.rollback()
    uow = store.begin()
    assert uow.get(PROBES, "p1") == Probe(id="p1", tag="red")
    assert uow.get(PROBES, "p2") is None
    assert uow.find(PROBES, "tag", "red") == [Probe(id="p1", tag="red")]
    assert uow.find(PROBES, "tag", "blue") == []
    assert uow.next_in_sequence("probe") == 1
    uow.rollback()
    store.close()


@pytest.mark.rule("ACC-7")
def test_after_a_purge_the_members_personal_data_is_not_in_the_stores_cache(
    tmp_path: Path,
) -> None:
    app = service(str(tmp_path / "s.db"))
    carol = app.signup("carol.unique@example.org", provider="google",
                       display_name="Carolina Zed").member_id
    app.update_profile(carol, bio="A bio nobody may keep")
    bob = app.signup("bob@example.org", provider="google").member_id
    app.follow(bob, carol)
    app.deactivate(carol)
    store = app.store
    assert isinstance(store, SQLiteStore)
    assert "Carolina Zed" in repr(vars(store._cache))  # kept while the account lives
    clock = app.clock
    assert isinstance(clock, ManualClock)
    clock.advance(days=15)
    assert app.run_due() == 1
    cached = repr(vars(store._cache))
    for secret in ("carol.unique", "Carolina Zed", "nobody may keep"):
        assert secret not in cached


def _hold_write_lock(path: str) -> sqlite3.Connection:
    """Another program's connection holding the file's write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    return other


def test_a_busy_file_is_tried_again_then_refused_as_retryable(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    store = SQLiteStore(path, busy_timeout=0.02, begin_attempts=3)
    other = _hold_write_lock(path)
    with pytest.raises(ConcurrencyError) as busy:
        store.begin()
    assert busy.value.retryable
    assert "gave up after 3 attempts" in str(busy.value)
    # opening the file meanwhile is the same retryable wait, not "not a usable database"
    with pytest.raises(ConcurrencyError) as opening:
        SQLiteStore(path, busy_timeout=0.02, begin_attempts=2)
    assert opening.value.retryable
    assert "gave up after 2 attempts" in str(opening.value)
    other.execute("COMMIT")
    uow = store.begin()  # nothing was left half-open: free again
    uow.rollback()
    store.close()
    other.close()


def test_a_write_lock_released_between_attempts_lets_the_unit_of_work_start(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "s.db")
    app = service(path)
    bob = app.signup("bob@example.org", provider="google").member_id
    app.store.close()
    app = Skilltroc(SQLiteStore(path, busy_timeout=0.02, begin_attempts=100),
                    ManualClock(T0), policy=POLICY, secret_key=TEST_SECRET_KEY)
    # each wait (20 ms) is shorter than the lock is held (at least 100 ms): only a later
    # attempt can succeed
    other = _hold_write_lock(path)
    release = threading.Timer(0.1, other.execute, ("COMMIT",))
    release.start()
    app.buy_stars(bob, 5, "PAY-1")
    release.join()
    assert app.balance(bob).available == 15
    app.check_invariants(deep=True)
    other.close()


@pytest.mark.parametrize("attempts", [0, 101, "3", 2.0])
def test_begin_attempts_out_of_range_are_refused(tmp_path: Path, attempts: Any) -> None:
    with pytest.raises(InvalidInputError) as refused:
        SQLiteStore(str(tmp_path / "s.db"), begin_attempts=attempts)
    assert refused.value.code == "invalid_input"
    assert not (tmp_path / "s.db").exists()


def test_draining_and_acknowledging_on_a_busy_file_are_retried_then_retryable(
    tmp_path: Path,
) -> None:
    path = str(tmp_path / "s.db")
    store = SQLiteStore(path, busy_timeout=0.02, begin_attempts=2)
    app = Skilltroc(store, ManualClock(T0), policy=POLICY, secret_key=TEST_SECRET_KEY)
    app.signup("ann@example.org", password="correct horse")  # one notice: confirm the email
    [item] = app.drain_notifications()
    other = _hold_write_lock(path)
    with pytest.raises(ConcurrencyError) as busy:
        app.ack([item.seq])
    assert busy.value.retryable and "gave up after 2 attempts" in str(busy.value)
    assert [i.seq for i in app.drain_notifications()] == [item.seq]  # WAL: readers go on
    release = threading.Timer(0.1, other.execute, ("COMMIT",))
    store.begin_attempts = 100
    release.start()
    app.ack([item.seq])  # a later attempt, once the other writer is done
    release.join()
    assert app.drain_notifications() == []
    other.close()


def test_a_checkpoint_blocked_by_a_reader_is_retried_then_retryable(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    store = SQLiteStore(path, busy_timeout=0.02, begin_attempts=2)
    app = Skilltroc(store, ManualClock(T0), policy=POLICY, secret_key=TEST_SECRET_KEY)
    app.signup("ann@example.org", provider="google")
    reader = sqlite3.connect(path, isolation_level=None)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM entities").fetchone()  # holds a WAL snapshot
    with pytest.raises(ConcurrencyError) as busy:
        store.checkpoint()
    assert busy.value.retryable and "gave up after 2 attempts" in str(busy.value)
    reader.execute("COMMIT")
    store.checkpoint()
    assert (tmp_path / "s.db-wal").stat().st_size == 0  # folded and truncated
    reader.close()
    store.close()


def _open_files_under(folder: Path) -> list[str]:
    """The files under ``folder`` this process has open (Linux: /proc/self/fd)."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = fd.readlink()
        except OSError:  # the descriptor of the listing itself, closed meanwhile
            continue
        if str(target).startswith(str(folder)):
            found.append(target.name)
    return sorted(found)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd")
def test_close_lets_go_of_the_database_its_wal_and_shm_at_once(tmp_path: Path) -> None:
    """Each unit's cursor is closed when the unit ends: a cursor left to the garbage
    collector kept its statements, and with them the file, open after close()."""
    store = SQLiteStore(str(tmp_path / "s.db"))
    app = Skilltroc(store, ManualClock(START), policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    ann = app.signup("ann@example.org", provider="google").member_id
    app.buy_stars(ann, 5, "PAY-1")
    assert app.balance(ann).available == 15
    with pytest.raises(SkilltrocError):  # refused inside its unit, which ends too
        app.buy_stars(ann, 6, "PAY-1")  # the same payment reference, another amount
    assert _open_files_under(tmp_path) == ["s.db", "s.db-shm", "s.db-wal"]
    store.close()
    assert _open_files_under(tmp_path) == []


def test_a_unit_of_work_that_fails_as_it_starts_leaves_no_transaction_nor_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = SQLiteStore(str(tmp_path / "s.db"))
    failures = [MemoryError("no room for the unit's cache")]

    def validate(marker: int) -> None:
        if failures:
            raise failures.pop()

    monkeypatch.setattr(store._cache, "validate", validate)
    with pytest.raises(MemoryError):
        store.begin()
    assert not store._conn.in_transaction
    assert not store._lock.locked()  # or the next unit would wait for ever
    unit = store.begin()
    unit.rollback()
    store.close()
