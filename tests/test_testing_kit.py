"""The testing kit hosts use (``skilltroc_core.testing``): its strategies give inputs the
service accepts, its commands only ever end in a SkilltrocError, its machine passes on
the shipped stores and fails on broken ones, its snapshot catches any change on every
store (and no empty index key), and importing it needs neither hypothesis nor pytest.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import run_state_machine_as_test

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import InvalidInputError, SkilltrocError
from skilltroc_core.events import Notification, notification
from skilltroc_core.ledger import Balance, HoldState, Ledger, MemoryBook, TransferKind
from skilltroc_core.ports import EntityKind, Store, Timer, UnitOfWork
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.testing import (
    TEST_SECRET_KEY,
    Command,
    KnownIds,
    Scope,
    SkilltrocMachine,
    apply,
    changes_nothing,
    commands,
    emails,
    instants,
    member_signups,
    passwords,
    races,
    scoped_state,
    session_starts,
    star_amounts,
    state_of,
    workshops,
)
from skilltroc_core.testing.contract.port import THINGS, Thing
from skilltroc_core.testing.machine import MACHINE_POLICY, STARTING_CAST

from .pg_fixtures import pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

POLICY = MACHINE_POLICY
T0 = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
_PROFILE = settings()  # the loaded profile (dev or ci)


def fresh_service(store: Store | None = None) -> Skilltroc:
    return Skilltroc(store or MemoryStore(), ManualClock(T0), policy=POLICY,
                     secret_key=TEST_SECRET_KEY)


def cast(app: Skilltroc) -> KnownIds:
    """The machine's starting cast, through :func:`apply`: the ids it made."""
    ids = KnownIds()
    for command in STARTING_CAST:
        apply(app, command, ids)
    return ids


# ---------------------------------------------------------------------- the machine
class SQLiteMachine(SkilltrocMachine):
    def create_store(self) -> Store:
        return SQLiteStore(":memory:")


RULES = pytest.mark.rule("STAR-4", "STAR-6", "BOOK-12", "REFUND-5")
TestMachineOnMemory = RULES(SkilltrocMachine.TestCase)
TestMachineOnMemory.settings = settings(
    _PROFILE, max_examples=min(_PROFILE.max_examples, 60))
