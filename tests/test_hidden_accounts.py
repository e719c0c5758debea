"""ACC-7 "hidden means hidden", and the rule fixes that came with it (BOOK-23's join
notice, BOOK-5 at a purge, PROF-1, TUTO-2), on every store: memory, SQLite, PostgreSQL.

A deactivated account cannot act and is hidden: nobody starts anything new with it (no
request or join into its sessions, no contact email given out, no gift or invitation
naming it), while what already exists with it stays untouched for the 15 days. Each
refusal is checked to change nothing, on the store's own rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.postgres import PostgresStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.booking import RegistrationState, WorkshopState
from skilltroc_core.errors import SkilltrocError
from skilltroc_core.events import Notification
from skilltroc_core.gifts import GiftState
from skilltroc_core.ports import Store
from skilltroc_core.service import AgendaItem, Skilltroc
from skilltroc_core.service.booking_steps import DELETED_BY_ORGANIZER, ORGANIZER_PURGED
from skilltroc_core.testing import TEST_SECRET_KEY, changes_nothing, state_of

from .members_support import CHEAP_POLICY, PASSWORD, email_of, notices
from .pg_fixtures import pg_dsn, pg_server

__all__ = ["pg_dsn", "pg_server"]  # the fixtures, imported for pytest to find

T0 = datetime(2027, 3, 1, 9, tzinfo=UTC)
R = RegistrationState


@attrs.frozen
class Host:
    """A service on one store, and its clock."""

    app: Skilltroc
    clock: ManualClock

    def refused(self, call: Callable[[], object], code: str, rule: str) -> SkilltrocError:
        """``call`` is refused with ``code`` and ``rule`` and changes nothing at all (in
        everything the store keeps: its rows, for SQLite and PostgreSQL)."""
        with changes_nothing(self.app.store), pytest.raises(SkilltrocError) as info:
            call()
        assert (info.value.code, info.value.rule) == (code, rule), str(info.value)
        assert str(info.value)  # a sentence a person can read
        return info.value

    def member(self, name: str, stars: int = 10, **kw: Any) -> str:
        member = self.app.signup(email_of(name), provider="google", **kw).member_id
        if stars > 10:
            self.app.buy_stars(member, stars - 10, f"pay-{name}")
        return member


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def host(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Host]:
    clock = ManualClock(T0)
    store: Store
    if request.param == "memory":
        store = MemoryStore()
    elif request.param == "sqlite":
        store = SQLiteStore(tmp_path / "hidden.db")
    else:
        store = PostgresStore(request.getfixturevalue("pg_dsn"))
    app = Skilltroc(store, clock, policy=CHEAP_POLICY, secret_key=TEST_SECRET_KEY)
    yield Host(app, clock)
    app.check_invariants(deep=True)
    store.close()


def _told(app: Skilltroc, event: str | None = None) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(n.event, n.rule, n.recipients) for n in notices(app, event)]


def _workshop(app: Skilltroc, organizer: str, *, cost: int = 3, capacity: int = 4) -> str:
    return app.create_workshop(organizer, title="Sourdough", description="From starter to loaf",
                               domain="cooking", cost=cost, capacity=capacity)


START = T0 + timedelta(days=3)


def _waitlisted(host: Host, stars: int, seats: int, capacity: int = 4
                ) -> tuple[str, str, str, str, str]:
    """org's workshop (3 stars a seat), ann (with ``stars``) waitlisted for ``seats``, and
    a session planned at ``START``: (org, ann, workshop, the entry, the session)."""
    app = host.app
    org, ann = host.member("org"), host.member("ann", stars)
    ws = _workshop(app, org, capacity=capacity)
    waiting = app.request(ann, workshop_id=ws, seats=seats)
    app.accept_future(org, waiting)
    return org, ann, ws, waiting, app.plan_session(org, ws, START)


# --- ACC-7, BOOK-23: no join or request into a hidden organizer's sessions ---------------


@pytest.mark.rule("ACC-7", "BOOK-23")
def test_a_waitlisted_member_cannot_join_a_deactivated_organizers_session(host: Host) -> None:
    app = host.app
    org, ann, _, waiting, session = _waitlisted(host, stars=20, seats=2)
    notices(app)
    app.deactivate(org)

    # join is refused exactly as request is: the organizer is hidden, and the session
    # named refused as if it did not exist (nothing names the organizer)
    joined = host.refused(lambda: app.join(ann, waiting, session), "not_found", "BOOK-2")
    asked = host.refused(lambda: app.request(ann, session_id=session, seats=1),
                         "not_found", "BOOK-2")
    assert str(joined) == str(asked) and email_of("org") not in str(joined)
    assert org not in str(joined) and joined.facts == {"id": session}
    # the entry stays untouched: still waitlisted, stars still held, no seat taken
    assert app.registration(waiting).state is R.WAITLISTED
    assert app.balance(ann) == (14, 6)
    assert app.seats_left(session) == 4
    assert _told(app) == [("AccountDeactivated", "ACC-7", (org,))]

    app.reactivate(org)  # back: the same join goes through, and both are told (BOOK-23)
    app.join(ann, waiting, session)
    assert (app.registration(waiting).state, app.seats_left(session)) == (R.REGISTERED, 2)
    assert app.balance(ann) == (14, 6)
    assert _told(app) == [("SessionJoined", "BOOK-23", (ann, org))]


@pytest.mark.rule("BOOK-23")
def test_joining_from_the_waitlist_tells_the_member_and_the_organizer(host: Host) -> None:
    app = host.app
    org, ann, ws, waiting, session = _waitlisted(host, stars=20, seats=2, capacity=3)
    bob = host.member("bob")
    notices(app)
    app.join(ann, waiting, session)
    told = notices(app)
    assert [(n.event, n.rule, n.recipients) for n in told] == [
        ("SessionJoined", "BOOK-23", (ann, org))]
    assert told[0].facts_map == {"request": waiting, "seats": 2, "session": session,
                                 "stars": 6, "workshop": ws, "start": START.isoformat()}
    assert app.seats_left(session) == 1 and app.balance(ann) == (14, 6)
    # a refused join tells nobody and changes nothing (all seats or none)
    other = app.request(bob, workshop_id=ws, seats=2)
    app.accept_future(org, other)
    notices(app)
    host.refused(lambda: app.join(bob, other, session), "state_conflict", "BOOK-23")
    assert app.balance(bob) == (4, 6) and notices(app) == []


# --- ACC-7, BOOK-15: no contact email of a hidden account ---------------------------------


@pytest.mark.rule("ACC-7", "BOOK-15", "BOOK-18")
def test_no_contact_email_of_a_deactivated_account_is_given_out(host: Host) -> None:
    app = host.app
    org, ann = host.member("org"), host.member("ann")
    ws = _workshop(app, org)
    session = app.plan_session(org, ws, START)
    registration = app.request(ann, session_id=session, seats=1)
    app.accept(org, registration)
    assert app.contact_email(ann, registration) == email_of("org")
    assert app.contact_email(org, registration) == email_of("ann")

    def contacts() -> tuple[list[str | None], list[str | None]]:
        mine = app.participant_agenda(ann).planned
        desk = app.organizer_agenda(org).validated
        return ([i.contact_email for i in mine],
                [i.contact_email for i in desk if isinstance(i, AgendaItem)])

    assert contacts() == ([email_of("org")], [email_of("ann")])
    app.deactivate(org)
    error = host.refused(lambda: app.contact_email(ann, registration), "not_found", "ACC-1")
    assert email_of("org") not in str(error)
    assert contacts() == ([None], [email_of("ann")])  # the hidden one's only
    app.reactivate(org)
    app.deactivate(ann)
    host.refused(lambda: app.contact_email(org, registration), "not_found", "ACC-1")
    assert contacts() == ([email_of("org")], [None])
    app.reactivate(ann)
    assert contacts() == ([email_of("org")], [email_of("ann")])
    assert app.contact_email(org, registration) == email_of("ann")
    assert app.registration(registration).state is R.REGISTERED  # untouched throughout
    assert app.balance(ann) == (7, 3)


# --- ACC-7, GIFT-2..4: a gift to a hidden account's address -------------------------------


def _gift_to_hidden(host: Host) -> tuple[str, str]:
    """bob, with 30 stars, and alice, whose account is deactivated: (bob, alice)."""
    bob, alice = host.member("bob", 30), host.member("alice")
    host.app.deactivate(alice)
    return bob, alice


@pytest.mark.rule("ACC-7", "GIFT-2", "GIFT-3")
def test_a_gift_to_a_deactivated_accounts_address_is_answered_as_for_no_account(
    host: Host,
) -> None:
    app = host.app
    bob, alice = _gift_to_hidden(host)
    notices(app)
    to_nobody = app.gift(bob, email_of("zoe"), 3)  # an address no account uses
    to_hidden = app.gift(bob, email_of("alice"), 4)
    nobody, hidden = app.gift_state(to_nobody), app.gift_state(to_hidden)
    assert (hidden.recipient, hidden.recipient_email, hidden.state) == (
        None, email_of("alice"), GiftState.SENT)
    assert (nobody.recipient, nobody.recipient_email) == (None, email_of("zoe"))
    told = notices(app)
    assert [(n.event, n.rule, n.recipients, n.emails) for n in told] == [
        ("GiftReceived", "GIFT-3", (), (email_of("zoe"),)),
        ("GiftReceived", "GIFT-3", (), (email_of("alice"),)),
    ]
    assert app.balance(bob) == (23, 0) and app.supply().in_gift_escrow == 7
    assert app.gifts_waiting(alice) == []  # it names no account
    # back within the 15 days: the gift is hers to accept, as after a signup (GIFT-3)
    app.reactivate(alice)
    assert app.gifts_waiting(alice) == [to_hidden]
    app.accept_gift(alice, to_hidden)
    assert app.balance(alice) == (14, 0) and app.supply().in_gift_escrow == 3
    assert _told(app) == [("GiftAccepted", "GIFT-3", (bob,))]


@pytest.mark.rule("ACC-7", "GIFT-4")
def test_a_gift_sent_to_a_hidden_address_goes_to_issuance_at_the_purge_address_erased(
    host: Host,
) -> None:
    app = host.app
    bob, _ = _gift_to_hidden(host)
    gift = app.gift(bob, email_of("alice"), 4)
    host.clock.advance(timedelta(days=15))
    assert app.run_due() == 1
    gone = app.gift_state(gift)
    assert (gone.state, gone.recipient, gone.recipient_email) == (GiftState.EXPIRED, None, None)
    supply = app.supply()
    assert supply.in_gift_escrow == 0
    assert supply.returned_by_kind == {"account_purged": 10, "gift_expired": 4}
    assert app.balance(bob) == (26, 0)  # never back to the sender (GIFT-4)
    assert all(email_of("alice") not in n.emails for n in notices(app))  # erased too
    # the address is free again: a new account with it finds no gift waiting
    again = host.member("alice")
    assert app.gifts_waiting(again) == [] and app.balance(again) == (0, 0)  # STAR-1: once


# --- ACC-7, SPONSOR-1: an invitation to a hidden account's address ------------------------


@pytest.mark.rule("ACC-7", "SPONSOR-1")
def test_an_invitation_to_a_deactivated_accounts_address_is_answered_as_for_no_account(
    host: Host,
) -> None:
    app = host.app
    bob, alice = host.member("bob"), host.member("alice")
    book = [email_of("alice"), email_of("zoe")]
    assert app.invitable_contacts(bob, book) == [email_of("zoe")]
    host.refused(lambda: app.invite(bob, email_of("alice")), "already_exists", "SPONSOR-1")
    app.deactivate(alice)
    notices(app)
    assert app.invitable_contacts(bob, book) == book  # as if no account used it
    assert app.import_contacts(bob, book) == []
    app.invite(bob, email_of("zoe"))
    app.invite(bob, email_of("alice"))
    assert [(n.event, n.rule, n.recipients, n.emails, n.facts_map) for n in notices(app)] == [
        ("InvitationSent", "SPONSOR-1", (), (email, ), {"sponsor_id": bob}) for email in
        (email_of("zoe"), email_of("alice"))]
    # the purge erases the invitation with the address
    host.clock.advance(timedelta(days=15))
    assert app.run_due() == 1
    assert email_of("alice") not in repr(state_of(app.store))


# --- ACC-7: a deactivated member cannot act ----------------------------------------------


@pytest.mark.rule("ACC-7", "BOOK-23", "GIFT-1", "SPONSOR-1")
def test_a_deactivated_member_cannot_join_gift_or_invite(host: Host) -> None:
    app = host.app
    _, ann, _, waiting, session = _waitlisted(host, stars=30, seats=1)
    app.deactivate(ann)
    notices(app)
    for call in (lambda: app.join(ann, waiting, session),
                 lambda: app.gift(ann, email_of("org"), 2),
                 lambda: app.gift(ann, email_of("zoe"), 2, key="k1"),
                 lambda: app.invite(ann, email_of("zoe"))):
        host.refused(call, "account_deactivated", "ACC-7")
    assert app.balance(ann) == (27, 3) and app.seats_left(session) == 4
    assert notices(app) == []


# --- ACC-7: what a hidden member showed is hidden with them -------------------------------


@pytest.mark.rule("ACC-7", "PROF-1", "SOCIAL-2", "SOCIAL-3", "TUTO-1")
def test_a_deactivated_members_profile_feed_and_tutorials_are_hidden(host: Host) -> None:
    app = host.app
    ann, bob = host.member("ann"), host.member("bob")
    tutorial = app.publish_tutorial(ann, title="Bread", domain="cooking",
                                    rights_attested=True, upload="uploads/bread.mp4")
    app.post_message(ann, "Baking tonight")
    app.follow(bob, ann)
    app.follow(ann, bob)
    app.deactivate(ann)
    # refused exactly as an unknown id is (its rule, its message): hidden, not named
    for call, rule in ((lambda: app.profile(ann), "ACC-1"),
                       (lambda: app.profile_stats(ann), "ACC-1"),
                       (lambda: app.messages(ann), "ACC-1"),
                       (lambda: app.tutorial(tutorial), "TUTO-1"),
                       (lambda: app.record_view(tutorial, "visitor", "v1"), "TUTO-1"),
                       (lambda: app.follow(bob, ann), "ACC-1")):
        hidden = host.refused(call, "not_found", rule)
        assert hidden.message == f"no {'tutorial' if rule == 'TUTO-1' else 'member'} " + (
            hidden.facts["id"])
    assert (app.followers(bob), app.following(bob), app.feed(bob).items) == ([], [], ())
    assert app.profile(bob).followers == 0
    assert [t.tutorial.id for t in app.my_tutorials(ann)] == [tutorial]  # their own page
    app.reactivate(ann)
    assert app.tutorial(tutorial).is_live and app.followers(bob) == [ann]
    assert [m.text for m in app.feed(bob).items] == ["Baking tonight"]


# --- PROF-1: no profile shown before the email is confirmed -------------------------------


@pytest.mark.rule("PROF-1", "ACC-1")
def test_an_unconfirmed_members_profile_is_shown_to_nobody(host: Host) -> None:
    app = host.app
    bob = host.member("bob")
    signed = app.signup(email_of("ann"), password=PASSWORD, display_name="Ann")
    ann, token = signed.member_id, signed.confirmation_token
    assert token is not None
    for call in (lambda: app.profile(ann), lambda: app.profile_stats(ann),
                 lambda: app.messages(ann), lambda: app.follow(bob, ann)):
        host.refused(call, "not_found", "ACC-1")
    assert app.import_contacts(bob, [email_of("ann")]) == []
    host.refused(lambda: app.update_profile(ann, bio="hello"), "account_not_confirmed",
                 "ACC-1")
    app.confirm_email(ann, token)
    view = app.profile(ann)
    assert (view.member_id, view.profile.display_name) == (ann, "Ann")
    assert [m.member_id for m in app.import_contacts(bob, [email_of("ann")])] == [ann]


# --- TUTO-2: the count belongs to the publisher's video -----------------------------------


@pytest.mark.rule("TUTO-2")
def test_the_same_upload_published_again_continues_its_count_for_its_publisher_only(
    host: Host,
) -> None:
    app = Skilltroc(host.app.store, host.clock, secret_key=TEST_SECRET_KEY,
                    policy=attrs.evolve(CHEAP_POLICY, views_per_tutorial_star=2))
    ann, bob = host.member("ann"), host.member("bob")

    def view(tutorial: str, *viewers: str) -> None:
        for viewer in viewers:
            app.record_view(tutorial, viewer, f"{tutorial}-{viewer}")

    first = app.publish_tutorial(ann, title="Bread", domain="cooking", rights_attested=True,
                                 upload="uploads/bread.mp4")
    view(first, "v1", "v2", "v3")  # 3 views: the 2nd paid one star
    app.delete_tutorial(ann, first)
    again = app.publish_tutorial(ann, title="Bread again", domain="cooking",
                                 rights_attested=True, upload=" uploads/bread.mp4 ")
    view(again, "v4")  # the video's 4th view: the second star, not a first one again
    assert app.balance(ann) == (12, 0)
    [line] = app.my_tutorials(ann)
    assert (line.views, line.video_views, line.video_stars) == (1, 4, 2)
    theirs = app.publish_tutorial(bob, title="Bread", domain="cooking",
                                  rights_attested=True, upload="uploads/bread.mp4")
    view(theirs, "v5")  # another publisher's count starts from zero
    assert [(t.video_views, t.video_stars) for t in app.my_tutorials(bob)] == [(1, 0)]
    assert app.balance(bob) == (10, 0)
    assert [n.fact("views") for n in notices(app, "TutorialThresholdPaid")] == [2, 4]


# --- BOOK-5: a workshop deleted at its organizer's purge ----------------------------------


@pytest.mark.rule("BOOK-5", "ACC-7")
def test_a_workshop_deleted_at_its_organizers_purge_says_so_in_its_notice(host: Host) -> None:
    app = host.app
    org, ann, bob = host.member("org"), host.member("ann", 20), host.member("bob", 20)
    kept, dropped = _workshop(app, org), _workshop(app, org, cost=2)
    session = app.plan_session(org, kept, T0 + timedelta(days=20))
    registered = app.request(ann, session_id=session, seats=2)
    app.accept(org, registered)
    asked = app.request(bob, session_id=session, seats=1)  # due at the start, day 20
    pending = app.request(bob, workshop_id=dropped, seats=1)
    notices(app)

    app.delete_workshop(org, dropped)
    [by_hand] = notices(app)
    assert (by_hand.event, by_hand.rule, by_hand.recipients) == ("WorkshopDeleted", "BOOK-5",
                                                                  (bob,))
    assert by_hand.facts_map == {"workshop": dropped, "title": "Sourdough",
                                 "cause": DELETED_BY_ORGANIZER}
    assert app.registration(pending).state is R.WORKSHOP_DELETED

    app.deactivate(org)
    host.clock.advance(timedelta(days=15))
    assert app.run_due() == 1
    told: list[Notification] = notices(app, "WorkshopDeleted")
    assert [(n.rule, n.recipients, n.facts_map) for n in told] == [
        ("BOOK-5", (ann, bob), {"workshop": kept, "title": "Sourdough",
                                "cause": ORGANIZER_PURGED})]
    assert app.workshop(kept).state is WorkshopState.DELETED
    assert [app.registration(r).state for r in (registered, asked)] == [
        R.WORKSHOP_DELETED, R.WORKSHOP_DELETED]
    assert (app.balance(ann), app.balance(bob)) == ((20, 0), (20, 0))  # refunded
