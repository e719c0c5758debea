"""Every error code, raised at least once through the service.

The codes are the ``code`` of every class in ``skilltroc_core.errors.__all__``. Each has
one trigger in :data:`TRIGGERS`: it sets up a world (the ``Skilltroc`` service over a
memory store, as the other tests build it) and names the call that is refused. A code
that only a store, the host's configuration or a tool can raise is raised by building
the store or the service (a file that is not a database, a schema too new, a short secret
key, a store another writer keeps locked, a corrupted memory store) or by the scenario
loader. A new error class with no trigger fails :func:`test_each_error_code_is_raised`,
unless :data:`NOT_RAISED` says why nothing raises it.

Each refusal is checked the same way: its class's own ``code`` (not a subclass's), the
rule the refusal itself is about (an unknown member is about members, whatever the
command), the facts its message is built from (no email address or password among them),
nothing changed (what the call would have moved, and the whole store when there is one),
and a French message of its own (``message_in("fr")``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core import ManualClock, errors
from skilltroc_core.adapters._sql import SCHEMA_VERSION
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.ledger import MAX_STARS, Balance, Ledger, VoidReason
from skilltroc_core.ports import Store
from skilltroc_core.refusals import REFUSALS, shown
from skilltroc_core.service import Skilltroc, kinds
from skilltroc_core.testing import TEST_SECRET_KEY, changes_nothing
from skilltroc_core.tools.scenarios import load_scenario

from .booking_support import at, member_with, professional, workshop
from .members_support import (
    CHEAP_POLICY,
    PASSWORD,
    START,
    World,
    email_of,
    make_world,
    reset_link,
    signup_confirmed,
    signup_pending,
    signup_provider,
    stored_member,
)

# --------------------------------------------------------------------------- the table


@attrs.frozen
class Fixtures:
    """What every trigger gets: a fresh world and a folder of its own."""

    world: World
    tmp_path: Path
    #: stores a trigger opened besides the world's, closed once the test is over
    opened: list[Store] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class Attempt:
    """A call set up to be refused, and what it must leave as it found."""

    #: the refused call: a command or query of the service, or building a store/service
    call: Callable[[], object]
    #: facts of the refusal by name, as its message uses them
    facts: Mapping[str, object] = attrs.field(factory=dict)
    #: values that facts of the refusal hold, whatever their names (the stores and the
    #: scenario loader have no catalogue entries yet to name them)
    mentions: tuple[object, ...] = ()
    #: what the refused call would have moved (a balance, a state, a file): read before
    #: and after, it must be the same
    watched: Callable[[], object] = lambda: None
    #: the store, unchanged in full (``changes_nothing``) when the call runs on one
    store: Store | None = None


Trigger = Callable[[Fixtures], Attempt]

#: code -> what raises it through the service
TRIGGERS: dict[str, Trigger] = {}
#: code -> the rule its refusal cites (None: a platform requirement no rule numbers)
RULES: dict[str, str | None] = {}

#: Codes nothing raises directly, each with the reason; every other code has a trigger.
NOT_RAISED: Mapping[str, str] = {
    "skilltroc_error": "the root class: every refusal is one of its subclasses, and hosts "
                       "catch it to catch them all; nothing raises SkilltrocError itself",
}


def triggers(code: str, rule: str | None) -> Callable[[Trigger], Trigger]:
    """Register the decorated function as the trigger of ``code``, citing ``rule``."""

    def register(function: Trigger) -> Trigger:
        assert code not in TRIGGERS, f"two triggers for {code}"
        TRIGGERS[code] = function
        RULES[code] = rule
        return function

    return register


def _campaign(world: World, owner: str, **changes: Any) -> Callable[[], str]:
    """Creating a campaign starting now with a rights-free visual, but for ``changes``."""
    arguments: dict[str, Any] = {
        "budget": 10, "visual": "ad.png", "visual_rights_free": True, "text": "Come and see",
        "start": world.clock.now(), "domains": ["cooking"], "link": None,
    }
    arguments.update(changes)
    return lambda: world.service.create_campaign(owner, **arguments)


def _request(world: World) -> tuple[str, str]:
    """A member with 15 stars and her pending request (one seat, 3 stars held)."""
    service = world.service
    org = professional(world, "org")
    session = service.plan_session(org, workshop(service, org, cost=3), at(9))
    ann = member_with(world, "ann", 15)
    return ann, service.request(ann, session_id=session, seats=1)


YOUTUBE = "https://www.youtube.com/watch?v=dQw4w9WgXcQ"


# --- stars and the ledger (STAR, GIFT, REFUND) ------------------------------------------


@triggers("invalid_amount", "STAR-4")
def _more_stars_than_one_movement_carries(f: Fixtures) -> Attempt:
    service = f.world.service
    ann = member_with(f.world, "ann")
    return Attempt(call=lambda: service.buy_stars(ann, MAX_STARS + 1, "PAY-1"),
                   facts={"amount": MAX_STARS + 1, "maximum": MAX_STARS},
                   watched=lambda: service.balance(ann), store=f.world.store)


@triggers("insufficient_stars", "BOOK-11")
def _a_request_for_more_stars_than_available(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    session = service.plan_session(org, workshop(service, org, cost=3, capacity=4), at(9))
    ann = member_with(f.world, "ann", 10)
    return Attempt(call=lambda: service.request(ann, session_id=session, seats=4),
                   facts={"member": ann, "available": 10, "amount": 12},
                   watched=lambda: (service.balance(ann), service.seats_left(session)),
                   store=f.world.store)


@triggers("floor_breach", "GIFT-1")
def _a_gift_below_the_floor(f: Fixtures) -> Attempt:
    service = f.world.service
    ann = member_with(f.world, "ann", 15)
    bob = member_with(f.world, "bob")
    return Attempt(call=lambda: service.gift(ann, email_of("bob"), 6),
                   facts={"member": ann, "available": 15, "amount": 6, "floor": 10,
                          "spendable": 5},
                   watched=lambda: (service.balance(ann), service.gifts_waiting(bob)),
                   store=f.world.store)


@triggers("idempotency_conflict", "STAR-2")
def _a_payment_reference_reported_again_for_another_amount(f: Fixtures) -> Attempt:
    service = f.world.service
    ann = member_with(f.world, "ann")
    service.buy_stars(ann, 20, "PAY-7")
    # the fact naming the key collides with SkilltrocError's own ``key`` (the refusal's
    # key): its name may change, its value is the key as the call gave it
    return Attempt(call=lambda: service.buy_stars(ann, 30, "PAY-7"),
                   mentions=("purchase:PAY-7",),
                   watched=lambda: service.balance(ann), store=f.world.store)


@triggers("unknown_account", "STAR-6")
def _a_purchase_for_a_member_whose_wallet_is_gone(f: Fixtures) -> Attempt:
    """Only a corrupt store lacks a member's wallet: the service opens it at signup."""
    service = f.world.service
    ann = member_with(f.world, "ann")
    del f.world.store.book.balances[ann]
    return Attempt(call=lambda: service.buy_stars(ann, 5, "PAY-1"),
                   facts={"account": ann}, watched=service.supply, store=f.world.store)


