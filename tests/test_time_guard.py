"""Time the service can trust, on every store (memory, SQLite, PostgreSQL).

- A clock that goes backwards (an NTP step, a virtual machine restored from a snapshot, a
  wrong setting): the service never records an instant earlier than the last one it used
  (STAR-5, ``Policy.clock_tolerance``). Within the tolerance it uses that last instant;
  beyond it every command is refused with ``time_went_backwards`` and changes nothing. A
  new service on a store starts from the newest instant the star ledger recorded, so a
  restarted process with a clock far behind is refused too; processes whose clocks differ
  by less than the tolerance keep working.
- Instants at the edge of the calendar (year 9999) and ``tzinfo`` objects that give no
  valid offset: refused as ``invalid_input`` with the command's rule, changing nothing,
  whether they come from an argument or from the clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.booking import SessionState
from skilltroc_core.errors import SkilltrocError, TimeWentBackwardsError
from skilltroc_core.ports import RECENT_TRANSFERS, Store
from skilltroc_core.rules import Policy
from skilltroc_core.service import Skilltroc
from skilltroc_core.testing import TEST_SECRET_KEY, changes_nothing

from .booking_support import book, professional, workshop
from .fuzz_support import BROKEN_OFFSETS, BrokenZone, FreeClock, broken
from .members_support import CHEAP_POLICY, START, World, email_of, signup_provider
from .pg_fixtures import pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

_TOLERANCE = CHEAP_POLICY.clock_tolerance
assert _TOLERANCE is not None and timedelta(0) < _TOLERANCE <= timedelta(minutes=5)
TOLERANCE: timedelta = _TOLERANCE


@attrs.define
class Site:
    """One store, and services on it with their own clocks (as host processes have)."""

    kind: str
    open_store: Callable[[], Store]
    opened: list[Store] = attrs.Factory(list)

    def service(self, clock: Any, policy: Policy = CHEAP_POLICY) -> Skilltroc:
        store = self.open_store()
        self.opened.append(store)
        return Skilltroc(store, clock, policy=policy, secret_key=TEST_SECRET_KEY)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    if request.param == "memory":
        memory = MemoryStore()
        found = Site("memory", lambda: memory)
    elif request.param == "sqlite":
        path = tmp_path / "time.db"
        found = Site("sqlite", lambda: SQLiteStore(path))
    else:
        dsn = request.getfixturevalue("pg_dsn")
        found = Site("postgres", lambda: PostgresStore(dsn))
    yield found
    for store in found.opened:
        store.close()


def refused_unchanged(site: Site, call: Callable[[], object], code: str, rule: str | None
                      ) -> SkilltrocError:
    """``call`` raises ``code`` with ``rule`` and the store holds exactly what it held."""
    with changes_nothing(site.opened[0]), pytest.raises(SkilltrocError) as info:
        call()
    assert (info.value.code, info.value.rule) == (code, rule), str(info.value)
    assert info.value.message and str(info.value)
    return info.value


@attrs.define
class Ended:
    """A session that ended, its organizer to answer; one paid registration."""

    app: Skilltroc
    clock: FreeClock
    org: str
    ann: str
    session: str
    registration: str


def ended_session(site: Site) -> Ended:
    clock = FreeClock(START)
    app = site.service(clock)
    world = World(service=app, store=MemoryStore(), clock=clock)  # type: ignore[arg-type]
    org = professional(world, "org")
    ann = signup_provider(app, "ann")
    ws = workshop(app, org, cost=3)
    session = app.plan_session(org, ws, START + timedelta(days=1))
    registration = book(app, org, ann, session)
    clock.set(START + timedelta(days=1, hours=3))  # the session ended an hour ago
    assert app.session(session).state is SessionState.AWAITING_CONFIRMATION
    return Ended(app, clock, org, ann, session, registration)


# ---------------------------------------------------------------------- backwards
@pytest.mark.rule("STAR-5", "BOOK-32")
def test_a_clock_13_days_back_is_refused_and_changes_nothing(site: Site) -> None:
    e = ended_session(site)
    now = e.clock.now()
    e.clock.set(now - timedelta(days=13))
    error = refused_unchanged(site, lambda: e.app.confirm_held(e.org, e.session),
                              "time_went_backwards", "STAR-5")
    assert isinstance(error, TimeWentBackwardsError)
    assert error.facts["last"] == now and error.facts["tolerance"] == TOLERANCE
    assert "13 days" in error.message
    # queries and run_due too: they would apply deadlines at a wrong instant
    refused_unchanged(site, lambda: e.app.balance(e.ann), "time_went_backwards", "STAR-5")
    refused_unchanged(site, e.app.run_due, "time_went_backwards", "STAR-5")
    e.clock.set(now)  # the clock is set right: everything works again
    e.app.confirm_held(e.org, e.session)
    session = e.app.session(e.session)
    assert session.state is SessionState.HELD
    assert session.ended_at == now >= session.end > session.start
    assert e.app.balance(e.org).available == 10 + 3


@pytest.mark.rule("STAR-5")
def test_a_clock_back_by_just_over_the_tolerance_is_refused(site: Site) -> None:
    e = ended_session(site)
    e.clock.set(e.clock.now() - TOLERANCE - timedelta(microseconds=1))
    refused_unchanged(site, lambda: e.app.buy_stars(e.ann, 5, "pay-1"),
                      "time_went_backwards", "STAR-5")


@pytest.mark.rule("STAR-5")
def test_within_the_tolerance_the_last_instant_is_used_and_statements_stay_in_order(
    site: Site,
) -> None:
    e = ended_session(site)
    last = e.clock.now()
    e.app.buy_stars(e.ann, 5, "pay-1")
    e.clock.set(last - TOLERANCE)  # exactly the tolerance back: still accepted
    e.app.buy_stars(e.ann, 7, "pay-2")
    e.app.confirm_held(e.org, e.session)
    assert e.app.now() == last
    lines = e.app.statement(e.ann, limit=100).items
    assert [line.at for line in lines] == sorted(line.at for line in lines)
    assert [(line.at, line.amount) for line in lines[-2:]] == [(last, 7), (last, 0)]
    assert e.app.session(e.session).ended_at == last
    e.clock.set(last + timedelta(seconds=1))  # the clock moves on: its own instant again
    e.app.buy_stars(e.ann, 1, "pay-3")
    assert e.app.statement(e.ann, limit=100).items[-1].at == last + timedelta(seconds=1)
    e.app.check_invariants(deep=True)


@pytest.mark.rule("STAR-5")
def test_a_new_service_starts_from_the_newest_instant_the_ledger_recorded(site: Site) -> None:
    e = ended_session(site)
    e.app.buy_stars(e.ann, 5, "pay-1")
    last = e.clock.now()
    assert e.app.store.recent_instant() == last
    # a process restarted with its clock far behind: refused from its first call
    behind = site.service(FreeClock(last - timedelta(days=13)))
    refused_unchanged(site, lambda: behind.balance(e.ann), "time_went_backwards", "STAR-5")
    refused_unchanged(site, lambda: behind.confirm_held(e.org, e.session),
                      "time_went_backwards", "STAR-5")
    # one a little behind works, at the newest recorded instant
    slightly = site.service(FreeClock(last - TOLERANCE / 2))
    slightly.buy_stars(e.ann, 2, "pay-2")
    assert slightly.statement(e.ann, limit=100).items[-1].at == last


@pytest.mark.rule("STAR-5")
def test_processes_with_clocks_within_the_tolerance_keep_working(site: Site) -> None:
    e = ended_session(site)
    ahead, behind = FreeClock(e.clock.now()), FreeClock(e.clock.now() - TOLERANCE / 2)
    first, second = site.service(ahead), site.service(behind)
    used: dict[str, list[datetime]] = {"first": [], "second": []}
    for step in range(6):
        for name, app, clock in (("first", first, ahead), ("second", second, behind)):
            clock.set(clock.now() + timedelta(seconds=1))
            app.buy_stars(e.ann, 1, f"pay-{name}-{step}")
            used[name].append(app.statement(e.ann, limit=100).items[-1].at)
    for instants in used.values():
        assert instants == sorted(instants)
    # the second process ran behind the first, within the tolerance: nothing was refused
    assert e.app.balance(e.ann).available == 10 - 3 + 12
    e.app.check_invariants(deep=True)


@pytest.mark.rule("STAR-5")
def test_a_service_never_goes_back_even_on_a_fresh_store(site: Site) -> None:
    clock = FreeClock(START)
    app = site.service(clock)
    assert app.now() == START  # an empty ledger: the clock's instant is the start
    clock.set(START - timedelta(seconds=1))
    assert app.now() == START
    clock.set(START - TOLERANCE - timedelta(seconds=1))
    refused_unchanged(site, lambda: app.signup(email_of("zoe"), provider="google"),
                      "time_went_backwards", "STAR-5")


def test_with_no_tolerance_set_the_clock_is_taken_as_it_is(site: Site) -> None:
    clock = FreeClock(START)
    app = site.service(clock, attrs.evolve(CHEAP_POLICY, clock_tolerance=None))
    ann = signup_provider(app, "ann")
    clock.set(START - timedelta(days=13))
    app.buy_stars(ann, 5, "pay-1")
    assert app.statement(ann).items[-1].at == START - timedelta(days=13)


def test_the_store_reads_its_recent_instant_among_the_newest_transfers(site: Site) -> None:
    clock = FreeClock(START)
    app = site.service(clock, attrs.evolve(CHEAP_POLICY, clock_tolerance=None))
    assert app.store.recent_instant() is None
    ann = signup_provider(app, "ann")
    clock.set(START + timedelta(days=2))
    app.buy_stars(ann, 5, "pay-late")  # a later instant under an earlier number...
    clock.set(START + timedelta(days=1))
    for n in range(3):
        app.buy_stars(ann, 1, f"pay-{n}")
    assert app.store.recent_instant() == START + timedelta(days=2)  # ...is still found
    assert RECENT_TRANSFERS >= 64


# ---------------------------------------------------------------------- the edge of time
def far_world(site: Site, start: datetime) -> tuple[Skilltroc, FreeClock, str, str, str]:
    """A professional with a workshop and a member, at ``start`` (days before year 10000)."""
    clock = FreeClock(start)
    policy = attrs.evolve(CHEAP_POLICY, gift_expiry_days=15)
    app = site.service(clock, policy)
    world = World(service=app, store=MemoryStore(), clock=clock)  # type: ignore[arg-type]
    org = professional(world, "org")
    ann = signup_provider(app, "ann")
    app.buy_stars(ann, 20, "pay-ann")
    return app, clock, org, ann, workshop(app, org, cost=2)


@pytest.mark.rule("ACC-4", "ACC-7", "BOOK-16", "BOOK-24", "GIFT-4", "TUTO-4")
def test_deadlines_past_year_9999_are_refused_with_the_commands_rule(site: Site) -> None:
    app, clock, org, ann, ws = far_world(site, datetime(9999, 12, 20, 9, tzinfo=UTC))
    future = app.request(ann, workshop_id=ws, seats=1)  # answer due 12-27: fine
    clock.set(datetime(9999, 12, 21, 9, tzinfo=UTC))
    # 15 days on the waitlist: year 10000
    refused_unchanged(site, lambda: app.accept_future(org, future), "invalid_input", "BOOK-24")
    refused_unchanged(site, lambda: app.gift(ann, email_of("bob"), 2), "invalid_input",
                      "GIFT-4")
    refused_unchanged(site, lambda: app.deactivate(ann), "invalid_input", "ACC-7")
    clock.set(datetime(9999, 12, 25, 9, tzinfo=UTC))
    cid = signup_provider(app, "cid")  # 7 days to answer a future request: year 10000
    refused_unchanged(site, lambda: app.request(cid, workshop_id=ws, seats=1),
                      "invalid_input", "BOOK-16")
    bob = app.signup(email_of("bob"), password="a long passphrase").member_id
    assert bob
    clock.set(datetime(9999, 12, 31, 23, 30, tzinfo=UTC))
    refused_unchanged(site, lambda: app.request_password_reset(email_of("bob")),
                      "invalid_input", "ACC-4")
    # what needs no deadline past the end still works, up to the last microsecond
    tutorial = app.publish_tutorial(org, title="Knots", domain="sailing",
                                    rights_attested=True, upload="uploads/knots.mp4")
    app.record_view(tutorial, ann, "view-1")
    clock.set(datetime.max.replace(tzinfo=UTC))
    app.record_view(tutorial, ann, "view-2")  # within 24 hours of the first: not counted
    assert app.tutorial(tutorial).views == 1
    app.buy_stars(ann, 1, "pay-last")
    assert app.statement(ann, limit=100).items[-1].at == datetime.max.replace(tzinfo=UTC)
    app.check_invariants(deep=True)


@pytest.mark.rule("BOOK-6", "BOOK-8", "AD-3")
@pytest.mark.parametrize("offset", BROKEN_OFFSETS, ids=repr)
def test_an_instant_whose_zone_gives_no_valid_offset_is_refused(site: Site, offset: object
                                                                ) -> None:
    app, _, org, _, ws = far_world(site, START)
    session = app.plan_session(org, ws, START + timedelta(days=2))
    campaign = app.create_campaign(org, budget=10, visual="ad.png", visual_rights_free=True,
                                   text="Come", start=START, domains=["cooking"])
    instant = broken(offset)
    refused_unchanged(site, lambda: app.plan_session(org, ws, instant), "invalid_input",
                      "BOOK-6")
    refused_unchanged(site, lambda: app.move_session(org, session, instant), "invalid_input",
                      "BOOK-8")
    refused_unchanged(site, lambda: app.create_campaign(
        org, budget=10, visual="ad.png", visual_rights_free=True, text="Come", start=instant,
        domains=["cooking"]), "invalid_input", "AD-3")
    refused_unchanged(site, lambda: app.edit_campaign(org, campaign, start=instant),
                      "invalid_input", "AD-3")
    refused_unchanged(site, lambda: app.run_due(instant), "invalid_input", None)


@pytest.mark.rule("BOOK-6", "AD-3")
def test_an_instant_past_year_9999_in_utc_is_refused(site: Site) -> None:
    app, _, org, _, ws = far_world(site, START)
    last = datetime.max.replace(tzinfo=BrokenZone(timedelta(hours=-5)))  # 10000-01-01 UTC
    error = refused_unchanged(site, lambda: app.plan_session(org, ws, last), "invalid_input",
                              "BOOK-6")
    assert "9999" in error.message
    refused_unchanged(site, lambda: app.create_campaign(
        org, budget=10, visual="ad.png", visual_rights_free=True, text="Come", start=last,
        domains=["cooking"]), "invalid_input", "AD-3")


@pytest.mark.parametrize("shown", [
    START.replace(tzinfo=None), "2027-03-01T09:00:00+00:00", None, 1_800_000_000,
    *(broken(offset, START) for offset in BROKEN_OFFSETS),
], ids=repr)
def test_a_clock_giving_no_valid_aware_instant_is_refused_clearly(site: Site, shown: Any
                                                                 ) -> None:
    clock = FreeClock(START)
    app = site.service(clock)
    ann = signup_provider(app, "ann")
    clock.set(shown)
    naive = not isinstance(shown, datetime) or shown.tzinfo is None
    error = refused_unchanged(site, lambda: app.buy_stars(ann, 5, "pay-1"),
                              "naive_datetime" if naive else "invalid_input", None)
    assert "clock time" in error.message
    clock.set(START)
    app.buy_stars(ann, 5, "pay-1")  # a clock set right: works again
