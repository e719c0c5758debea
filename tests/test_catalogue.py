"""The catalogue members browse (AD-7, L716), the member search (SOCIAL-1) and the
organizer's roster (BOOK-18, BOOK-22), on every store.

The properties build a random catalogue through the service (workshops in several
spellings of a few domains, sessions planned, booked, cancelled and started, tutorials
viewed, members named, an organizer deactivated) and compare every page of every query,
walked to the end at any page size, with a plain filter-and-sort over the entities the
service shows one by one.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.booking import Mode, SessionState, WorkshopState
from skilltroc_core.errors import InvalidInputError, NotAllowedError, SkilltrocError
from skilltroc_core.listings import (
    MemberCard,
    Page,
    PublicWorkshop,
    SessionCard,
    TutorialCard,
    WorkshopCard,
    folded,
    words,
)
from skilltroc_core.ports import Store
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.read_side import SESSION_CARDS
from skilltroc_core.testing import TEST_SECRET_KEY, state_of

from .members_support import CHEAP_POLICY
from .pg_fixtures import pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

T = TypeVar("T")
T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
DOMAINS = ("Cuisine", "cuisine", "Crème", "Poterie")
LOCALITIES = (None, "Lyon", "lyon", "Évian")
WORDS = ("pain", "Crème", "brûlée", "tour", "argile", "levain", "four")
NAMES = ("Anna", "Annie", "anne", "Élodie", "Bob", "Zoé")


# ---------------------------------------------------------------------- a random catalogue
@attrs.frozen
class WorkshopSpec:
    organizer: int
    domain: str
    mode: str
    locality: str | None
    cost: int
    capacity: int
    title: tuple[str, ...]
    sessions: tuple[tuple[int, str], ...]  # (hours from the start, what becomes of it)


@attrs.frozen
class CatalogueSpec:
    workshops: tuple[WorkshopSpec, ...]
    tutorials: tuple[tuple[int, str, tuple[str, ...], int], ...]  # publisher, domain, title, views
    hidden: bool  # the first organizer is deactivated at the end
    elapsed: int  # hours the clock moves before the pages are read
    posts: int = 0  # messages the organizers post in turn


_WORKSHOP = st.builds(
    WorkshopSpec, organizer=st.integers(0, 2), domain=st.sampled_from(DOMAINS),
    mode=st.sampled_from(["online", "face_to_face"]), locality=st.sampled_from(LOCALITIES),
    cost=st.integers(0, 4), capacity=st.integers(1, 3),
    title=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(tuple),
    sessions=st.lists(st.tuples(st.integers(1, 30), st.sampled_from(
        ["planned", "booked", "full", "cancelled"])), max_size=3).map(tuple))
CATALOGUES = st.builds(
    CatalogueSpec, workshops=st.lists(_WORKSHOP, max_size=7).map(tuple),
    tutorials=st.lists(st.tuples(st.integers(0, 2), st.sampled_from(DOMAINS),
                                 st.lists(st.sampled_from(WORDS), min_size=1, max_size=2
                                          ).map(tuple), st.integers(0, 3)),
                       max_size=4).map(tuple),
    hidden=st.booleans(), elapsed=st.integers(0, 12), posts=st.integers(0, 8))


@attrs.define
class Built:
    """A catalogue built through the service, and what the test made in it."""

    app: Skilltroc
    clock: ManualClock
    organizers: list[str]
    workshops: list[str] = attrs.Factory(list)
    tutorials: list[tuple[str, str]] = attrs.Factory(list)  # (tutorial, publisher)
    members: list[str] = attrs.Factory(list)
    guests: list[str] = attrs.Factory(list)


def build(store: Store, spec: CatalogueSpec) -> Built:
    clock = ManualClock(T0)
    app = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    built = Built(app, clock, [_organizer(app, n) for n in range(3)])
    guests = [app.signup(f"guest{n}@example.org", provider="google").member_id
              for n in range(2)]
    built.guests += guests
    for guest in guests:
        app.buy_stars(guest, 100, f"pay-{guest}")
    for n, ws in enumerate(spec.workshops):
        if n % 2:  # some workshops share their creation instant
            clock.advance(timedelta(minutes=1))
        workshop = app.create_workshop(
            built.organizers[ws.organizer], title=" ".join(ws.title),
            description=f"About {ws.title[-1]}", domain=ws.domain, cost=ws.cost,
            capacity=ws.capacity, duration=timedelta(hours=1), mode=ws.mode,
            locality=(ws.locality or "Lyon") if ws.mode == "face_to_face" else None)
        built.workshops.append(workshop)
        for hours, fate in ws.sessions:
            session = app.plan_session(built.organizers[ws.organizer], workshop,
                                       clock.now() + timedelta(hours=hours))
            if fate == "cancelled":
                app.cancel_session(built.organizers[ws.organizer], session)
            elif fate in ("booked", "full"):
                seats = ws.capacity if fate == "full" else 1
                request = app.request(guests[0], session_id=session, seats=seats)
                app.accept(built.organizers[ws.organizer], request)
    for publisher, domain, title, views in spec.tutorials:
        clock.advance(timedelta(minutes=1))
        tutorial = app.publish_tutorial(
            built.organizers[publisher], title=" ".join(title), domain=domain,
            rights_attested=True, upload=f"uploads/{len(built.tutorials)}.mp4")
        built.tutorials.append((tutorial, built.organizers[publisher]))
        for view in range(views):
            app.record_view(tutorial, f"visitor{view}", f"{tutorial}-{view}")
    for n, name in enumerate(NAMES):
        member = app.signup(f"named{n}@example.org", provider="google",
                            display_name=name).member_id
        built.members.append(member)
    app.signup("unconfirmed@example.org", password="a long secret", display_name="Annabel")
    for guest in guests:  # the guests follow every organizer, who post on their feeds
        for organizer in built.organizers:
            app.follow(guest, organizer)
    for n in range(spec.posts):
        if n % 3:  # some messages share their instant
            clock.advance(timedelta(minutes=1))
        app.post_message(built.organizers[n % 3], f"note {n}")
    app.deactivate(built.members[1])  # Annie: hidden (ACC-7)
    if spec.hidden:
        app.deactivate(built.organizers[0])
    clock.advance(timedelta(hours=spec.elapsed))
    return built


def _organizer(app: Skilltroc, n: int) -> str:
    member = app.signup(f"organizer{n}@example.org", provider="google",
                        kind="professional", category="craftsperson").member_id
    app.update_profile(member, display_name=f"Org {n}", description="Workshops",
                       photo="https://example.org/p.jpg", locality="Lyon")
    return member


# ---------------------------------------------------------------------- naive reads
def shown(app: Skilltroc, member: str) -> bool:
    try:
        app.profile(member)
    except SkilltrocError:
        return False
    return True


def naive_sessions(built: Built) -> list[SessionCard]:
    app, now = built.app, built.clock.now()
    cards = []
    for workshop_id in built.workshops:
        w = app.workshop(workshop_id)
        if w.state is not WorkshopState.ACTIVE or not shown(app, w.organizer):
            continue
        for s in app.sessions_of(w.id):
            if s.state is SessionState.PLANNED and s.start > now:
                cards.append(SessionCard(
                    session_id=s.id, workshop_id=w.id, organizer=w.organizer,
                    title=w.title, domain=w.domain, mode=w.mode, locality=w.locality,
                    start=s.start, end=s.end, cost=w.cost, capacity=s.capacity,
                    seats_left=s.seats_left))
    return sorted(cards, key=lambda c: (c.start, c.session_id))


def naive_workshops(built: Built) -> list[WorkshopCard]:
    app = built.app
    sessions = naive_sessions(built)
    cards = []
    for workshop_id in built.workshops:
        w = app.workshop(workshop_id)
        if w.state is not WorkshopState.ACTIVE or not shown(app, w.organizer):
            continue
        scores = [sum(e.scores) for e in app.workshop_evaluations(w.id)]
        cards.append(WorkshopCard(
            workshop=PublicWorkshop(
                workshop_id=w.id, organizer=w.organizer, title=w.title,
                description=w.description, domain=w.domain, mode=w.mode,
                locality=w.locality, cost=w.cost, capacity=w.capacity,
                duration_minutes=w.duration_minutes, media=w.media, created_at=w.created_at),
            next_session=next((c for c in sessions if c.workshop_id == w.id), None),
            rating=sum(scores) / (4 * len(scores)) if scores else None,
            evaluations=len(scores)))
    return sorted(cards, key=lambda c: (-c.workshop.created_at.timestamp(),
                                        c.workshop.workshop_id))


def naive_tutorials(built: Built, order: str = "newest") -> list[TutorialCard]:
    app = built.app
    cards = []
    for tutorial_id, publisher in built.tutorials:
        if not shown(app, publisher):
            continue
        t = app.tutorial(tutorial_id)
        cards.append(TutorialCard(tutorial_id=t.id, publisher=t.publisher, title=t.title,
                                  domain=t.domain, published_at=t.published_at,
                                  views=t.views))
    if order == "most_viewed":
        return sorted(cards, key=lambda c: (-c.views, c.tutorial_id))
    return sorted(cards, key=lambda c: (-c.published_at.timestamp(), c.tutorial_id))


def walk(read: Callable[..., Page[T]], size: int, cursor: str | None = None) -> list[T]:
    """Every item of a list (after ``cursor``), read ``size`` at a time."""
    items: list[T] = []
    for _ in range(1000):
        page = read(after=cursor, limit=size)
        items += page.items
        if page.next is None:
            return items
        assert len(page.items) == size  # a page with a next is a full page
        cursor = page.next
    raise AssertionError("the cursors never end")


def _matches(domain: str | None, card_domain: str) -> bool:
    return domain is None or folded(card_domain) == folded(domain)


def check_every_query(built: Built, data: st.DataObject) -> None:
    app = built.app
    app.run_due()  # a query applies the deadlines due first: then it writes nothing
    before = state_of(app.store)
    size = data.draw(st.integers(1, 4), label="page size")
    domain = data.draw(st.sampled_from([None, *DOMAINS, "Couture"]), label="domain")
    mode = data.draw(st.sampled_from([None, "online", "face_to_face"]), label="mode")
    locality = data.draw(st.sampled_from(LOCALITIES), label="locality")
    seats = data.draw(st.sampled_from([None, 0, 1, 2]), label="seats")
    cost = data.draw(st.sampled_from([None, 0, 2]), label="cost")
    first = data.draw(st.sampled_from([None, 0, 10]), label="from (hours)")
    until = data.draw(st.sampled_from([None, 20, 40]), label="before (hours)")
    start = None if first is None else T0 + timedelta(hours=first)
    end = None if until is None else T0 + timedelta(hours=until)
    if start is not None and end is not None and end <= start:
        end = None

    expected = [
        c for c in naive_sessions(built)
        if _matches(domain, c.domain) and (mode is None or c.mode is Mode(mode))
        and (locality is None or folded(c.locality or "") == folded(locality))
        and (seats is None or c.seats_left >= seats) and (cost is None or c.cost <= cost)
        and (start is None or c.start >= start) and (end is None or c.start < end)]
    assert walk(lambda **page: app.upcoming_sessions(
        domain=domain, mode=mode, locality=locality, min_seats_left=seats, max_cost=cost,
        starts_from=start, starts_before=end, **page), size) == expected

    organizer = data.draw(st.sampled_from([None, *built.organizers]), label="organizer")
    assert walk(lambda **page: app.workshops(domain=domain, organizer=organizer, **page),
                size) == [c for c in naive_workshops(built) if _matches(domain, c.workshop.domain)
                          and organizer in (None, c.workshop.organizer)]

    order = data.draw(st.sampled_from(["newest", "most_viewed"]), label="order")
    assert walk(lambda **page: app.tutorials(domain=domain, order=order, **page), size) == [
        c for c in naive_tutorials(built, order) if _matches(domain, c.domain)]

    text = " ".join(data.draw(st.lists(st.sampled_from([*WORDS, "CRÈME", "creme", "lyon"]),
                                       min_size=1, max_size=2), label="search"))
    wanted = set(words(text))
    found: list[WorkshopCard | TutorialCard] = [
        c for c in naive_workshops(built)
        if wanted <= set(words(c.workshop.title, c.workshop.description, c.workshop.domain,
                               c.workshop.locality))
        and _matches(domain, c.workshop.domain)
        and (mode is None or c.workshop.mode is Mode(mode))
        and (locality is None or folded(c.workshop.locality or "") == folded(locality))
        and (cost is None or c.workshop.cost <= cost)]
    if mode is None and locality is None and cost is None:
        found += [c for c in naive_tutorials(built)
                  if wanted <= set(words(c.title, c.domain)) and _matches(domain, c.domain)]
    found.sort(key=lambda c: (-(c.workshop.created_at if isinstance(c, WorkshopCard)
                                else c.published_at).timestamp(),
                              c.workshop.workshop_id if isinstance(c, WorkshopCard)
                              else c.tutorial_id))
    assert walk(lambda **page: app.search(text, domain=domain, mode=mode, locality=locality,
                                          max_cost=cost, **page), size) == found

    prefix = data.draw(st.sampled_from(["an", "ANN", "é", "e", "z", "o"]), label="prefix")
    named = [MemberCard(member_id=m, display_name=app.member(m).profile.display_name or "")
             for m in (*built.members, *built.organizers) if shown(app, m)]
    assert walk(lambda **page: app.find_members(prefix, **page), size) == sorted(
        (c for c in named if folded(c.display_name).startswith(folded(prefix))),
        key=lambda c: (folded(c.display_name), c.member_id))
    guest = built.guests[0]
    messages = sorted(
        (m for organizer in built.organizers if shown(app, organizer)
         for m in app.messages(organizer, limit=app.policy.feed_page_size).items),
        key=lambda m: (-m.posted_at.timestamp(), m.id))
    assert walk(partial(app.feed, guest), size) == messages
    for organizer in built.organizers:
        if shown(app, organizer):
            assert walk(partial(app.messages, organizer), size) == [
                m for m in messages if m.author == organizer]
    every_line = app.statement(guest, limit=app.policy.statement_page_limit)
    assert every_line.total == len(every_line.items)
    assert walk(partial(app.statement, guest), size) == list(every_line.items)
    assert state_of(app.store) == before  # queries write nothing


def _property(examples: int) -> settings:
    return settings(max_examples=examples, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))


@pytest.mark.rule("AD-7", "BOOK-1", "BOOK-2", "BOOK-18", "TUTO-1", "SOCIAL-1", "ACC-7")
@_property(40)
@given(spec=CATALOGUES, data=st.data())
def test_every_page_matches_a_plain_filter_and_sort_on_memory(
    spec: CatalogueSpec, data: st.DataObject
) -> None:
    check_every_query(build(MemoryStore(), spec), data)


@pytest.mark.rule("AD-7", "BOOK-1", "BOOK-2", "BOOK-18", "TUTO-1", "SOCIAL-1", "ACC-7")
def test_every_page_matches_a_plain_filter_and_sort_on_sqlite(tmp_path: Path) -> None:
    files = itertools.count()

    @_property(12)
    @given(spec=CATALOGUES, data=st.data())
    def check(spec: CatalogueSpec, data: st.DataObject) -> None:
        store = SQLiteStore(tmp_path / f"s{next(files)}.db")
        try:
            check_every_query(build(store, spec), data)
        finally:
            store.close()

    check()


@pytest.mark.rule("AD-7", "BOOK-1", "BOOK-2", "BOOK-18", "TUTO-1", "SOCIAL-1", "ACC-7")
def test_every_page_matches_a_plain_filter_and_sort_on_postgres(pg_dsn: str) -> None:
    schemas = itertools.count()

    @_property(8)
    @given(spec=CATALOGUES, data=st.data())
    def check(spec: CatalogueSpec, data: st.DataObject) -> None:
        store = PostgresStore(pg_dsn, schema=f"catalogue_{next(schemas)}")
        try:
            check_every_query(build(store, spec), data)
        finally:
            store.close()

    check()


# ---------------------------------------------------------------------- cursors
@pytest.fixture
def built() -> Built:
    spec = CatalogueSpec(
        workshops=tuple(WorkshopSpec(
            organizer=n % 2, domain="Cuisine", mode="online", locality=None, cost=1,
            capacity=2, title=("pain", f"w{n}"), sessions=((10 + n, "planned"),))
            for n in range(8)),
        tutorials=(), hidden=False, elapsed=0)
    return build(MemoryStore(), spec)


@pytest.mark.rule("AD-7", "BOOK-2")
def test_a_cursor_stays_valid_while_sessions_come_and_go(built: Built) -> None:
    """No session present throughout is skipped or shown twice; one added behind the
    cursor is not shown, one added ahead of it is."""
    app = built.app
    first = app.upcoming_sessions(domain="cuisine", limit=3)
    seen = [c.session_id for c in first.items]
    cards = app.upcoming_sessions(limit=20).items
    everything = [c.session_id for c in cards]
    assert seen == everything[:3]
    organizer = first.items[0].organizer
    app.cancel_session(cards[4].organizer, everything[4])  # not seen yet: gone
    early = app.plan_session(organizer, first.items[0].workshop_id, T0 + timedelta(hours=1))
    late = app.plan_session(organizer, first.items[0].workshop_id, T0 + timedelta(days=3))
    rest = walk(lambda **page: app.upcoming_sessions(domain="cuisine", **page), 2,
                first.next)
    assert [c.session_id for c in rest] == [
        s for s in everything[3:] if s != everything[4]] + [late]
    assert early not in [c.session_id for c in rest]


@pytest.mark.rule("AD-7")
def test_a_page_with_more_after_it_says_so_and_the_last_page_does_not(built: Built) -> None:
    app = built.app
    page = app.workshops(limit=8)
    assert len(page.items) == 8 and page.next is None
    page = app.workshops(limit=7)
    assert len(page.items) == 7 and page.next is not None
    last = app.workshops(after=page.next, limit=7)
    assert len(last.items) == 1 and last.next is None
    assert app.workshops().items == app.workshops(limit=20).items  # the policy's page: 20


def _refused(call: Callable[[], object], rule: str | None) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as refusal:
        call()
    assert refusal.value.rule == rule, refusal.value
    return refusal.value


@pytest.mark.rule("AD-7", "SOCIAL-1", "STAR-5", "SOCIAL-3")
def test_bad_cursors_limits_filters_and_instants_are_refused_and_change_nothing(
    built: Built
) -> None:
    app = built.app
    before = state_of(app.store)
    cursor = app.upcoming_sessions(limit=1).next
    assert cursor is not None
    naive = datetime(2027, 3, 2, 9)  # noqa: DTZ001 - a naive instant, to be refused
    calls: list[tuple[Callable[[], object], str | None]] = [
        (lambda: app.upcoming_sessions(after="not a cursor"), "AD-7"),
        (lambda: app.upcoming_sessions(after=cursor[:-3]), "AD-7"),
        (lambda: app.upcoming_sessions(after=cursor, domain="cuisine"), "AD-7"),
        (lambda: app.workshops(after=cursor), "AD-7"),
        (lambda: app.upcoming_sessions(after=7), "AD-7"),  # type: ignore[arg-type]
        (lambda: app.upcoming_sessions(limit=0), "AD-7"),
        (lambda: app.upcoming_sessions(limit=101), "AD-7"),
        (lambda: app.workshops(limit="5"), "AD-7"),  # type: ignore[arg-type]
        (lambda: app.upcoming_sessions(mode="boat"), "AD-7"),
        (lambda: app.upcoming_sessions(min_seats_left=-1), "BOOK-18"),
        (lambda: app.upcoming_sessions(max_cost=1.5), "AD-7"),  # type: ignore[arg-type]
        (lambda: app.upcoming_sessions(domain=""), "AD-7"),
        (lambda: app.upcoming_sessions(starts_from=naive), None),  # no rule: time zones
        (lambda: app.upcoming_sessions(starts_from=T0 + timedelta(days=2),
                                       starts_before=T0 + timedelta(days=1)), "AD-7"),
        (lambda: app.tutorials(order="best"), "AD-7"),
        (lambda: app.search(""), "AD-7"),
        (lambda: app.search("  !? "), "AD-7"),
        (lambda: app.find_members(""), "SOCIAL-1"),
        (lambda: app.find_members("an", after=cursor), "SOCIAL-1"),
        (lambda: app.statement(built.organizers[0], after=cursor), "STAR-5"),
        (lambda: app.statement(built.organizers[0], limit=10_001), "STAR-5"),
        (lambda: app.feed(built.organizers[0], after=cursor), "SOCIAL-3"),
    ]
    for call, rule in calls:
        refusal = _refused(call, rule)
        assert refusal.code in ("invalid_input", "naive_datetime"), refusal
    assert state_of(app.store) == before


# ---------------------------------------------------------------------- the roster
@pytest.mark.rule("BOOK-18", "BOOK-22", "ACC-7")
def test_the_organizer_sees_who_registered_with_their_email_and_who_waits() -> None:
    clock = ManualClock(T0)
    app = Skilltroc(MemoryStore(), clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    org = _organizer(app, 0)
    ann, bob, cat = (app.signup(f"{name}@example.org", provider="google",
                                display_name=name.title()).member_id
                     for name in ("ann", "bob", "cat"))
    for member in (ann, bob, cat):
        app.buy_stars(member, 20, f"pay-{member}")
    workshop = app.create_workshop(org, title="Bread", description="Loaves", domain="cooking",
                                   cost=2, capacity=4)
    session = app.plan_session(org, workshop, T0 + timedelta(days=3))
    registered = app.request(ann, session_id=session, seats=2)
    app.accept(org, registered)
    app.request(bob, session_id=session, seats=1)  # pending: not on the roster
    waiting = app.request(cat, workshop_id=workshop, seats=1)
    app.accept_future(org, waiting)
    before = state_of(app.store)
    roster = app.session_roster(org, session)
    assert [(e.member_id, e.display_name, e.email, e.seats) for e in roster.registered] == [
        (ann, "Ann", "ann@example.org", 2)]
    assert [(e.registration_id, e.display_name, e.seats) for e in roster.waitlist] == [
        (waiting, "Cat", 1)]
    assert app.session(session).seats_left == 2  # 4 seats, 2 registered
    assert state_of(app.store) == before
    with pytest.raises(NotAllowedError) as refusal:
        app.session_roster(ann, session)
    assert refusal.value.rule == "BOOK-18"
    app.deactivate(ann)  # hidden: no name, no email (ACC-7)
    [entry] = app.session_roster(org, session).registered
    assert (entry.member_id, entry.display_name, entry.email) == (ann, "", None)


def _stores(tmp_path: Path) -> Iterator[Store]:
    yield MemoryStore()
    yield SQLiteStore(tmp_path / "s.db")


@pytest.mark.rule("AD-7", "TUTO-1")
def test_a_tutorial_moves_up_the_most_viewed_list_as_it_is_viewed(tmp_path: Path) -> None:
    for store in _stores(tmp_path):
        clock = ManualClock(T0)
        app = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
        org = _organizer(app, 0)
        old, new = (app.publish_tutorial(org, title=title, domain="Cuisine",
                                         rights_attested=True, upload=f"uploads/{title}.mp4")
                    for title in ("old", "new"))
        assert [c.tutorial_id for c in app.tutorials(order="most_viewed").items] == [old, new]
        app.record_view(new, "visitor", "v1")
        assert [(c.tutorial_id, c.views) for c in app.tutorials(order="most_viewed").items
                ] == [(new, 1), (old, 0)]
        app.delete_tutorial(org, new)
        assert [c.tutorial_id for c in app.tutorials(domain="CUISINE").items] == [old]
        assert app.search("new").items == ()
        store.close()



# ---------------------------------------------------------------------- ratings, rebuild
def _rated(store: Store) -> tuple[Skilltroc, str, str]:
    """A workshop with two evaluations and a next session, and a named member."""
    clock = ManualClock(T0)
    app = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    org = _organizer(app, 0)
    workshop = app.create_workshop(org, title="Crème brûlée", description="Custard",
                                   domain="Cuisine", cost=1, capacity=3)
    members = [app.signup(f"m{n}@example.org", provider="google",
                          display_name=f"Anna {n}").member_id for n in range(2)]
    session = app.plan_session(org, workshop, T0 + timedelta(hours=1))
    registrations = []
    for member in members:
        request = app.request(member, session_id=session, seats=1)
        app.accept(org, request)
        registrations.append(request)
    clock.set(app.session(session).end)
    app.confirm_held(org, session)
    for (registration, member), score in zip(zip(registrations, members, strict=True), (8, 6),
                                             strict=True):
        app.confirm_attendance(member, registration)
        app.evaluate(member, registration, satisfaction=score, conformity=score,
                     teaching=score, duration=score, recommend=True)
    app.plan_session(org, workshop, clock.now() + timedelta(days=2))
    app.post_message(members[0], "Baking tonight")
    app.follow(members[1], members[0])
    app.publish_tutorial(org, title="Crème tricks", domain="Cuisine", rights_attested=True,
                         upload="uploads/creme.mp4")
    return app, workshop, members[1]


def _pages(app: Skilltroc, reader: str) -> list[object]:
    return [walk(app.upcoming_sessions, 1), walk(app.workshops, 1),
            walk(app.tutorials, 1), walk(lambda **page: app.search("creme", **page), 1),
            walk(lambda **page: app.find_members("anna", **page), 1),
            walk(lambda **page: app.feed(reader, **page), 1)]


@pytest.mark.rule("BOOK-40", "AD-7")
def test_a_workshop_card_shows_its_rating_and_next_session(tmp_path: Path) -> None:
    for store in _stores(tmp_path):
        app, workshop, _ = _rated(store)
        [card] = app.workshops().items
        assert (card.workshop.workshop_id, card.rating, card.evaluations) == (workshop, 7.0, 2)
        assert card.next_session is not None
        assert card.next_session.seats_left == 3
        assert card.next_session.start == app.now() + timedelta(days=2)
        store.close()


#: What a store written before the catalogue lacks: its ordered postings and the
#: session cards and ratings (SQL, as every store of schema 4 or older).
_BEFORE_THE_CATALOGUE = (
    "DELETE FROM ordered_keys",
    "DELETE FROM entities WHERE kind IN ('session_card', 'workshop_rating')",
)


def _forget_the_catalogue(store: Store) -> None:
    uow = store.begin()
    for statement in _BEFORE_THE_CATALOGUE:
        uow.db.run(statement)  # type: ignore[attr-defined]
    uow.commit()


@pytest.mark.rule("AD-7", "BOOK-40")
def test_rebuilding_the_read_side_of_an_older_store_gives_back_every_page(
    tmp_path: Path, pg_dsn: str
) -> None:
    makers: list[Callable[[], Store]] = [lambda: SQLiteStore(tmp_path / "old.db"),
                                         lambda: PostgresStore(pg_dsn)]
    for make in makers:
        app, _, reader = _rated(make())
        pages = _pages(app, reader)
        assert all(pages)
        _forget_the_catalogue(app.store)
        app.store.close()
        older = Skilltroc(make(), app.clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
        assert not any(_pages(older, reader))
        visited = older.rebuild_read_side(batch=2)
        # a workshop, a tutorial, 3 members, a message; the workshop again (its
        # rating); 2 sessions
        assert visited == 9
        assert _pages(older, reader) == pages
        before = state_of(older.store)
        assert older.rebuild_read_side() == visited  # again: nothing changes
        assert state_of(older.store) == before
        older.check_invariants(deep=True)
        older.store.close()


@pytest.mark.rule("AD-7")
def test_a_rebuild_on_a_store_in_step_changes_nothing_and_refuses_a_bad_batch() -> None:
    app, _, _ = _rated(MemoryStore())
    app.run_due()
    before = state_of(app.store)
    assert app.rebuild_read_side(batch=1) > 0
    assert state_of(app.store) == before
    bad_batches: list[Any] = [0, 10_001, "5"]
    for bad in bad_batches:
        _refused(partial(app.rebuild_read_side, batch=bad), "AD-7")


# ---------------------------------------------------------------------- found in review
def _pro_app(store: Store) -> tuple[Skilltroc, ManualClock, str]:
    clock = ManualClock(T0)
    app = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    return app, clock, _organizer(app, 0)


@pytest.mark.rule("AD-7", "BOOK-1")
def test_a_word_longer_than_an_index_key_is_listed_by_its_start_and_found_whole(
    tmp_path: Path, pg_dsn: str
) -> None:
    """A text without spaces (Chinese, say) is one long word: every store lists it by its
    first 64 characters and a search checks the whole word."""
    paragraph = "".join(chr(0x4E00 + (n * 7919) % 20000) for n in range(1500))
    word = paragraph[:150]
    for store in (MemoryStore(), SQLiteStore(tmp_path / "s.db"), PostgresStore(pg_dsn)):
        app, _, org = _pro_app(store)
        workshop = app.create_workshop(org, title="面包", description=f"{paragraph} {word}",
                                       domain="烹饪" * 40, cost=1, capacity=2)
        [card] = app.search(word).items
        assert isinstance(card, WorkshopCard) and card.workshop.workshop_id == workshop
        assert app.search(word[:64] + "x").items == ()  # the same key, another word
        assert [c.workshop.workshop_id for c in app.workshops(domain="烹饪" * 40).items] == [
            workshop]
        store.close()


class _Reads:
    """Counts the entries the store's ordered indexes hand out."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entries = 0
        original = MemoryStore.begin

        def begin(store: MemoryStore, *, read_only: bool = False) -> Any:
            unit = original(store, read_only=read_only)
            page = unit.page

            def counted(*args: Any, **kwargs: Any) -> Any:
                found = page(*args, **kwargs)
                self.entries += len(found)
                return found

            unit.page = counted  # type: ignore[method-assign]
            return unit

        monkeypatch.setattr(MemoryStore, "begin", begin)