@triggers("unknown_hold", "REFUND-5")
def _a_request_cancelled_whose_hold_is_gone(f: Fixtures) -> Attempt:
    """Only a corrupt store lacks the hold of a pending request."""
    service = f.world.service
    ann, registration = _request(f.world)
    del f.world.store.book.holds[registration]
    return Attempt(call=lambda: service.cancel_request(ann, registration),
                   facts={"hold_id": registration},
                   watched=lambda: (service.balance(ann),
                                    service.registration(registration).state),
                   store=f.world.store)


@triggers("hold_already_ended", "REFUND-5")
def _a_request_cancelled_whose_hold_already_ended(f: Fixtures) -> Attempt:
    """Only a corrupt store holds a pending request whose hold ended: here the ledger
    voided it behind the service's back."""
    service = f.world.service
    ann, registration = _request(f.world)
    unit = f.world.store.begin()
    Ledger(unit.book).void(registration, VoidReason.CANCELLED_BY_MEMBER,
                           at=f.world.clock.now())
    unit.commit()
    return Attempt(call=lambda: service.cancel_request(ann, registration),
                   facts={"hold_id": registration, "state": "voided"},
                   watched=lambda: (service.balance(ann),
                                    service.registration(registration).state),
                   store=f.world.store)


@triggers("invariant_violated", "STAR-6")
def _a_wallet_edited_by_hand(f: Fixtures) -> Attempt:
    service = f.world.service
    ann = member_with(f.world, "ann")
    book = f.world.store.book
    was = book.balances[ann]
    book.balances[ann] = Balance(was.available + 3, was.held)
    return Attempt(call=lambda: service.check_invariants(deep=True),
                   facts={"problems": ["accounts sum to 3, not 0",
                                       "supply 13 != issued 10 - returned 0 - ad spend 0",
                                       f"{ann}: balance 13, transfers give 10"]},
                   watched=service.supply, store=f.world.store)


