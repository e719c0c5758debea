"""What fuzzing the public commands found, one named example per bug (see test_fuzz.py).

Before the fix each of these let a bare TypeError, ValueError, OverflowError or
UnicodeEncodeError escape (and on SQLite one left the connection inside a transaction).
Now each is refused with a :class:`SkilltrocError` and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.errors import InvalidInputError, SkilltrocError
from skilltroc_core.ledger import MAX_STARS
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.paging import make_cursor
from skilltroc_core.testing import TEST_SECRET_KEY

from .booking_support import refused
from .fuzz_support import Cast, build_cast
from .members_support import CHEAP_POLICY, PASSWORD, START, email_of

LAST_INSTANT = datetime.max.replace(tzinfo=UTC)
#: 0001-01-01 00:00 at +05:00 is before year 1 in UTC: it cannot be converted.
FIRST_AT_PLUS_5 = datetime.min.replace(tzinfo=timezone(timedelta(hours=5)))
LONE_SURROGATE = "\ud800"


@pytest.fixture
def cast() -> Cast:
    return build_cast()


@pytest.fixture
def on_sqlite(tmp_path: Path) -> Iterator[Skilltroc]:
    app = Skilltroc(SQLiteStore(tmp_path / "s.db"), ManualClock(START), policy=CHEAP_POLICY,
                    secret_key=TEST_SECRET_KEY)
    yield app
    store = app.store
    assert isinstance(store, SQLiteStore)
    store.close()


# ---------------------------------------------------------------------- the outbox
def test_ack_of_something_that_is_not_a_list_of_seqs_is_refused(cast: Cast) -> None:
    seqs: Any
    for seqs in (None, 3, "12", [1, "2"], [[1]], [True], [2**70]):
        refused(cast.world, partial(cast.service.ack, seqs), "invalid_input", None)


def test_a_drain_limit_below_one_or_huge_is_refused(cast: Cast) -> None:
    limit: Any
    for limit in (-1, 0, 2**70, 1.5, None, "10"):
        refused(cast.world, partial(cast.service.drain_notifications, limit),
                "invalid_input", None)
    assert len(cast.service.drain_notifications(1)) == 1


def test_on_sqlite_a_failed_ack_leaves_no_transaction_open(on_sqlite: Skilltroc) -> None:
    member = on_sqlite.signup("ann@example.org", provider="google").member_id
    on_sqlite.post_message(member, "hello")  # nobody follows: nothing to notify
    store = on_sqlite.store
    assert isinstance(store, SQLiteStore)
    with pytest.raises(OverflowError):
        store.ack([2**70])  # the store itself binds 64-bit integers only
    on_sqlite.buy_stars(member, 5, "pay-1")  # was: "cannot start a transaction within ..."
    assert on_sqlite.balance(member).available == 15


# ---------------------------------------------------------------------- social
@pytest.mark.rule("SOCIAL-1")
def test_contacts_that_are_not_a_list_of_addresses_are_refused(cast: Cast) -> None:
    emails: Any
    for emails in (None, 7, email_of("ann"), b"ann@example.org"):
        refused(cast.world, partial(cast.service.import_contacts, cast.gus, emails),
                "invalid_input", "SOCIAL-1")
    found = cast.service.import_contacts(cast.gus, (e for e in [email_of("ann")]))
    assert [m.member_id for m in found] == [cast.ann]


@pytest.mark.rule("SOCIAL-1")
def test_unfollowing_something_that_is_not_a_member_id_is_refused(cast: Cast) -> None:
    whom: Any
    for whom in (["x"], None, 3, ""):
        refused(cast.world, partial(cast.service.unfollow, cast.bob, whom),
                "not_found", "ACC-1")
    cast.service.unfollow(cast.bob, cast.org)
    assert cast.service.following(cast.bob) == []


# ---------------------------------------------------------------------- instants
@pytest.mark.rule("AD-3")
def test_an_aware_instant_before_year_one_in_utc_is_refused(cast: Cast) -> None:
    refused(cast.world, lambda: cast.service.run_due(FIRST_AT_PLUS_5), "invalid_input", None)
    refused(cast.world, lambda: cast.service.create_campaign(
        cast.org, budget=10, visual="v.png", visual_rights_free=True, text="t",
        start=FIRST_AT_PLUS_5, domains=["cooking"]), "invalid_input", "AD-3")


@pytest.mark.rule("BOOK-6", "BOOK-8", "BOOK-32")
def test_a_session_whose_end_or_answer_deadline_is_past_year_9999_is_refused(
    cast: Cast,
) -> None:
    service = cast.service
    refused(cast.world, lambda: service.plan_session(cast.org, cast.ws, LAST_INSTANT),
            "invalid_input", "BOOK-6")
    christmas_9999 = datetime(9999, 12, 25, tzinfo=UTC)  # ends, but 7 days later is year 10000
    refused(cast.world, lambda: service.plan_session(cast.org, cast.ws, christmas_9999),
            "invalid_input", "BOOK-6")
    refused(cast.world, lambda: service.move_session(cast.org, cast.planned, LAST_INSTANT),
            "invalid_input", "BOOK-8")
    endless = service.create_workshop(cast.org, title="Endless", description="d",
                                      domain="cooking", cost=1, capacity=1,
                                      duration=timedelta(days=999_999_999))
    refused(cast.world, lambda: service.plan_session(
        cast.org, endless, cast.world.clock.now() + timedelta(days=1)), "invalid_input", "BOOK-6")
    fine = datetime(9999, 12, 1, tzinfo=UTC)
    session = service.plan_session(cast.org, cast.ws, fine)
    assert service.session(session).start == fine
    # the margin is the 7-day window and one day more (the platform zone's offset): the
    # last start is the one whose end is 8 days before the end of year 9999, to the µs
    last = LAST_INSTANT - timedelta(days=8) - service.workshop(cast.ws).duration
    refused(cast.world, lambda: service.plan_session(
        cast.org, cast.ws, last + timedelta(microseconds=1)), "invalid_input", "BOOK-6")
    assert service.session(service.plan_session(cast.org, cast.ws, last)).start == last


# ---------------------------------------------------------------------- passwords, tokens
@pytest.mark.rule("ACC-4")
@pytest.mark.parametrize("odd", [LONE_SURROGATE, "\x00"], ids=["lone_surrogate", "nul"])
def test_a_password_with_a_lone_surrogate_or_nul_is_refused_at_signup_and_change(
    cast: Cast, odd: str,
) -> None:
    weird = "abcdefgh" + odd
    for call, argument in (
        (lambda: cast.service.signup("new@example.org", password=weird), "password"),
        (lambda: cast.service.change_password(cast.bob, PASSWORD, weird), "new_password"),
        (lambda: cast.service.reset_password(email_of("bob"), cast.bob_reset, weird),
         "new_password"),
    ):
        error = refused(cast.world, call, "invalid_input", None)
        assert error.facts == {"argument": argument}
        assert "valid Unicode text without NUL characters" in str(error)


@pytest.mark.rule("ACC-1", "ACC-4", "ACC-5")
@pytest.mark.parametrize("odd", [LONE_SURROGATE, "\x00"], ids=["lone_surrogate", "nul"])
def test_a_candidate_password_or_token_with_a_lone_surrogate_or_nul_is_refused_as_input(
    cast: Cast, odd: str,
) -> None:
    """Refused as text before any account is looked at: it tells nothing of the account."""
    weird = "abcdefgh" + odd
    for call in (
        lambda: cast.service.sign_in(email_of("bob"), weird),
        lambda: cast.service.change_password(cast.bob, weird, "abcdefghij"),
        lambda: cast.service.confirm_email(cast.pam, odd),
        lambda: cast.service.reset_password(email_of("bob"), odd, "abcdefghij"),
        lambda: cast.service.sign_in(email_of("nobody"), weird),
    ):
        refused(cast.world, call, "invalid_input", None)


# ---------------------------------------------------------------------- SQL limits
@pytest.mark.rule("STAR-2", "STAR-4")
@pytest.mark.parametrize("stars", [MAX_STARS + 1, 2**63, 10**30])
def test_a_purchase_too_large_for_a_64_bit_store_is_refused(
    on_sqlite: Skilltroc, stars: int
) -> None:
    member = on_sqlite.signup("ann@example.org", provider="google").member_id
    with pytest.raises(SkilltrocError) as refusal:
        on_sqlite.buy_stars(member, stars, "pay-big")
    assert (refusal.value.code, refusal.value.rule) == ("invalid_amount", "STAR-4")
    on_sqlite.buy_stars(member, MAX_STARS, "pay-max")
    assert on_sqlite.balance(member).available == MAX_STARS + 10
    on_sqlite.check_invariants(deep=True)


@pytest.mark.rule("STAR-5")
def test_a_statement_page_far_past_the_end_is_empty_on_sqlite(on_sqlite: Skilltroc) -> None:
    member = on_sqlite.signup("ann@example.org", provider="google").member_id
    far = make_cursor("statement", [member], 2**70)  # a cursor forged far past the end
    page = on_sqlite.statement(member, after=far, limit=10)
    assert (page.items, page.total, page.next) == ((), 1, None)
    with pytest.raises(InvalidInputError) as refused:
        on_sqlite.statement(member, limit=2**70)
    assert refused.value.rule == "STAR-5"
    assert len(on_sqlite.statement(member, limit=10).items) == 1


@pytest.mark.parametrize("call", [
    lambda app, m: app.balance(LONE_SURROGATE),
    lambda app, m: app.serve("cooking" + LONE_SURROGATE, "page-1"),
    lambda app, m: app.serve("cooking", "page" + LONE_SURROGATE),
    lambda app, m: app.buy_stars(m, 5, "pay" + LONE_SURROGATE),
    lambda app, m: app.record_view("tuto_000001", "visitor", "view" + LONE_SURROGATE),
], ids=["member_id", "domain", "page_view_id", "payment_reference", "view_id"])
def test_on_sqlite_an_id_or_key_with_a_lone_surrogate_is_refused(
    on_sqlite: Skilltroc, call: Any
) -> None:
    member = on_sqlite.signup("ann@example.org", provider="google").member_id
    with pytest.raises(SkilltrocError) as refusal:
        call(on_sqlite, member)
    assert refusal.value.code == "invalid_input"
    assert on_sqlite.balance(member).available == 10
    on_sqlite.check_invariants(deep=True)