# SQLite costs about twice as much per step: fewer runs, same length.
TestMachineOnSQLite = RULES(SQLiteMachine.TestCase)
TestMachineOnSQLite.settings = settings(
    _PROFILE, max_examples=max(_PROFILE.max_examples // 10, 5))


@pytest.mark.rule("BOOK-11", "BOOK-14", "BOOK-30", "REFUND-4", "SPONSOR-3", "BOOK-40")
def test_the_machine_follows_a_booking_to_its_evaluation() -> None:
    """Its steps, scripted: a request, accepted, held, attended, evaluated; the model
    and the store agree after each (the organizer earns the seats, the participant's
    sponsor gets the referral reward at their first held session)."""
    machine = SkilltrocMachine()
    machine.starting_cast()
    org, al, bo, _ = machine.ids.members
    script = [Command.of("request", member=1, target=0, seats=2),
              Command.of("answer", registration=-1, how="accept"),
              Command.of("next_deadline"),  # the session's end
              Command.of("confirm_session", session=0),
              Command.of("attendance", registration=-1),
              Command.of("evaluate", registration=-1, scores=(8, 9, 7, 10))]
    methods = []
    for command in script:
        applied = machine.step(command)
        assert applied is not None, command
        methods.append(applied.call.method)
        machine.ledger_is_consistent()
        machine.stars_are_conserved()
        machine.seats_fit_and_deadlines_are_applied()
    assert methods == ["request", "accept", "set_clock", "confirm_held",
                       "confirm_attendance", "evaluate"]
    app = machine.app
    registration = app.registration(machine.ids.registrations[0])
    assert registration.member == bo  # member 1 is the organizer's own: bo was chosen
    assert [app.balance(m) for m in (org, al, bo)] == [(46, 0), (35, 0), (4, 0)]
    assert registration.evaluated
    machine.teardown()


class _DroppingUnitOfWork:
    """A unit of work that silently skips the writes ``drop`` picks."""

    def __init__(self, inner: UnitOfWork, drop: Callable[[str, UnitOfWork, Any], bool]
                 ) -> None:
        self._inner = inner
        self._drop = drop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def put(self, kind: EntityKind[Any], entity_id: str, entity: Any) -> None:
        if not self._drop(kind.name, self._inner, (kind, entity_id)):
            self._inner.put(kind, entity_id, entity)

    def append_notification(self, notice: Notification) -> None:
        if not self._drop("outbox", self._inner, notice):
            self._inner.append_notification(notice)


class LosesRegistrationUpdates(MemoryStore):
    """Broken: a registration, once stored, is never updated (answers are lost)."""

    def begin(self, *, read_only: bool = False) -> Any:
        def drop(kind: str, inner: UnitOfWork, what: Any) -> bool:
            return kind == kinds.REGISTRATIONS.name and inner.get(*what) is not None

        return _DroppingUnitOfWork(super().begin(read_only=read_only), drop)


class LosesNotifications(MemoryStore):
    """Broken: the outbox silently loses what a command appends to it."""

    def begin(self, *, read_only: bool = False) -> Any:
        return _DroppingUnitOfWork(super().begin(read_only=read_only),
                                   lambda kind, *_: kind == "outbox")


@pytest.mark.parametrize(("broken", "symptom"), [
    (LosesRegistrationUpdates, r"req_\d+\.state is 'pending'"),
    (LosesNotifications, r"no \w+ notice"),
])
def test_the_machine_catches_a_broken_store(broken: type[MemoryStore], symptom: str) -> None:
    class BrokenMachine(SkilltrocMachine):
        def create_store(self) -> Store:
            return broken()

    with pytest.raises(AssertionError, match=symptom):  # found, not shrunk: enough here
        run_state_machine_as_test(BrokenMachine, settings=settings(
            max_examples=60, stateful_step_count=30, database=None, derandomize=True,
            deadline=None, suppress_health_check=list(HealthCheck), print_blob=False,
            phases=[Phase.generate]))


def test_the_broken_stores_pass_until_their_fault_matters() -> None:
    """The faults are narrow: a service on either broken store runs the starting cast
    (no registration is updated, no notice is owed yet) with the books balanced, so
    the machine's failure above is about the fault, not a crash at start."""
    for broken in (LosesRegistrationUpdates, LosesNotifications):
        app = fresh_service(broken())
        cast(app)
        app.check_invariants(deep=True)


# ---------------------------------------------------------------------- the strategies
QUICK = settings(_PROFILE, max_examples=min(_PROFILE.max_examples, 40))


@pytest.mark.rule("ACC-1", "ACC-2", "ACC-3", "ACC-6", "STAR-1")
@QUICK
@given(signup=member_signups(policy=POLICY))
def test_a_generated_signup_is_accepted(signup: dict[str, Any]) -> None:
    app = fresh_service()
    result = app.signup(**signup)
    member = app.member(result.member_id)
    assert member.email == signup["email"].lower()
    if "password" in signup:
        assert result.confirmation_token is not None
        app.confirm_email(result.member_id, result.confirmation_token)
        assert app.sign_in(signup["email"], signup["password"]) == result.member_id
    assert app.balance(result.member_id) == (POLICY.signup_bonus, 0)


@pytest.mark.rule("ACC-6")
@QUICK
@given(address=emails())
def test_a_generated_email_is_valid_and_kept_lower_case(address: str) -> None:
    app = fresh_service()
    member_id = app.signup(address, provider="google").member_id
    assert app.member(member_id).email == address.lower()


@pytest.mark.rule("ACC-4")
@QUICK
@given(password=passwords(POLICY))
def test_a_generated_password_is_accepted(password: str) -> None:
    app = fresh_service()
    result = app.signup("ann@example.org", password=password)
    assert result.confirmation_token is not None


@pytest.mark.rule("BOOK-1", "BOOK-6", "BOOK-11", "STAR-2")
@QUICK
@given(fields=workshops(POLICY), data=st.data(), stars=star_amounts(40))
def test_a_generated_workshop_session_and_purchase_are_accepted(
    fields: dict[str, Any], data: st.DataObject, stars: int
) -> None:
    app = fresh_service()
    org = app.signup("org@example.org", provider="google").member_id
    al = app.signup("al@example.org", provider="google").member_id
    workshop_id = app.create_workshop(org, **fields)
    stored = app.workshop(workshop_id)
    assert (stored.cost, stored.capacity, stored.duration) == (
        fields["cost"], fields["capacity"], fields["duration"])
    start = data.draw(session_starts(T0), label="start")
    session_id = app.plan_session(org, workshop_id, start)
    assert app.session(session_id).start == start
    app.buy_stars(al, stars, "pay-1")
    assert app.balance(al) == (POLICY.signup_bonus + stars, 0)
    if app.balance(al).available >= stored.cost:
        app.request(al, session_id=session_id, seats=1)
        assert app.balance(al).held == stored.cost
    app.check_invariants(deep=True)


@QUICK
@given(instant=instants())
def test_generated_instants_are_aware_and_within_bounds(instant: datetime) -> None:
    assert instant.tzinfo is not None and instant.utcoffset() is not None
    assert datetime(2026, 1, 1, tzinfo=UTC) <= instant <= datetime(2030, 12, 31, tzinfo=UTC)
    clock = ManualClock(instant)
    assert clock.advance(timedelta(minutes=1)) == instant + timedelta(minutes=1)


@pytest.mark.rule("STAR-4", "STAR-6")
@settings(_PROFILE, max_examples=min(_PROFILE.max_examples, 40))
@given(batch=st.lists(commands(policy=POLICY), max_size=25))
def test_applying_generated_commands_only_ever_raises_skilltroc_errors(
    batch: list[Command],
) -> None:
    """Any other exception escaping ``apply`` fails this test as it is raised."""
    app = fresh_service()
    ids = cast(app)
    for command in batch:
        try:
            apply(app, command, ids)
        except SkilltrocError as error:
            assert error.code and str(error)
    app.check_invariants(deep=True)


def test_commands_of_an_unknown_area_or_name_are_refused() -> None:
    with pytest.raises(InvalidInputError):
        commands("bookings")
    with pytest.raises(InvalidInputError):
        Command.of("teleport", member=0)


def test_a_clock_command_needs_a_manual_clock() -> None:
    class FixedClock:
        def now(self) -> datetime:
            return T0

    app = Skilltroc(MemoryStore(), FixedClock(), policy=POLICY)
    with pytest.raises(InvalidInputError):
        apply(app, Command.of("advance", minutes=5), KnownIds())
    assert apply(app, Command.of("run_due"), KnownIds()).result == 0


def test_a_command_on_nothing_known_is_refused_as_not_found() -> None:
    app = fresh_service()
    with pytest.raises(SkilltrocError) as refused:
        apply(app, Command.of("answer", registration=0, how="accept"), KnownIds())
    assert refused.value.code == "not_found"


@pytest.mark.rule("REFUND-5")
def test_apply_records_the_ids_it_creates_and_a_replay_adds_none() -> None:
    app = fresh_service()
    ids = cast(app)
    assert (len(ids.members), len(ids.workshops), len(ids.sessions)) == (4, 1, 2)
    first = apply(app, Command.of("request", member=1, target=0, seats=1), ids)
    assert ids.registrations == [first.result]
    assert app.registration(first.result).state == "pending"
    hold = app.statement(first.call.kwargs["member_id"]).items[-1]
    assert (hold.amount, hold.held_change) == (-3, 3)
    campaign = Command.of("create_campaign", member=0, budget=10, minutes=0,
                          domains=("cooking",), key="k1")
    created = apply(app, campaign, ids)
    assert apply(app, campaign, ids).result == created.result
    assert ids.campaigns == [created.result]
    assert app.balance(ids.members[0]) == (30, 0)  # 40, less one budget only
    uow = app.store.begin()
    try:
        hold_record = uow.book.hold(first.result)
    finally:
        uow.rollback()
    assert hold_record is not None and hold_record.state is HoldState.OPEN


# ---------------------------------------------------------------------- the snapshot
def _stores() -> list[Callable[[], Store]]:
    return [MemoryStore, lambda: SQLiteStore(":memory:")]


def _committed(store: Store, write: Callable[[UnitOfWork], object]) -> None:
    uow = store.begin()
    write(uow)
    uow.commit()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def held(request: pytest.FixtureRequest) -> Iterator[Store]:
    """A store holding a wallet, two things posted under one owner key, a notice and a
    timer: something of each kind a change can touch."""
    store: Store
    if request.param == "memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        store = SQLiteStore(":memory:")
    else:
        store = PostgresStore(request.getfixturevalue("pg_dsn"))

    def fill(uow: UnitOfWork) -> None:
        uow.book.set_balance("bob", Balance(10, 0))
        uow.put(THINGS, "a", Thing(id="a", owner="bob"))
        uow.put(THINGS, "b", Thing(id="b", owner="bob"))
        uow.append_notification(notification("GiftReceived", T0, recipients=("bob",),
                                             gift="g1"))
        uow.schedule(Timer(kind="gift_expiry", ref="g1", due=T0))

    _committed(store, fill)
    yield store
    store.close()


def _changed(store: Store, write: Callable[[UnitOfWork], object]) -> list[str]:
    """What ``write``, committed, changes in ``store``, as the snapshot names it."""
    before = state_of(store)
    _committed(store, write)
    return before.changes(state_of(store))


def test_the_snapshot_catches_a_changed_balance(held: Store) -> None:
    changed = _changed(held, lambda uow: uow.book.set_balance("bob", Balance(9, 1)))
    assert changed and all("bob" in line for line in changed), changed


def test_the_snapshot_catches_a_changed_posting_order(held: Store) -> None:
    """``a`` leaves the owner key and comes back: the same entities, ``b`` first now."""

    def repost(uow: UnitOfWork) -> None:
        uow.put(THINGS, "a", Thing(id="a", owner="ann"))
        uow.put(THINGS, "a", Thing(id="a", owner="bob"))

    changed = _changed(held, repost)
    if isinstance(held, MemoryStore):
        assert changed == ["index/contract_thing/owner bob: ('a', 'b') -> ('b', 'a')"]
    else:  # the order is the postings' numbers (SQLite counts them in a table)
        assert changed == [
            "entity_keys contract_thing/owner/bob/a: {'seq': 1} -> {'seq': 4}",
            *(["sequences entity_key: {'value': 2} -> {'value': 4}"]
              if isinstance(held, SQLiteStore) else [])]


def test_the_snapshot_catches_a_new_notice(held: Store) -> None:
    changed = _changed(held, lambda uow: uow.append_notification(
        notification("GiftReceived", T0, recipients=("bob",), gift="g2")))
    assert any(line.startswith("outbox 2: added") for line in changed), changed


def test_the_snapshot_catches_a_new_timer(held: Store) -> None:
    changed = _changed(held, lambda uow: uow.schedule(
        Timer(kind="gift_expiry", ref="g2", due=T0 + timedelta(days=1))))
    assert any(line.startswith("timers gift_expiry:g2: added") for line in changed), changed


def test_the_snapshot_ignores_an_empty_index_key_and_a_rolled_back_unit() -> None:
    """A rolled-back unit of work may leave an index key with no postings in the memory
    store: ``find`` reads it as a missing one, so it is no change."""
    store = MemoryStore()
    before = state_of(store)
    uow = store.begin()
    uow.put(THINGS, "a", Thing(id="a", owner="bob", tag="t"))
    uow.schedule(Timer(kind="gift_expiry", ref="g1", due=T0))
    uow.rollback()
    store._indexes.setdefault((THINGS.name, "owner"), {})["ann"] = {}
    assert state_of(store) == before
    _committed(store, lambda uow: uow.put(THINGS, "b", Thing(id="b", owner="cy")))
    assert [line.split(":")[0] for line in before.changes(state_of(store))] == [
        "entities/contract_thing b", "index/contract_thing/owner cy"]


@pytest.mark.parametrize("make", _stores())
def test_changes_nothing_passes_a_refusal_on_and_names_a_change(
    make: Callable[[], Store],
) -> None:
    store = make()
    app = fresh_service(store)
    bob = app.signup("bob@example.org", provider="google").member_id
    with pytest.raises(SkilltrocError) as refused, changes_nothing(store):
        app.gift(bob, "carol@example.org", 1)  # bob keeps his 10 (GIFT-1)
    assert refused.value.code == "floor_breach"
    with (pytest.raises(AssertionError, match=r"the purchase changed the store: .*PAY-1"),
          changes_nothing(store, what="the purchase")):
        app.buy_stars(bob, 5, "PAY-1")
    store.close()


class _PortOnly:
    """A store that shows nothing but the Store port (as a host's own may)."""

    def __init__(self, inner: MemoryStore) -> None:
        self.inner = inner
        self.keeps_data = False
        self.begin = inner.begin
        self.drain_notifications = inner.drain_notifications
        self.ack = inner.ack
        self.recent_instant = inner.recent_instant
        self.changes = inner.changes
        self.close = inner.close


def test_a_store_without_contents_is_read_through_the_port_in_a_scope() -> None:
    memory = MemoryStore()
    store = _PortOnly(memory)
    app = fresh_service(store)
    bob = app.signup("bob@example.org", provider="google").member_id
    with pytest.raises(TypeError, match="Scope"):
        state_of(store)
    scope = Scope(entities=[(kinds.MEMBERS, bob)], accounts=[bob])
    before = state_of(store, scope)
    assert before == scoped_state(memory, scope)
    app.buy_stars(bob, 5, "PAY-1")
    app.gift(bob, "carol@example.org", 1)
    _committed(store, lambda uow: uow.schedule(Timer(kind="gift_expiry", ref="g", due=T0)))
    changed = [line.split(": ")[0] for line in before.changes(state_of(store, scope))]
    assert changed == ["balances mem_000001", "balances platform:issuance",
                       "balances platform:gift_escrow", "ledger next transfer",
                       "ledger totals issued:purchase", "outbox 1", "timers next due"]


def test_the_snapshot_of_a_ledger_book_is_its_sections() -> None:
    book = MemoryBook()
    ledger = Ledger(book)
    ledger.open_wallet("ann")
    before = state_of(book)
    assert set(before.sections) == {"balances"}
    ledger.issue(TransferKind.PURCHASE, "ann", 5, reference="pay:ann", at=T0)
    assert [line.split(":")[0] for line in before.changes(state_of(book))] == [
        "balances ann", "balances platform", "ledger totals issued", "statement ann/0",
        "transfers 1"]


# ---------------------------------------------------------------------- importing
def test_the_kit_imports_without_hypothesis_or_pytest() -> None:
    """Importing the package, the commands as data and the races loads neither dev
    dependency."""
    code = (
        "import sys\n"
        "import skilltroc_core.testing as kit\n"
        "assert 'hypothesis' not in sys.modules and 'pytest' not in sys.modules\n"
        "assert kit.Command and kit.apply and kit.KnownIds\n"
        "from skilltroc_core.testing import races\n"
        "assert races.RACES\n"
        "assert kit.state_of and kit.changes_nothing and kit.StoreState\n"
        "assert 'hypothesis' not in sys.modules and 'pytest' not in sys.modules\n"
        "print(' '.join(kit.__all__))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    exported = done.stdout.split()
    assert {"StoreContract", "SkilltrocMachine", "commands", "apply", "emails",
            "member_signups", "workshops", "session_starts", "star_amounts",
            "state_of", "changes_nothing"} <= set(exported)


def test_a_race_refuses_a_store_factory_its_workers_could_not_unpickle(
    tmp_path: Path,
) -> None:
    def local_factory() -> Store:
        return SQLiteStore(tmp_path / "race.db")

    with pytest.raises(TypeError, match="store factory must be picklable"):
        races.wallet_race(local_factory)


def test_every_exported_name_resolves() -> None:
    import skilltroc_core.testing as kit  # noqa: PLC0415

    for name in kit.__all__:
        assert getattr(kit, name) is not None
    with pytest.raises(AttributeError):
        kit.nothing_here  # noqa: B018