# --- input ------------------------------------------------------------------------------


@triggers("invalid_input", "ACC-4")
def _a_password_too_short(f: Fixtures) -> Attempt:
    store = f.world.store
    return Attempt(call=lambda: f.world.service.signup("ann@example.org", password="abc"),
                   facts={"minimum": CHEAP_POLICY.password_min_length},
                   watched=lambda: len(store._entities.get(kinds.MEMBERS.name, {})), store=store)


@triggers("naive_datetime", None)
def _a_session_planned_at_a_naive_instant(f: Fixtures) -> Attempt:
    """A platform requirement no rule numbers: every instant carries its time zone."""
    service = f.world.service
    org = professional(f.world, "org")
    shop = workshop(service, org)
    naive = datetime(2027, 3, 10, 10)  # noqa: DTZ001
    return Attempt(call=lambda: service.plan_session(org, shop, naive),
                   facts={"field": "start", "got": "2027-03-10T10:00:00 (NoneType)"},
                   watched=lambda: service.sessions_of(shop), store=f.world.store)


@triggers("time_went_backwards", "STAR-5")
def _a_service_whose_clock_is_a_day_behind_the_ledger(f: Fixtures) -> Attempt:
    """A second service (another host process) on the same store, its clock a day behind
    the newest instant the ledger recorded."""
    world = f.world
    ann = member_with(world, "ann")
    behind = Skilltroc(world.store, ManualClock(START - timedelta(days=1)),
                       policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    return Attempt(call=lambda: behind.buy_stars(ann, 5, "PAY-1"),
                   facts={"now": START - timedelta(days=1), "last": START,
                          "tolerance": CHEAP_POLICY.clock_tolerance},
                   watched=lambda: world.service.balance(ann), store=world.store)


@triggers("not_found", "ACC-1")
def _a_purchase_for_an_unknown_member(f: Fixtures) -> Attempt:
    """About members (how they come to exist), not about purchases (STAR-2)."""
    service = f.world.service
    return Attempt(call=lambda: service.buy_stars("mem_999999", 5, "PAY-1"),
                   facts={"id": "mem_999999"}, watched=service.supply,
                   store=f.world.store)


@triggers("already_exists", "TUTO-2")
def _the_same_video_published_twice(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    first = service.publish_tutorial(org, title="Bread", domain="cooking",
                                     rights_attested=True, youtube_url=YOUTUBE)
    return Attempt(call=lambda: service.publish_tutorial(
                       org, title="Bread again", domain="cooking", rights_attested=True,
                       youtube_url=YOUTUBE),
                   facts={"tutorial": first},
                   watched=lambda: service.my_tutorials(org), store=f.world.store)


# --- who may act (ACC, GIFT) ------------------------------------------------------------


@triggers("not_allowed", "GIFT-3")
def _a_gift_accepted_by_someone_else(f: Fixtures) -> Attempt:
    service = f.world.service
    ann = member_with(f.world, "ann", 15)
    bob = member_with(f.world, "bob")
    carl = member_with(f.world, "carl")
    service.gift(ann, email_of("bob"), 2)
    [gift] = service.gifts_waiting(bob)
    return Attempt(call=lambda: service.accept_gift(carl, gift),
                   facts={"gift": gift, "member": carl},
                   watched=lambda: (service.gift_state(gift), service.balance(bob),
                                    service.balance(carl)),
                   store=f.world.store)


@triggers("state_conflict", "BOOK-4")
def _a_second_request_for_the_same_session(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    session = service.plan_session(org, workshop(service, org, cost=3), at(9))
    ann = member_with(f.world, "ann", 15)
    first = service.request(ann, session_id=session, seats=1)
    return Attempt(call=lambda: service.request(ann, session_id=session, seats=1),
                   facts={"member": ann, "registration": first},
                   watched=lambda: service.balance(ann), store=f.world.store)


@triggers("deadline_passed", "ACC-4")
def _a_reset_link_used_after_it_expired(f: Fixtures) -> Attempt:
    world = f.world
    ann = signup_confirmed(world.service, "ann")
    token = reset_link(world.service, email_of("ann"))
    world.advance(CHEAP_POLICY.reset_token_lifetime + timedelta(seconds=1))
    return Attempt(call=lambda: world.service.reset_password(
                       email_of("ann"), token, "another long passphrase"),
                   watched=lambda: stored_member(world.store, ann).password_hash,
                   store=world.store)


@triggers("invalid_email", "ACC-6")
def _a_signup_with_no_email_address(f: Fixtures) -> Attempt:
    store = f.world.store
    return Attempt(call=lambda: f.world.service.signup("ann at example", provider="google"),
                   watched=lambda: len(store._entities.get(kinds.MEMBERS.name, {})), store=store)


@triggers("profile_incomplete", "PROF-6")
def _a_workshop_before_the_profile_is_complete(f: Fixtures) -> Attempt:
    service = f.world.service
    pro = signup_provider(service, "pro", kind="professional", category="craftsperson")
    return Attempt(call=lambda: workshop(service, pro),
                   facts={"member": pro,
                          "missing": ["display_name", "description", "photo", "locality"]},
                   watched=lambda: service.workshops(organizer=pro).items,
                   store=f.world.store)


@triggers("account_not_confirmed", "ACC-1")
def _a_purchase_before_confirming_the_email(f: Fixtures) -> Attempt:
    service = f.world.service
    ann, _ = signup_pending(service, "ann")
    return Attempt(call=lambda: service.buy_stars(ann, 5, "PAY-1"),
                   facts={"member": ann}, watched=service.supply, store=f.world.store)


@triggers("account_deactivated", "ACC-7")
def _a_purchase_by_a_deactivated_member(f: Fixtures) -> Attempt:
    service = f.world.service
    ann = member_with(f.world, "ann")
    service.deactivate(ann)
    return Attempt(call=lambda: service.buy_stars(ann, 5, "PAY-1"),
                   facts={"member": ann},
                   watched=lambda: (service.balance(ann), service.supply()),
                   store=f.world.store)


@triggers("account_purged", "ACC-7")
def _a_purchase_by_a_purged_member(f: Fixtures) -> Attempt:
    world = f.world
    ann = member_with(world, "ann")
    world.service.deactivate(ann)
    world.advance(days=CHEAP_POLICY.account_retention_days + 1)
    world.service.run_due()
    return Attempt(call=lambda: world.service.buy_stars(ann, 5, "PAY-1"),
                   facts={"member_id": ann}, watched=world.service.supply,
                   store=world.store)


@triggers("invalid_token", "ACC-1")
def _a_confirmation_with_a_wrong_token(f: Fixtures) -> Attempt:
    world = f.world
    ann, _ = signup_pending(world.service, "ann")
    return Attempt(call=lambda: world.service.confirm_email(ann, "not-the-token"),
                   watched=lambda: (stored_member(world.store, ann).status,
                                    world.service.supply()),
                   store=world.store)


@triggers("provider_account", "ACC-5")
def _a_password_change_for_a_provider_account(f: Fixtures) -> Attempt:
    world = f.world
    ann = signup_provider(world.service, "ann")
    return Attempt(call=lambda: world.service.change_password(ann, PASSWORD,
                                                              "a new long passphrase"),
                   watched=lambda: stored_member(world.store, ann).password_hash,
                   store=world.store)


@triggers("wrong_password", "ACC-5")
def _a_password_change_giving_a_wrong_current_one(f: Fixtures) -> Attempt:
    world = f.world
    ann = signup_confirmed(world.service, "ann")
    return Attempt(call=lambda: world.service.change_password(
                       ann, "not the password", "a new long passphrase"),
                   watched=lambda: stored_member(world.store, ann).password_hash,
                   store=world.store)


# --- tutorials and ad campaigns (TUTO, AD) ----------------------------------------------


@triggers("invalid_video", "TUTO-1")
def _a_tutorial_whose_link_is_not_youtube(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    return Attempt(call=lambda: service.publish_tutorial(
                       org, title="Bread", domain="cooking", rights_attested=True,
                       youtube_url="https://example.org/bread"),
                   facts={"url": "https://example.org/bread"},
                   watched=lambda: service.my_tutorials(org), store=f.world.store)


@triggers("rights_not_attested", "TUTO-5")
def _a_tutorial_without_the_rights_attested(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    return Attempt(call=lambda: service.publish_tutorial(
                       org, title="Bread", domain="cooking", rights_attested=False,
                       youtube_url=YOUTUBE),
                   watched=lambda: service.my_tutorials(org), store=f.world.store)


@triggers("professionals_only", "AD-1")
def _a_campaign_by_an_individual(f: Fixtures) -> Attempt:
    service = f.world.service
    ann = member_with(f.world, "ann", 20)
    return Attempt(call=_campaign(f.world, ann), facts={"member": ann},
                   watched=lambda: (service.balance(ann), service.my_campaigns(ann)),
                   store=f.world.store)


@triggers("invalid_campaign_budget", "AD-2")
def _a_campaign_below_the_smallest_budget(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    budget = CHEAP_POLICY.min_campaign_stars - 1
    return Attempt(call=_campaign(f.world, org, budget=budget),
                   facts={"got": shown(budget), "minimum": CHEAP_POLICY.min_campaign_stars},
                   watched=lambda: (service.balance(org), service.my_campaigns(org)),
                   store=f.world.store)


@triggers("visual_not_rights_free", "AD-3")
def _a_campaign_whose_visual_is_not_rights_free(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    return Attempt(call=_campaign(f.world, org, visual_rights_free=False),
                   watched=lambda: (service.balance(org), service.my_campaigns(org)),
                   store=f.world.store)


@triggers("invalid_link", "AD-3")
def _a_campaign_linking_to_ftp(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    return Attempt(call=_campaign(f.world, org, link="ftp://example.org/bread"),
                   facts={"link": "ftp://example.org/bread"},
                   watched=lambda: (service.balance(org), service.my_campaigns(org)),
                   store=f.world.store)


@triggers("start_in_past", "AD-3")
def _a_campaign_starting_yesterday(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    now = f.world.clock.now()
    return Attempt(call=_campaign(f.world, org, start=now - timedelta(days=1)),
                   facts={"start": now - timedelta(days=1), "now": now},
                   watched=lambda: (service.balance(org), service.my_campaigns(org)),
                   store=f.world.store)


@triggers("no_target_domain", "AD-3")
def _a_campaign_targeting_no_domain(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    return Attempt(call=_campaign(f.world, org, domains=[]),
                   watched=lambda: (service.balance(org), service.my_campaigns(org)),
                   store=f.world.store)


@triggers("campaign_field_locked", "AD-5")
def _a_budget_changed_after_the_start(f: Fixtures) -> Attempt:
    world = f.world
    service = world.service
    org = professional(world, "org")
    service.buy_stars(org, 20, "PAY-org")
    start = world.clock.now()
    campaign = _campaign(world, org)()
    world.advance(timedelta(minutes=1))
    return Attempt(call=lambda: service.edit_campaign(org, campaign, budget=20),
                   facts={"campaign": campaign, "start": start, "fields": ["budget"]},
                   watched=lambda: (service.balance(org), service.campaign(campaign)),
                   store=world.store)


@triggers("campaign_not_deletable", "AD-6")
def _a_campaign_deleted(f: Fixtures) -> Attempt:
    service = f.world.service
    org = professional(f.world, "org")
    campaign = _campaign(f.world, org)()
    return Attempt(call=lambda: service.delete_campaign(org, campaign),
                   facts={"campaign": campaign},
                   watched=lambda: (service.balance(org), service.my_campaigns(org)),
                   store=f.world.store)


# --- stores, configuration, tools -------------------------------------------------------


@triggers("configuration", "ACC-4")
def _a_service_given_a_short_secret_key(f: Fixtures) -> Attempt:
    world = f.world
    return Attempt(call=lambda: Skilltroc(world.store, world.clock, policy=CHEAP_POLICY,
                                          secret_key=b"short"),
                   facts={"length": 5, "minimum": 32}, store=world.store)


@triggers("store_error", None)
def _a_sqlite_store_on_a_file_that_is_not_a_database(f: Fixtures) -> Attempt:
    path = f.tmp_path / "notes.db"
    path.write_text("not a database at all, " * 200)
    return Attempt(call=lambda: SQLiteStore(path), mentions=(str(path),),
                   watched=path.read_bytes)


@triggers("schema_too_new", None)
def _a_sqlite_store_written_by_a_newer_version(f: Fixtures) -> Attempt:
    path = f.tmp_path / "newer.db"
    SQLiteStore(path).close()
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA user_version=99")
    connection.commit()
    connection.close()
    return Attempt(call=lambda: SQLiteStore(path), mentions=(99, SCHEMA_VERSION),
                   watched=path.read_bytes)


@triggers("concurrency_conflict", None)
def _a_command_on_a_store_another_writer_keeps_locked(f: Fixtures) -> Attempt:
    """Another program holds the SQLite file's write lock for as long as the command
    tries (twice, each time trying twice to start its unit of work)."""
    path = f.tmp_path / "busy.db"
    store = SQLiteStore(path, busy_timeout=0.02, begin_attempts=2)
    f.opened.append(store)
    service = Skilltroc(store, ManualClock(START), policy=CHEAP_POLICY,
                        secret_key=TEST_SECRET_KEY, attempts=2)
    ann = service.signup("ann@example.org", provider="google").member_id
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")

    def buy() -> object:
        try:
            return service.buy_stars(ann, 5, "PAY-1")
        finally:
            other.execute("COMMIT")
            other.close()

    return Attempt(call=buy, mentions=(2,),
                   watched=lambda: service.balance(ann), store=store)


@triggers("scenario_malformed", None)
def _a_scenario_step_naming_no_command(f: Fixtures) -> Attempt:
    path = f.tmp_path / "case.toml"
    path.write_text('start = 2027-03-01T09:00:00+01:00\n\n[[step]]\ndo = "signup"\n'
                    'member = "ann"\n\n[[step]]\ndo = "fly"\nmember = "ann"\n',
                    encoding="utf-8")
    # the fact naming the step's key collides with SkilltrocError's own ``key``
    return Attempt(call=lambda: load_scenario(path), facts={"file": str(path), "step": 2},
                   mentions=("do",), watched=path.read_bytes)


# --------------------------------------------------------------------------- the tests


def _code(name: str) -> str:
    cls = getattr(errors, name)
    assert isinstance(cls, type) and issubclass(cls, SkilltrocError), name
    return cls.code


def _case(name: str) -> object:
    rule = RULES.get(_code(name))
    marks = [pytest.mark.rule(rule)] if rule is not None else []
    return pytest.param(name, marks=marks, id=_code(name))


@pytest.fixture
def fixtures(tmp_path: Path) -> Iterator[Fixtures]:
    built = Fixtures(world=make_world(), tmp_path=tmp_path)
    yield built
    for store in built.opened:
        store.close()


def _mentioned(facts: Mapping[str, object], value: object) -> bool:
    """Whether a fact holds ``value`` (itself, or as text within a text fact)."""
    return any(fact == value or (isinstance(fact, str) and str(value) in fact)
               for fact in facts.values())


@pytest.mark.parametrize("name", [_case(name) for name in errors.__all__])
def test_each_error_code_is_raised(name: str, fixtures: Fixtures) -> None:
    cls = getattr(errors, name)
    code = _code(name)
    if code in NOT_RAISED:
        assert NOT_RAISED[code].strip(), f"{code} is excluded without a reason"
        assert code not in TRIGGERS, f"{code} is excluded but has a trigger"
        assert not [r.key for r in REFUSALS.values() if r.error is cls], (
            f"{code} is excluded as never raised, but refusals raise it")
        return
    trigger = TRIGGERS.get(code)
    assert trigger is not None, (
        f"no trigger raises {code!r} ({name}): add one to TRIGGERS, or say in NOT_RAISED "
        "why nothing raises it")
    attempt = trigger(fixtures)
    watched = attempt.watched()
    unchanged: AbstractContextManager[object] = (
        nullcontext() if attempt.store is None else changes_nothing(attempt.store))
    with unchanged, pytest.raises(SkilltrocError) as raised:
        attempt.call()
    error = raised.value
    # the class's own code, not one of its subclasses'
    assert type(error) is cls, f"{type(error).__name__}, not {name}: {error}"
    assert type(error).code == error.code == code
    assert error.rule == RULES[code], str(error)
    for fact, value in attempt.facts.items():
        assert fact in error.facts, f"{code}: no fact {fact!r} in {error.facts}"
        assert error.facts[fact] == value, f"{code}: {fact} = {error.facts[fact]!r}"
    for value in attempt.mentions:
        assert _mentioned(error.facts, value), f"{code}: no fact holds {value!r}: {error.facts}"
    for fact, value in error.facts.items():  # never an email address nor a password
        assert "@" not in str(value) and PASSWORD not in str(value), (code, fact)
    assert attempt.watched() == watched, f"{code}: the refused call moved something"
    assert error.message
    french = error.message_in("fr")
    assert french.strip(), f"{code}: no French message"
    assert french != error.message, f"{code}: the French message is the English one"


def test_the_table_names_only_error_codes() -> None:
    codes = {_code(name) for name in errors.__all__}
    assert set(TRIGGERS) <= codes, set(TRIGGERS) - codes
    assert set(NOT_RAISED) <= codes, set(NOT_RAISED) - codes
    assert not set(TRIGGERS) & set(NOT_RAISED)
