"""The host's secret key and password hashing (STAR-1, ACC-1, ACC-4), on every store.

- The key of email fingerprints comes from the host, never from the store: a store
  alone cannot confirm that an address once had an account; a store that keeps its data
  refuses to run without it; a store of an earlier version that still holds its key is
  refused until the key is taken out (``skilltroc secret take-out``), and the addresses
  it remembered stay remembered when that key is given back as a previous key.
- Link tokens are derived from the key and a nonce: no raw token is stored anywhere, and
  a link mailed before a key rotation still works while the old key is listed.
- Passwords are argon2id at the policy's costs; scrypt hashes of earlier versions verify
  and are replaced at the next successful sign-in.
- Sign-in and reset answer the same way, doing the same work, whatever the address.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import sqlite3
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import ConfigurationError, SkilltrocError
from skilltroc_core.events import Notification
from skilltroc_core.passwords import Argon2Hasher
from skilltroc_core.ports import Store
from skilltroc_core.rules import DEFAULT_POLICY, Policy
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.testing import TEST_SECRET_KEY
from skilltroc_core.tools.cli import main

from .members_support import CHEAP_POLICY, PASSWORD, START, email_of, notices, reset_link
from .pg_fixtures import dump_tables, pg_dsn, pg_server  # noqa: F401 - fixtures

OTHER_KEY = b"another host secret key, 32 bytes or more"


@attrs.define
class Place:
    """Where a store lives, to open it again with another service."""

    kind: str
    path: Path
    dsn: str | None = None

    def open(self) -> Store:
        if self.kind == "sqlite":
            return SQLiteStore(self.path)
        assert self.dsn is not None
        return PostgresStore(self.dsn)


@pytest.fixture(params=["sqlite", "postgres"])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    if request.param == "sqlite":
        return Place("sqlite", tmp_path / "s.db")
    return Place("postgres", tmp_path, request.getfixturevalue("pg_dsn"))


def _app(store: Store, key: bytes | str | None = TEST_SECRET_KEY, *,
         previous: tuple[bytes | str, ...] = (), policy: Policy = CHEAP_POLICY,
         clock: ManualClock | None = None) -> Skilltroc:
    """A service on ``store``; ``clock``: the one of a service that used the store before
    (recorded instants never go backwards, STAR-5)."""
    return Skilltroc(store, clock or ManualClock(START), policy=policy, secret_key=key,
                     previous_secret_keys=previous)


def _signed_up_and_purged(app: Skilltroc, name: str) -> str:
    """A provider signup (bonus paid), deactivated and purged 15 days later."""
    member = app.signup(email_of(name), provider="google").member_id
    app.deactivate(member)
    assert isinstance(app.clock, ManualClock)
    app.clock.advance(days=CHEAP_POLICY.account_retention_days)
    app.run_due()
    return member


# --- the key comes from the host ----------------------------------------------------------


@pytest.mark.rule("STAR-1", "ACC-4")
def test_a_store_that_keeps_its_data_needs_the_hosts_key(place: Place) -> None:
    store = place.open()
    try:
        with pytest.raises(ConfigurationError) as missing:
            _app(store, None)
        assert (missing.value.code, missing.value.rule) == ("configuration", "ACC-4")
        for bad in (b"short", "ab" * 31, "not hex at all, but long enough to pass", 12345,
                    "\ud800" * 40, ["a list"]):
            with pytest.raises(ConfigurationError) as refused:
                _app(store, bad)  # type: ignore[arg-type]
            assert "bytes" in refused.value.message  # what a key is made of, never the key
        with pytest.raises(ConfigurationError):
            _app(store, previous=None)  # type: ignore[arg-type]
        with pytest.raises(ConfigurationError):
            _app(store, previous=(b"short",))
        app = _app(store)
        assert TEST_SECRET_KEY.decode() not in repr(app.keys)
    finally:
        store.close()
    # a store that keeps nothing runs with a key of its own, random
    assert _app(MemoryStore(), None).signup(email_of("al"), provider="google")


@pytest.mark.rule("STAR-1", "ACC-7")
def test_the_store_alone_cannot_tell_that_an_address_had_an_account(place: Place) -> None:
    app = _app(place.open())
    _signed_up_and_purged(app, "ann")
    _signed_up_and_purged(app, "ben")
    app.store.close()
    # the remembered fingerprint is the host key's HMAC of the address, and the store
    # holds no key: with another key, the same address looks never seen (and earns the
    # bonus), so nothing in the store can confirm it
    remembered = hmac.new(TEST_SECRET_KEY, email_of("ann").encode(), hashlib.sha256).hexdigest()
    clock = app.clock
    assert isinstance(clock, ManualClock)
    other = _app(place.open(), OTHER_KEY, clock=clock)
    again = other.signup(email_of("ann"), provider="google").member_id
    assert other.balance(again).available == CHEAP_POLICY.signup_bonus
    with other.query() as tx:
        assert tx.get(kinds.BONUS_EMAILS, remembered) is not None
        assert tx.get(kinds.SETTINGS, kinds.LEGACY_KEY_SETTING) is None
    other.store.close()
    # with the host's key, the address is remembered: no second bonus (STAR-1)
    app = _app(place.open(), clock=clock)
    back = app.signup(email_of("BEN"), provider="facebook")  # the same address
    assert app.balance(back.member_id).available == 0
    app.store.close()


@pytest.mark.rule("STAR-1")
def test_a_rotated_key_keeps_remembering_addresses_listed_as_previous(place: Place) -> None:
    app = _app(place.open())
    _signed_up_and_purged(app, "bea")
    app.store.close()
    assert isinstance(app.clock, ManualClock)
    # the previous key as hex text: the same key as its bytes
    rotated = _app(place.open(), OTHER_KEY, previous=(TEST_SECRET_KEY.hex(),), clock=app.clock)
    back = rotated.signup(email_of("bea"), provider="google").member_id
    assert rotated.balance(back).available == 0  # remembered under the previous key
    fresh = rotated.signup(email_of("cid"), provider="google").member_id
    assert rotated.balance(fresh).available == CHEAP_POLICY.signup_bonus
    rotated.check_invariants(deep=True)
    rotated.store.close()


def _legacy_store(place: Place, key: bytes) -> None:
    """What an earlier version left: the key of its fingerprints kept in the store."""
    store = place.open()
    uow = store.begin()
    uow.put(kinds.SETTINGS, kinds.LEGACY_KEY_SETTING,
            kinds.Setting(id=kinds.LEGACY_KEY_SETTING, value=key.hex()))
    remembered = hmac.new(key, email_of("dee").encode(), hashlib.sha256).hexdigest()
    uow.put(kinds.BONUS_EMAILS, remembered, kinds.BonusEmail(id=remembered))
    uow.commit()
    store.close()


@pytest.mark.rule("STAR-1")
def test_a_store_still_holding_its_key_is_refused_until_the_key_is_taken_out(
    place: Place, capsys: pytest.CaptureFixture[str],
) -> None:
    legacy = bytes(range(100, 132))
    _legacy_store(place, legacy)
    app = _app(place.open())
    for attempt in (lambda: app.signup(email_of("dee"), password=PASSWORD),
                    lambda: app.signup(email_of("eve"), provider="google"),
                    app.supply):  # every command and query, from the first one on
        with pytest.raises(ConfigurationError) as refused:
            attempt()
        assert refused.value.rule == "STAR-1" and "take-out" in refused.value.message
    uow = app.store.begin(read_only=True)  # refused: nothing written
    assert uow.get(kinds.MEMBERS, "mem_000001") is None
    uow.rollback()
    app.store.close()

    where = ["--sqlite", str(place.path)] if place.kind == "sqlite" else [
        "--postgres", str(place.dsn)]
    assert main(["secret", "take-out", *where]) == 0
    printed = capsys.readouterr()
    assert printed.out.strip() == legacy.hex() and "previous_secret_keys" in printed.err
    assert main(["secret", "take-out", *where]) == 0  # nothing left to take out
    assert capsys.readouterr().out == ""

    app = _app(place.open(), previous=(printed.out.strip(),))  # the text as printed
    dee = app.signup(email_of("dee"), provider="google").member_id
    assert app.balance(dee).available == 0  # still remembered (STAR-1)
    app.store.close()


def test_secret_new_prints_a_fresh_random_key() -> None:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["secret", "new"]) == 0
        assert main(["secret", "new"]) == 0
    first, second = out.getvalue().split()
    assert len(bytes.fromhex(first)) == 32 and first != second


# --- link tokens -----------------------------------------------------------------------


@pytest.mark.rule("ACC-1", "ACC-4")
def test_a_link_mailed_before_a_rotation_works_while_its_key_is_listed(place: Place) -> None:
    app = _app(place.open())
    ann = app.signup(email_of("ann"), password=PASSWORD)
    app.store.close()
    rotated = _app(place.open(), OTHER_KEY, previous=(TEST_SECRET_KEY,))
    [notice] = notices(rotated)
    token = rotated.link_token(notice)
    assert token == ann.confirmation_token
    rotated.confirm_email(ann.member_id, token)
    reset = reset_link(rotated, email_of("ann"))  # made with the new key
    rotated.store.close()
    dropped = _app(place.open(), OTHER_KEY)  # the old key is gone
    with pytest.raises(ConfigurationError):
        dropped.link_token(notice)
    dropped.reset_password(email_of("ann"), reset, "a new passphrase")
    assert dropped.sign_in(email_of("ann"), "a new passphrase") == ann.member_id
    dropped.store.close()


@pytest.mark.rule("ACC-4")
def test_a_link_token_is_only_derived_from_a_notice_with_a_link() -> None:
    app = _app(MemoryStore())
    al = app.signup(email_of("al"), provider="google").member_id
    app.post_message(al, "hello")
    for notice in notices(app):
        with pytest.raises(SkilltrocError) as refused:
            app.link_token(notice)
        assert (refused.value.code, refused.value.rule) == ("invalid_input", "ACC-4")
    at = START
    odd: list[Any] = [
        "not a notice", None,
        Notification(event="PasswordResetRequested", rule="ACC-4", at=at, facts=None),  # type: ignore[arg-type]
        Notification(event="PasswordResetRequested", rule="ACC-4", at=at,
                     recipients=None, facts=(("key", "k"), ("nonce", "n"))),  # type: ignore[arg-type]
        Notification(event=[], rule="ACC-4", at=at, recipients=(al,)),  # type: ignore[arg-type]
        Notification(event="PasswordResetRequested", rule="ACC-4", at=at,
                     recipients=(al, al), facts=(("key", "k"), ("nonce", "n"))),
        Notification(event="PasswordResetRequested", rule="ACC-4", at=at,
                     recipients=(al,), facts=(("key", 5), ("nonce", "n"))),
    ]
    for notice in odd:
        with pytest.raises(SkilltrocError) as refused:
            app.link_token(notice)
        assert refused.value.code == "invalid_input"
    unknown_key = Notification(event="PasswordResetRequested", rule="ACC-4", at=at,
                               recipients=(al,), facts=(("key", "k"), ("nonce", "n")))
    with pytest.raises(ConfigurationError):  # a key this service does not have
        app.link_token(unknown_key)


# --- argon2id, and hashes of earlier versions --------------------------------------------


def _legacy_scrypt(password: str) -> str:
    salt = bytes(range(16))
    digest = hashlib.scrypt(password.encode(), salt=salt, n=16, r=8, p=1, dklen=32)
    return f"scrypt$16$8$1${_b64(salt)}${_b64(digest)}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.rule("ACC-4")
def test_the_default_hash_is_argon2id_at_owasps_minimum_costs_at_least() -> None:
    hashed = Argon2Hasher(DEFAULT_POLICY).hash(PASSWORD)
    assert hashed.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert Argon2Hasher(DEFAULT_POLICY).verify(PASSWORD, hashed)
    assert not Argon2Hasher(DEFAULT_POLICY).verify(PASSWORD + "!", hashed)
    assert not Argon2Hasher(DEFAULT_POLICY).needs_rehash(hashed)
    assert Argon2Hasher(CHEAP_POLICY).needs_rehash(hashed)  # other costs: replaced
    for broken in ("$argon2id$v=19$m=8,t=1,p=1$garbage", "scrypt$16$8"):
        with pytest.raises(SkilltrocError) as malformed:
            Argon2Hasher(DEFAULT_POLICY).verify(PASSWORD, broken)
        assert (malformed.value.code, malformed.value.rule) == ("store_error", "ACC-4")
        assert broken not in str(malformed.value)
    with pytest.raises(SkilltrocError):
        attrs.evolve(DEFAULT_POLICY, argon2_memory_kib=4)


@pytest.mark.rule("ACC-4")
def test_a_scrypt_hash_verifies_and_is_replaced_at_the_next_sign_in(place: Place) -> None:
    app = _app(place.open())
    member = app.signup(email_of("sam"), provider="google").member_id
    with app.command() as tx:  # what an earlier version stored for a password account
        tx.put(kinds.MEMBERS, member, attrs.evolve(
            tx.member(member), provider=None, password_hash=_legacy_scrypt(PASSWORD)))
    with pytest.raises(SkilltrocError):
        app.sign_in(email_of("sam"), "not the password")
    with app.query() as tx:
        assert tx.member(member).password_hash == _legacy_scrypt(PASSWORD)
    assert app.sign_in(email_of("sam"), PASSWORD) == member
    with app.query() as tx:
        upgraded = tx.member(member).password_hash
    assert upgraded is not None and upgraded.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert app.sign_in(email_of("sam"), PASSWORD) == member
    with app.query() as tx:
        assert tx.member(member).password_hash == upgraded  # not hashed again
    app.store.close()
    if place.kind == "sqlite":
        raw = b"".join(p.read_bytes() for p in place.path.parent.iterdir() if p.is_file())
        assert PASSWORD.encode() not in raw


# --- no account enumeration --------------------------------------------------------------


class CountingHasher:
    """The default hasher, counting its checks and the hashes it checks against."""

    def __init__(self) -> None:
        self.inner = Argon2Hasher(CHEAP_POLICY)
        self.checked: list[str] = []

    def hash(self, password: str) -> str:
        return self.inner.hash(password)

    def verify(self, password: str, hashed: str) -> bool:
        self.checked.append(hashed.rsplit("$", 2)[0])  # the scheme and costs, no salt
        return self.inner.verify(password, hashed)

    def needs_rehash(self, hashed: str) -> bool:
        return self.inner.needs_rehash(hashed)


@pytest.mark.rule("ACC-4")
def test_sign_in_answers_alike_after_the_same_work_whatever_the_address() -> None:
    hasher = CountingHasher()
    app = Skilltroc(MemoryStore(), ManualClock(START), policy=CHEAP_POLICY, hasher=hasher)
    ann = app.signup(email_of("ann"), password=PASSWORD)
    assert ann.confirmation_token is not None
    app.confirm_email(ann.member_id, ann.confirmation_token)
    app.signup(email_of("pat"), provider="google")
    answers = []
    for address in (email_of("ann"), email_of("nobody"), email_of("pat")):
        hasher.checked.clear()
        with pytest.raises(SkilltrocError) as refused:
            app.sign_in(address, "not the password")
        answers.append((refused.value.code, refused.value.rule, refused.value.message,
                        refused.value.facts, tuple(hasher.checked)))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][:3] == ("wrong_password", "ACC-4", "wrong email or password")
    assert len(answers[0][4]) == 1  # one check, at the same costs, every time


@pytest.mark.rule("ACC-4")
def test_a_reset_answers_alike_whatever_the_address_and_tells_only_by_mail(
    place: Place,
) -> None:
    app = _app(place.open())
    ann = app.signup(email_of("ann"), password=PASSWORD)
    assert ann.confirmation_token is not None
    app.confirm_email(ann.member_id, ann.confirmation_token)
    pat = app.signup(email_of("pat2"), provider="google").member_id
    notices(app)
    for name in ("ann", "nobody", "pat2"):
        app.request_password_reset(email_of(name))  # returns nothing, refuses nothing
    told = [(n.event, n.recipients, n.fact("provider"), n.fact("nonce") is not None)
            for n in notices(app)]
    assert told == [("PasswordResetRequested", (ann.member_id,), None, True),
                    ("PasswordResetRequested", (pat,), "google", False)]
    app.store.close()


@pytest.mark.rule("ACC-4")
def test_a_sqlite_file_holds_no_token_even_with_links_in_the_outbox(tmp_path: Path) -> None:
    app = _app(SQLiteStore(tmp_path / "s.db"))
    ann = app.signup(email_of("ann"), password=PASSWORD)
    assert ann.confirmation_token is not None
    reset = reset_link(app, email_of("ann"))
    app.store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    for token in (ann.confirmation_token, reset):
        assert token.encode() not in raw
    with sqlite3.connect(tmp_path / "s.db") as db:
        waiting = [row[0] for row in db.execute("SELECT data FROM outbox")]
    assert len(waiting) == 2 and all('"nonce"' in data for data in waiting)


def test_one_check_for_every_sign_in_is_what_the_hasher_port_promises() -> None:
    """The decoy of unknown addresses is made once, then reused (no hash per attempt)."""
    hasher = CountingHasher()
    app = Skilltroc(MemoryStore(), ManualClock(START), policy=CHEAP_POLICY, hasher=hasher)
    for _ in range(3):
        with pytest.raises(SkilltrocError):
            app.sign_in(email_of("nobody"), PASSWORD)
    assert len(set(hasher.checked)) == 1 and len(hasher.checked) == 3


@pytest.mark.rule("GIFT-1", "STAR-1")
def test_a_gift_retried_after_a_key_rotation_is_the_same_gift(place: Place) -> None:
    app = _app(place.open())
    ann = app.signup(email_of("ann"), provider="google").member_id
    app.buy_stars(ann, 10, "PAY-1")
    gift = app.gift(ann, email_of("bob"), 5, key="gift-1")
    app.store.close()
    rotated = _app(place.open(), OTHER_KEY, previous=(TEST_SECRET_KEY,))
    assert rotated.gift(ann, email_of("bob"), 5, key="gift-1") == gift  # not a second one
    assert rotated.balance(ann).available == 15
    with pytest.raises(SkilltrocError) as conflict:  # another call under the same key
        rotated.gift(ann, email_of("bob"), 6, key="gift-1")
    assert conflict.value.code == "idempotency_conflict"
    fingerprint = hmac.new(OTHER_KEY, email_of("bob").encode(), hashlib.sha256).hexdigest()
    assert fingerprint not in str(conflict.value) and "bob" not in str(conflict.value)
    rotated.store.close()


@pytest.mark.rule("ACC-4")
def test_a_hasher_or_a_store_of_the_former_ports_still_works() -> None:
    """A host's own hasher without needs_rehash signs members in (nothing is rehashed);
    a host's own store without keeps_data counts as keeping its data (a key is needed)."""

    class OldHasher:
        def __init__(self) -> None:
            self.inner = Argon2Hasher(CHEAP_POLICY)

        def hash(self, password: str) -> str:
            return self.inner.hash(password)

        def verify(self, password: str, hashed: str) -> bool:
            return self.inner.verify(password, hashed)

    app = Skilltroc(MemoryStore(), ManualClock(START), policy=CHEAP_POLICY,
                    hasher=OldHasher())  # type: ignore[arg-type]
    ann = app.signup(email_of("ann"), password=PASSWORD)
    assert ann.confirmation_token is not None
    app.confirm_email(ann.member_id, ann.confirmation_token)
    assert app.sign_in(email_of("ann"), PASSWORD) == ann.member_id

    class OldStore:
        def __init__(self) -> None:
            self.inner = MemoryStore()

        def begin(self, *, read_only: bool = False) -> Any:
            return self.inner.begin(read_only=read_only)

    with pytest.raises(ConfigurationError):
        Skilltroc(OldStore(), ManualClock(START))  # type: ignore[arg-type]