@pytest.mark.rule("AD-7")
def test_a_search_for_several_words_reads_where_their_lists_meet(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    """300 workshops hold "cuisine", one holds "tofu" too: the page reads a handful of
    entries, not the 300 (the lists are joined by leaping, and pages read what they
    need)."""
    app, clock, org = _pro_app(MemoryStore())
    for n in range(300):
        title = "Tofu soyeux" if n == 150 else f"Plat {n}"
        app.create_workshop(org, title=title, description="Cuisine", domain="Cuisine",
                            cost=1, capacity=2)
        clock.advance(timedelta(seconds=1))
    reads = _Reads(monkeypatch)
    [card] = app.search("cuisine tofu", limit=5).items
    assert isinstance(card, WorkshopCard) and card.workshop.title == "Tofu soyeux"
    assert reads.entries <= 10, reads.entries
    reads.entries = 0
    assert app.search("cuisine", mode="online", limit=2).items  # tutorials not walked
    assert reads.entries <= 4, reads.entries
    reads.entries = 0
    assert len(app.workshops(limit=2).items) == 2
    assert reads.entries <= 4, reads.entries  # a page of 2 reads 3 entries, not 64


@pytest.mark.rule("AD-7")
def test_forged_or_long_cursors_are_refused_or_read_alike_on_every_store(
    tmp_path: Path
) -> None:
    """A cursor is short whatever its filters; a position no store could keep (not a
    text, a lone surrogate, too long) is refused, the same on every store."""
    for store in _stores(tmp_path):
        _forged_cursors_on(store)
        store.close()


def _forged_cursors_on(store: Store) -> None:
    app, _, org = _pro_app(store)
    place = "서울특별시 " + "각" * 190
    workshop = app.create_workshop(org, title="도자기", description="물레", domain="Poterie",
                                   cost=1, capacity=2, mode="face_to_face", locality=place)
    for day in (1, 2, 3):
        app.plan_session(org, workshop, T0 + timedelta(days=day))
    first = app.upcoming_sessions(locality=place, limit=1)
    assert first.next is not None and len(first.next) < 200
    assert len(walk(partial(app.upcoming_sessions, locality=place), 1)) == 3
    version, digest, _ = json.loads(base64.urlsafe_b64decode(first.next + "=="))

    def forged(position: object) -> str:  # as a visitor would make one, by hand
        raw = json.dumps([version, digest, position]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    assert app.upcoming_sessions(locality=place, after=forged("")).items
    positions: list[object] = [7, {}, [], "\ud800", "x" * 5000]
    for position in positions:
        _refused(partial(app.upcoming_sessions, locality=place, after=forged(position)),
                 "AD-7")
    _refused(partial(app.find_members, "\u0301"), "SOCIAL-1")  # folds to nothing


@pytest.mark.rule("ACC-7", "AD-7")
def test_a_purge_erases_the_workshop_text_from_its_session_cards(tmp_path: Path) -> None:
    for store in _stores(tmp_path):
        app, clock, org = _pro_app(store)
        workshop = app.create_workshop(
            org, title="Atelier chez Secretname", description="Du pain", domain="Cuisine",
            cost=1, capacity=2, duration=timedelta(days=2), mode="face_to_face",
            locality="12 rue Secrète")
        session = app.plan_session(org, workshop, T0 + timedelta(days=14, hours=12))
        purge_at = app.deactivate(org)
        clock.set(purge_at + timedelta(minutes=1))
        app.run_due()
        assert app.workshop(workshop).title == ""
        uow = store.begin(read_only=True)
        card = uow.get(SESSION_CARDS, session)
        uow.rollback()
        assert card is None or ("Secret" not in card.title and card.locality is None)
        assert "Secr" not in repr(store.contents())  # type: ignore[attr-defined]
        store.close()


@pytest.mark.rule("BOOK-22")
def test_the_waitlist_is_in_the_order_of_the_requests() -> None:
    app, clock, org = _pro_app(MemoryStore())
    workshop = app.create_workshop(org, title="Bread", description="Loaves", domain="cooking",
                                   cost=1, capacity=2)
    members = []
    for name in ("anna", "bob"):
        member = app.signup(f"{name}@example.org", provider="google",
                            display_name=name.title()).member_id
        members.append((member, app.request(member, workshop_id=workshop, seats=1)))
        clock.advance(timedelta(hours=1))
    for _, request in reversed(members):  # bob is accepted first
        app.accept_future(org, request)
    assert [e.display_name for e in app.workshop_waitlist(org, workshop)] == ["Anna", "Bob"]


@pytest.mark.rule("AD-7", "BOOK-2")
def test_a_rebuild_beside_commands_makes_each_card_from_the_session_as_it_is_now(
    pg_dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process cancels a session between the rebuild's scan and its card: the
    card is made from the session as the command reads it (cancelled: none)."""
    from skilltroc_core.adapters import _sql  # noqa: PLC0415
    from skilltroc_core.service import kinds  # noqa: PLC0415

    host, _, org = _pro_app(PostgresStore(pg_dsn))
    other = Skilltroc(PostgresStore(pg_dsn), host.clock, policy=CHEAP_POLICY,
                      secret_key=TEST_SECRET_KEY)
    workshop = host.create_workshop(org, title="Pain", description="levain",
                                    domain="Cuisine", cost=1, capacity=2)
    session = host.plan_session(org, workshop, T0 + timedelta(days=2))
    scan = _sql.SqlIndexes.scan
    fired: list[bool] = []

    def scan_then_cancel(indexes: Any, kind: Any, after: Any, limit: int) -> Any:
        found = scan(indexes, kind, after, limit)
        if kind is kinds.SESSIONS and not fired:
            fired.append(True)
            other.cancel_session(org, session)
        return found

    monkeypatch.setattr(_sql.SqlIndexes, "scan", scan_then_cancel)
    host.rebuild_read_side()
    assert fired
    assert host.session(session).state is SessionState.CANCELLED
    assert host.upcoming_sessions().items == ()
    host.store.close()
    other.store.close()
