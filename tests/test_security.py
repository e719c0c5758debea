"""Security checks: who may act, what the stores keep of secrets, and what a purge leaves.

- Every command a member performs, called by a member who may not (unknown, unconfirmed,
  deactivated, purged, or active but not the organizer / requester / publisher / owner),
  is refused and changes nothing; the right member succeeds. A new command taking a
  ``member_id`` fails :func:`test_every_member_command_is_classified` until
  ``tests/operations.py`` lists it.
- Passwords exist only as argon2id hashes and tokens only as SHA-256 hashes, on the memory
  store, in the SQLite file (and its WAL) and in every PostgreSQL table (ACC-4).
- Reset tokens work once and expire after the policy lifetime, on every store (ACC-4).
- Emails stay hidden until a request is accepted (BOOK-15).
- A purge leaves no personal data anywhere in any store (ACC-7).
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import NotAllowedError, SkilltrocError, TimeWentBackwardsError
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.service.registry import ANYONE, HOST, REGISTRY
from skilltroc_core.testing import TEST_SECRET_KEY, state_of

from .booking_support import professional
from .fuzz_support import FreeClock, pristine_cast, release_cast
from .members_support import (
    CHEAP_POLICY,
    PASSWORD,
    START,
    World,
    email_of,
    notices,
    reset_link,
)
from .operations import ACTING, NOT_ACTING, NOT_ACTIVE, inactive_member
from .pg_fixtures import dump_tables, pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

# ---------------------------------------------------------------------- authorization
def test_every_member_command_is_classified() -> None:
    taking_member = {
        name for name, method in inspect.getmembers(Skilltroc, inspect.isfunction)
        if not name.startswith("_")
        and "member_id" in list(inspect.signature(method).parameters)[1:2]
    }
    unclassified = sorted(taking_member - set(ACTING) - set(NOT_ACTING))
    assert not unclassified, (f"{unclassified} take a member_id: say in tests/operations.py ACTING "
                              "who may call them, or in NOT_ACTING why no member acts in them")
    assert set(ACTING) | set(NOT_ACTING) <= taking_member, "a listed name takes no member"
    assert not set(ACTING) & set(NOT_ACTING)
    for name in NOT_ACTING:  # and the registry declares no member acting in them
        assert set(REGISTRY[name].actors) <= {ANYONE, HOST}, name


def _refused_unchanged(name: str, actor: str) -> SkilltrocError:
    cast, before = pristine_cast()
    try:
        ACTING[name].call(cast.service, cast, actor)
    except SkilltrocError as refusal:
        changed = before.changes(state_of(cast.world.store))
        if changed:
            release_cast()
        assert not changed, f"{name} by {actor} was refused but changed the store: {changed}"
        return refusal
    release_cast()
    raise AssertionError(f"{name} by {actor} was allowed")


NOT_ACTIVE_CASES = [(name, role) for name, spec in sorted(ACTING.items())
                    for role in sorted(NOT_ACTIVE) if role not in spec.meant_for]


@pytest.mark.rule("ACC-1", "ACC-7")
@pytest.mark.parametrize(("name", "role"), NOT_ACTIVE_CASES)
def test_a_member_who_cannot_act_is_refused_and_nothing_changes(name: str, role: str) -> None:
    cast, _ = pristine_cast()
    refusal = _refused_unchanged(name, inactive_member(cast, role))
    spec = ACTING[name]
    expected = "campaign_not_deletable" if spec.always_refused else spec.codes.get(
        role, NOT_ACTIVE[role])
    assert refusal.code == expected, str(refusal)


STRANGER_CASES = [(name, i) for name, spec in sorted(ACTING.items())
                  for i in range(len(spec.strangers(pristine_cast()[0])))]


@pytest.mark.rule("BOOK-3", "BOOK-14", "BOOK-15", "GIFT-3", "TUTO-1", "AD-1", "AD-5")
@pytest.mark.parametrize(("name", "which"), STRANGER_CASES)
def test_an_active_member_who_is_not_the_party_is_refused(name: str, which: int) -> None:
    cast, _ = pristine_cast()
    stranger = ACTING[name].strangers(cast)[which]
    refusal = _refused_unchanged(name, stranger)
    if name == "reactivate":  # an active account has nothing to reactivate
        assert refusal.code == "state_conflict"
    else:
        assert isinstance(refusal, NotAllowedError), str(refusal)


@pytest.mark.parametrize("name", sorted(ACTING))
def test_the_right_member_may_do_it(name: str) -> None:
    cast, _ = pristine_cast()
    spec = ACTING[name]
    if spec.always_refused:
        _refused_unchanged(name, spec.right(cast))
        return
    release_cast()  # this call changes the world
    spec.call(cast.service, cast, spec.right(cast))
    cast.service.check_invariants(deep=True)


# ---------------------------------------------------------------------- stores
@attrs.define
class Host:
    """A service over one kind of store, and ways to read everything the store holds:
    ``dump`` all of it as it is (the raw bytes of the SQLite file, its WAL and its shared
    memory file); ``settled`` once the test folded the journal in (for what must be gone
    from the tables, not merely superseded)."""

    app: Skilltroc
    clock: ManualClock
    dump: Callable[[], bytes]
    settled: Callable[[], bytes]

    def close(self) -> None:
        self.app.store.close()


def _every_value(value: Any) -> str:
    """``value`` as text with every field of every attrs value in it, those a repr hides
    (secrets, emails) included: what the memory store holds, as a search sees it."""
    if attrs.has(type(value)):
        fields = ", ".join(f"{field.name}={_every_value(getattr(value, field.name))}"
                           for field in attrs.fields(type(value)))
        return f"{type(value).__name__}({fields})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_every_value(k)}: {_every_value(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list | tuple | set | frozenset):
        return "[" + ", ".join(_every_value(item) for item in value) + "]"
    return repr(value)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    clock = ManualClock(START)
    if request.param == "memory":
        memory = MemoryStore()
        app = Skilltroc(memory, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
        everything = lambda: _every_value(state_of(memory)).encode()  # noqa: E731
        yield Host(app, clock, everything, everything)
        return
    if request.param == "sqlite":
        sqlite = SQLiteStore(tmp_path / "s.db")
        app = Skilltroc(sqlite, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)

        def files() -> bytes:
            return b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.is_file())

        def settled() -> bytes:
            sqlite.checkpoint()
            return files()

        yield Host(app, clock, files, settled)
        sqlite.close()
        return
    dsn = request.getfixturevalue("pg_dsn")
    app = Skilltroc(PostgresStore(dsn), clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)

    def tables() -> bytes:
        return "\n".join(row for rows in dump_tables(dsn).values() for row in rows).encode()

    yield Host(app, clock, tables, tables)
    app.store.close()


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.rule("ACC-4", "ACC-5")
def test_passwords_and_tokens_are_stored_only_as_hashes(host: Host) -> None:
    app = host.app
    first, second, third = "Zebra-Quartz-7731", "Marmot-Violet-4410", "Osprey-Cobalt-2268"
    signup = app.signup("zoe@example.org", password=first, display_name="Zoe")
    assert signup.confirmation_token is not None
    app.confirm_email(signup.member_id, signup.confirmation_token)
    app.change_password(signup.member_id, first, second)
    token = reset_link(app, "zoe@example.org")
    app.reset_password("zoe@example.org", token, third)
    assert app.sign_in("zoe@example.org", third) == signup.member_id
    waiting = reset_link(app, "zoe@example.org")  # its notice waits in the outbox
    data = host.dump()
    for password in (first, second, third):
        assert password.encode() not in data
    assert b"$argon2id$" in data  # what is kept is the hash
    # No token is stored, not even in the outbox: its notice holds a nonce that only the
    # host's secret key turns into the token (ACC-4).
    for secret in (signup.confirmation_token, token, waiting):
        assert secret.encode() not in data
    assert _sha256(waiting).encode() in data
    notices(app)
    data = host.settled()
    for secret in (signup.confirmation_token, token, waiting, *(first, second, third)):
        assert secret.encode() not in data


@pytest.mark.rule("ACC-4")
def test_a_reset_token_is_single_use_and_expires_after_the_policy_lifetime(host: Host) -> None:
    app = host.app
    zoe = app.signup("zoe@example.org", provider="google").member_id
    bob = app.signup("bob@example.org", password=PASSWORD)
    assert bob.confirmation_token is not None
    app.confirm_email(bob.member_id, bob.confirmation_token)
    token = reset_link(app, "bob@example.org")
    app.reset_password("bob@example.org", token, "first new password")
    with pytest.raises(SkilltrocError) as used:
        app.reset_password("bob@example.org", token, "second new password")
    assert (used.value.code, used.value.rule) == ("invalid_token", "ACC-4")
    assert app.sign_in("bob@example.org", "first new password") == bob.member_id

    late = reset_link(app, "bob@example.org")
    host.clock.advance(CHEAP_POLICY.reset_token_lifetime - timedelta(microseconds=1))
    early = reset_link(app, "bob@example.org")  # a new one voids ``late``
    with pytest.raises(SkilltrocError) as voided:
        app.reset_password("bob@example.org", late, "third new password")
    assert voided.value.code == "invalid_token"
    host.clock.advance(CHEAP_POLICY.reset_token_lifetime)  # exactly its expiry instant
    with pytest.raises(SkilltrocError) as expired:
        app.reset_password("bob@example.org", early, "third new password")
    assert (expired.value.code, expired.value.rule) == ("deadline_passed", "ACC-4")
    assert app.sign_in("bob@example.org", "first new password") == bob.member_id
    with pytest.raises(SkilltrocError) as foreign:  # a token is only good for its account
        app.reset_password("zoe@example.org", early, "third new password")
    assert foreign.value.code in ("invalid_token", "provider_account")
    assert not app.member(zoe).has_password


@pytest.mark.rule("ACC-4", "STAR-5")
def test_a_clock_set_back_cannot_revive_an_expired_reset_token(host: Host) -> None:
    clock = FreeClock(START)
    app = Skilltroc(host.app.store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    bob = app.signup("bob@example.org", password=PASSWORD)
    assert bob.confirmation_token is not None
    app.confirm_email(bob.member_id, bob.confirmation_token)
    token = reset_link(app, "bob@example.org")
    clock.set(START + CHEAP_POLICY.reset_token_lifetime + timedelta(minutes=5))
    with pytest.raises(SkilltrocError) as expired:
        app.reset_password("bob@example.org", token, "a new password")
    assert (expired.value.code, expired.value.rule) == ("deadline_passed", "ACC-4")
    clock.set(START)  # set back to when the token was fresh: refused, nothing done
    with pytest.raises(TimeWentBackwardsError) as refused:
        app.reset_password("bob@example.org", token, "a new password")
    assert refused.value.rule == "STAR-5"
    tolerance = CHEAP_POLICY.clock_tolerance
    assert tolerance is not None
    clock.set(START + CHEAP_POLICY.reset_token_lifetime + timedelta(minutes=5) - tolerance / 2)
    # within the tolerance: the service's last instant, still past the expiry
    with pytest.raises(SkilltrocError) as late:
        app.reset_password("bob@example.org", token, "a new password")
    assert late.value.code == "deadline_passed"
    assert app.sign_in("bob@example.org", PASSWORD) == bob.member_id  # the password held
    assert app.member(bob.member_id).has_password


@pytest.mark.rule("BOOK-6", "AD-3")
def test_an_instant_whose_zone_changes_its_offset_is_read_once(host: Host) -> None:
    """A tzinfo giving another offset on each call cannot start a session in the past:
    the instant is read once, in UTC, and every check and the stored value use that."""

    class Fickle(tzinfo):
        calls = 0

        def utcoffset(self, dt: datetime | None) -> timedelta:
            Fickle.calls += 1
            return timedelta(hours=-23 if Fickle.calls % 2 else 23)

        def dst(self, dt: datetime | None) -> None:
            return None

        def tzname(self, dt: datetime | None) -> str:
            return "fickle"

    app = host.app
    org = professional(World(service=app, store=MemoryStore(), clock=host.clock), "org")
    ws = app.create_workshop(org, title="Knots", description="Sailing knots",
                             domain="sailing", cost=1, capacity=2)
    start = (START + timedelta(hours=12)).replace(tzinfo=None).replace(tzinfo=Fickle())
    try:
        session = app.plan_session(org, ws, start)
    except SkilltrocError as refusal:
        assert (refusal.code, refusal.rule) == ("invalid_input", "BOOK-6")
    else:
        stored = app.session(session).start
        assert stored.tzinfo is UTC and stored > host.clock.now()


# ---------------------------------------------------------------------- BOOK-15
@pytest.mark.rule("BOOK-15")
def test_emails_are_exchanged_only_once_a_request_is_accepted() -> None:
    cast, _ = pristine_cast()
    release_cast()
    s = cast.service
    notices(s)
    pending = s.request(cast.gus, session_id=cast.planned, seats=1)
    future = s.request(cast.gus, workshop_id=cast.ws, seats=1)
    withdrawn = s.request(cast.eve, session_id=cast.planned, seats=1)
    s.cancel_request(cast.eve, withdrawn)
    for registration, member in ((pending, cast.gus), (future, cast.gus),
                                 (cast.r_refused, cast.dan), (withdrawn, cast.eve),
                                 (cast.r_pending, cast.bob)):
        for who in (member, cast.org):
            with pytest.raises(NotAllowedError) as hidden:
                s.contact_email(who, registration)
            assert hidden.value.rule == "BOOK-15"
    before = notices(s)
    to_organizer = [n for n in before if cast.org in n.recipients]
    assert to_organizer  # the organizer was told of the requests ...
    assert all(email_of("gus") not in repr(n) and email_of("eve") not in repr(n)
               for n in to_organizer)  # ... without the members' emails
    assert all(email_of("org") not in repr(n) for n in before)

    s.accept(cast.org, pending)
    s.accept_future(cast.org, future)
    assert s.contact_email(cast.gus, pending) == email_of("org")
    assert s.contact_email(cast.org, pending) == email_of("gus")
    assert s.contact_email(cast.gus, future) == email_of("org")  # waitlisted counts too
    assert s.contact_email(cast.org, future) == email_of("gus")
    with pytest.raises(NotAllowedError):  # and only the two parties see them
        s.contact_email(cast.ann, pending)


# ---------------------------------------------------------------------- ACC-7
@pytest.mark.rule("ACC-7")
def test_a_purge_leaves_no_personal_data_in_any_store(host: Host) -> None:
    app = host.app
    carol = app.signup("carol.unique@example.org", password="Carol-Secret-Pass",
                       kind="professional", category="craftsperson")
    assert carol.confirmation_token is not None
    me = carol.member_id
    app.confirm_email(me, carol.confirmation_token)
    app.update_profile(me, display_name="Carolina Zed", bio="Bio of Carolina",
                       description="Description of Carolina", photo="carolina-photo.jpg",
                       locality="Zedtown", website="https://carolina-zed.example.org")
    app.buy_stars(me, 40, "PAY-CAROL")
    bob = app.signup("bob@example.org", provider="google").member_id
    app.buy_stars(bob, 30, "PAY-BOB")
    app.follow(bob, me)
    app.follow(me, bob)
    app.gift(bob, "carol.unique@example.org", 5)
    app.post_message(me, "Message from Carolina")
    app.invite(me, "carolinas.friend@example.org")
    workshop = app.create_workshop(me, title="Carolina's Zed bread",
                                   description="Carolina teaches", domain="cooking",
                                   cost=2, capacity=3)
    app.request(bob, workshop_id=workshop, seats=1)
    app.publish_tutorial(me, title="Carolina's tutorial", domain="Cooking",
                         rights_attested=True, upload="uploads/0f3a9c.mp4")
    app.create_campaign(me, budget=10, visual="carolina-ad.png", visual_rights_free=True,
                        text="Carolina's advert", start=host.clock.now(), domains=["cooking"],
                        link="https://carolina-ad.example.org")
    app.request_password_reset("carol.unique@example.org")
    query = app.store.begin(read_only=True)
    stored = query.get(kinds.MEMBERS, me)
    query.rollback()
    stored_hash = stored.password_hash if stored is not None else None
    assert stored_hash is not None
    secrets = ("carol.unique", "Carolina", "Zedtown", "carolina-zed", "carolinas.friend",
               "carolina-ad", "carolina-photo", "0f3a9c", stored_hash)
    data = host.dump()
    assert all(s.encode() in data for s in secrets)  # the search does find them

    app.deactivate(me)
    host.clock.advance(timedelta(days=15))
    assert app.run_due() >= 1
    app.check_invariants(deep=True)
    notices(app)  # the mails were sent
    data = host.settled()
    left = [s for s in secrets if s.encode() in data]
    assert left == []
    assert b"bob@example.org" in data  # the others' data stays


@pytest.mark.rule("ACC-7", "SPONSOR-1", "GIFT-3")
def test_a_purge_leaves_no_undelivered_notice_naming_the_member(host: Host) -> None:
    """Notices others have not received yet forget the purged member: an invitation or a
    message from them is dropped (it is gone too), a gift from them keeps its stars but
    not its sender."""
    app = host.app
    dora = app.signup("dora@example.org", provider="google").member_id
    eve = app.signup("eve@example.org", provider="google").member_id
    app.buy_stars(dora, 5, "PAY-DORA")
    notices(app)
    app.invite(dora, "friend.of.dora@example.org")
    gift = app.gift(dora, "eve@example.org", 5)
    app.follow(eve, dora)
    app.post_message(dora, "a message of Dora's")  # erased with her, and its notice
    app.post_message(eve, "hello")  # a notice that does not name her
    app.deactivate(dora)
    host.clock.advance(timedelta(days=15))
    assert app.run_due() >= 1
    waiting = notices(app)
    assert [n.event for n in waiting] == ["GiftReceived", "AccountPurged"]
    received, purged = waiting
    assert received.recipients == (eve,) and received.facts_map == {
        "gift": gift, "sender": None, "stars": 5}
    assert purged.recipients == (dora,)  # the last notice: the account's id only
    assert not any(dora in repr(n) for n in waiting if n is not purged)
    assert b"friend.of.dora" not in host.settled()
    app.accept_gift(eve, gift)  # the gift stands (ACC-7: gifts it sent stay)
    assert app.balance(eve).available == 15
    app.check_invariants(deep=True)


@pytest.mark.rule("ACC-7")
def test_regression_a_purge_leaves_no_index_entry_keyed_by_the_email_in_memory() -> None:
    cast, _ = pristine_cast()
    release_cast()
    cast.service.deactivate(cast.gus)
    cast.world.clock.advance(timedelta(days=15))
    assert cast.service.run_due() >= 1
    postings = cast.world.store._indexes[("member", "email")]
    assert email_of("gus") not in postings  # was: an empty bucket under the email
    assert email_of("ann") in postings


@pytest.mark.rule("ACC-7", "BOOK-5")
def test_regression_a_purged_organizers_workshops_keep_no_words_of_theirs() -> None:
    cast, _ = pristine_cast()
    release_cast()
    s = cast.service
    s.deactivate(cast.org)
    cast.world.clock.advance(timedelta(days=15))
    assert s.run_due() >= 1
    for workshop in (s.workshop(cast.ws), s.workshop(cast.gone)):
        assert (workshop.title, workshop.description, workshop.locality, workshop.media) == (
            "", "", None, ())
        assert workshop.domain == "cooking"  # a skill domain is nobody's personal data
    s.check_invariants(deep=True)


@pytest.mark.rule("ACC-7")
def test_a_sqlite_purge_leaves_nothing_of_the_member_in_the_files_by_itself(
    tmp_path: Path,
) -> None:
    """The raw bytes of the database, its WAL and its shared-memory file, as the store
    leaves them right after the purge (nobody checkpoints by hand): no value of the
    purged member in them, though the WAL held them all before."""
    clock = ManualClock(START)
    app = Skilltroc(SQLiteStore(tmp_path / "s.db"), clock, policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY)
    signed = app.signup("dora.unique@example.org", password="dora's long passphrase")
    assert signed.confirmation_token is not None
    dora = signed.member_id
    app.confirm_email(dora, signed.confirmation_token)
    app.update_profile(dora, display_name="Dorothea Quill", bio="Bio of Dorothea",
                       locality="Quillville")
    app.post_message(dora, "A message from Dorothea")
    bob = app.signup("bob@example.org", provider="google").member_id
    app.follow(bob, dora)
    query = app.store.begin(read_only=True)
    stored = query.get(kinds.MEMBERS, dora)
    query.rollback()
    assert stored is not None and stored.password_hash is not None
    digest = stored.password_hash.rsplit("$", 1)[1]
    secrets = ("dora.unique", "Dorothea", "Quillville", digest)

    def files() -> bytes:
        return b"".join(p.read_bytes() for p in sorted(tmp_path.iterdir()) if p.is_file())

    assert all(s.encode() in files() for s in secrets)
    app.deactivate(dora)
    clock.advance(timedelta(days=15))
    assert app.run_due() >= 1
    assert [s for s in secrets if s.encode() in files()] == []
    assert b"bob@example.org" in files()  # the others' data stays
    app.store.close()
