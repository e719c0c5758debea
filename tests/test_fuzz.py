"""Every public command of :class:`Skilltroc`, fed hypothesis-generated arguments.

Each argument is drawn mostly near-valid (ids of the right kind, sensible amounts and
instants) and otherwise from a mixture of wrong values: None, booleans, huge and negative
integers, NaN and infinite floats, decimals, text with control characters and lone
surrogates, bytes, naive datetimes, aware datetimes from year 1 to 9999, lists, dicts,
ids of another kind, unknown ids and members who may not act (unconfirmed, deactivated,
purged, not the organizer...), and aware datetimes whose ``tzinfo`` gives no valid offset
(30 hours, a string, an error). Whatever comes, a call either succeeds or raises a
:class:`SkilltrocError` subclass with a code and a message and leaves the whole store
exactly as it was. Anything else escaping (TypeError, ValueError, OverflowError,
UnicodeEncodeError...) is a bug; each one found has a named example in
``test_fuzz_findings.py``.

Two more worlds: the same cast half a day before year 10000 (every instant argument near
it; deadlines past the calendar's end are refused, nothing changes), and a host process
whose clock is behind the cast's last instant, by up to 30 days: within
``Policy.clock_tolerance`` it works at that last instant, beyond it nothing is recorded.

The table of argument strategies must cover every public method of the service: a new
one fails :func:`test_the_fuzz_table_covers_every_public_method` until it has an entry
or a justified exclusion.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skilltroc_core.errors import SkilltrocError
from skilltroc_core.events import NOTIFICATION_RULES, Notification
from skilltroc_core.service import Skilltroc
from skilltroc_core.service.registry import REGISTRY, Declaration, Parameter
from skilltroc_core.testing import TEST_SECRET_KEY, StoreState, state_of

from .fuzz_support import (
    BROKEN_OFFSETS,
    FAR,
    VIDEO_URL,
    BrokenZone,
    Cast,
    FreeClock,
    build_cast,
    pristine_cast,
    release_cast,
)
from .members_support import PARIS, PASSWORD

_REFERENCE = build_cast()  # ids are sequential, so every build has exactly these ids
IDS = _REFERENCE.ids()
ALL_IDS = sorted({i for ids in IDS.values() for i in ids})
NOW = _REFERENCE.world.clock.now()
_TOLERANCE = _REFERENCE.service.policy.clock_tolerance
assert _TOLERANCE is not None
TOLERANCE: timedelta = _TOLERANCE

#: Public methods that are not commands a host calls with user input.
EXCLUDED = {
    "command": "the context manager commands are built from: no user input",
    "query": "the same context manager, for reads",
    "add_purge_hook": "wiring a host does once at start-up with its own function",
}

# ---------------------------------------------------------------------- strategies
ZONES = st.sampled_from([UTC, PARIS, timezone(timedelta(hours=14)),
                         timezone(-timedelta(hours=12)), timezone(timedelta(minutes=-1))])
#: Aware-looking datetimes whose zone gives no valid offset.
BROKEN = st.builds(lambda when, offset: when.replace(tzinfo=BrokenZone(offset)),
                   st.datetimes(), st.sampled_from(BROKEN_OFFSETS))
AWARE = st.one_of(st.datetimes(timezones=ZONES), BROKEN, st.sampled_from([
    datetime.max.replace(tzinfo=UTC), datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
    datetime.max.replace(tzinfo=timezone(-timedelta(hours=5))),
    datetime(9999, 12, 25, tzinfo=UTC)]))
NAIVE = st.datetimes()
TEXT = st.one_of(
    st.text(max_size=30),
    st.text(st.characters(categories=["Cs", "Cc", "Zs", "Lu", "Nd"]), max_size=12),
    st.text(min_size=300, max_size=3000),
)
UNKNOWN = st.one_of(
    st.sampled_from(["", " ", "mem_999999", "ws_999999", "ses_999999", "req_999999",
                     "gift_999999", "tuto_999999", "ad_999999", "MEM_000002", " mem_000002",
                     "mem_000002\x00", "0", "-1", "None"]),
    st.text(max_size=12),
)
JUNK = st.one_of(
    st.none(), st.booleans(), st.integers(), st.sampled_from([2**63, -(2**63) - 1, 10**100]),
    st.floats(), st.decimals(), TEXT, st.binary(max_size=8), NAIVE, AWARE,
    st.timedeltas(), st.lists(TEXT, max_size=3), st.dictionaries(TEXT, st.integers(), max_size=2),
    st.tuples(st.integers()), st.frozensets(st.integers(), max_size=2), st.complex_numbers(),
    st.builds(object), st.sampled_from(ALL_IDS), UNKNOWN,
)


def fz(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three draws in four from ``valid``, the fourth from the junk mixture."""
    return st.integers(0, 3).flatmap(lambda i: JUNK if i == 0 else valid)


def ids(*kinds: str) -> st.SearchStrategy[str]:
    return st.sampled_from([i for kind in kinds for i in IDS[kind]])


MEMBER = fz(ids("member"))
EMAILS = _REFERENCE.emails()
EMAIL = fz(st.one_of(st.sampled_from(EMAILS),
                     st.from_regex(r"\A[a-z]{1,8}@example\.(org|com)\Z"),
                     st.sampled_from(["NEW@Example.org", " new@example.org ", "a@b",
                                      "a..b@example.org", "@example.org", "new@"])))
WHEN = st.one_of(
    st.timedeltas(min_value=-timedelta(days=30), max_value=timedelta(days=60))
    .map(lambda d: NOW + d),
    st.sampled_from([NOW, NOW.astimezone(PARIS), NOW + timedelta(microseconds=1)]),
)
#: Instants around :data:`FAR`, up to the last microsecond of year 9999.
FAR_WHEN = st.one_of(
    st.timedeltas(min_value=-timedelta(days=30), max_value=timedelta(hours=12))
    .map(lambda d: min(FAR + d, datetime.max.replace(tzinfo=UTC))),
    st.sampled_from([FAR, FAR.astimezone(PARIS), datetime.max.replace(tzinfo=UTC),
                     datetime(9999, 12, 31, 22, tzinfo=UTC).astimezone(PARIS)]),
)
STARS = st.integers(-3, 60)
SMALL = st.integers(-2, 12)
WORDS = st.one_of(st.sampled_from(["Cooking", "cooking", "Art", "Sailing", "Knots"]), TEXT)
CATEGORY = st.sampled_from(["company", "craftsperson", "website", "Company", "none"])
SCORES = st.integers(-1, 11)
VIDEOS = st.sampled_from([VIDEO_URL, "https://youtu.be/bbbbbbbbbbb", "https://youtu.be/x",
                          "https://example.org/v", "uploads/new.mp4"])
TOKENS = st.sampled_from([_REFERENCE.pam_token, _REFERENCE.bob_reset])
PASSWORDS = st.one_of(st.just(PASSWORD), st.text(min_size=6, max_size=20))
DOMAINS = st.lists(WORDS, max_size=3)
#: Notices as a host might pass them back to link_token: with a link, without, forged.
NOTICES = fz(st.builds(
    lambda event, facts, who: Notification(
        event=event, rule=NOTIFICATION_RULES[event], at=NOW, recipients=who,
        facts=tuple(sorted(facts.items()))),
    st.sampled_from(["EmailConfirmationRequested", "PasswordResetRequested", "GiftReceived"]),
    st.dictionaries(st.sampled_from(["nonce", "key", "email", "provider"]),
                    st.one_of(st.none(), st.integers(), TEXT), max_size=4),
    st.lists(ids("member"), max_size=2).map(tuple),
))


def call(*args: st.SearchStrategy[Any], optional: dict[str, st.SearchStrategy[Any]] | None = None,
         **required: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[tuple[Any, ...],
                                                                         dict[str, Any]]]:
    """Positional arguments, required keywords, and keywords that may be left out."""
    return st.tuples(st.tuples(*args), st.fixed_dictionaries(required, optional=optional or {}))


def on(kind: str) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    """A read of one thing by id."""
    return call(fz(ids(kind)))


def acting_on(kind: str) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    """A member acting on one thing by id."""
    return call(MEMBER, fz(ids(kind)))


Strategy = st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]
Table = dict[str, Strategy]


def table(WHEN: st.SearchStrategy[datetime]) -> Table:
    """The arguments of every command, with ``WHEN`` for the instants they take."""
    return {
        # members
        "signup": call(EMAIL, optional={
            "password": fz(PASSWORDS), "provider": fz(st.sampled_from(["google", "facebook"])),
            "kind": fz(st.sampled_from(["individual", "professional"])),
            "category": fz(CATEGORY), "display_name": fz(TEXT), "sponsor": fz(
                st.one_of(ids("member"), st.sampled_from(EMAILS)))}),
        "confirm_email": call(MEMBER, fz(TOKENS)),
        "sign_in": call(EMAIL, fz(PASSWORDS)),
        "request_password_reset": call(EMAIL),
        "link_token": call(NOTICES),
        "reset_password": call(EMAIL, fz(TOKENS), fz(PASSWORDS)),
        "change_password": call(MEMBER, fz(PASSWORDS), fz(PASSWORDS)),
        "deactivate": call(MEMBER),
        "reactivate": call(MEMBER),
        "update_profile": call(MEMBER, optional={
            name: fz(st.one_of(st.none(), TEXT, st.just("https://example.org/x")))
            for name in ("display_name", "photo", "bio", "description", "locality", "website")
        } | {"category": fz(CATEGORY)}),
        "profile": call(MEMBER),
        "member": call(MEMBER),
        "balance": call(MEMBER),
        "statement": call(MEMBER, optional={"after": fz(TEXT), "limit": fz(SMALL)}),
        "buy_stars": call(MEMBER, fz(STARS), fz(st.one_of(st.sampled_from(["pay-ann", "pay-x"]),
                                                         TEXT))),
        "gifts_waiting": call(MEMBER),
        # gifts
        "gift": call(MEMBER, EMAIL, fz(STARS), optional={"key": fz(TEXT)}),
        "accept_gift": acting_on("gift"),
        "gift_state": on("gift"),
        # social
        "import_contacts": call(MEMBER, fz(st.lists(EMAIL, max_size=4))),
        "follow": acting_on("member"),
        "unfollow": acting_on("member"),
        "followers": call(MEMBER),
        "following": call(MEMBER),
        "post_message": call(MEMBER, fz(TEXT)),
        "messages": call(MEMBER, optional={"after": fz(TEXT), "limit": fz(SMALL)}),
        "feed": call(MEMBER, optional={"after": fz(TEXT), "limit": fz(SMALL)}),
        "invite": call(MEMBER, EMAIL),
        "invitable_contacts": call(MEMBER, fz(st.lists(EMAIL, max_size=4))),
        # booking
        "create_workshop": call(
            MEMBER, title=fz(WORDS), description=fz(WORDS), domain=fz(WORDS), cost=fz(SMALL),
            capacity=fz(SMALL), optional={
                "duration": fz(st.timedeltas(min_value=-timedelta(hours=1),
                                             max_value=timedelta(days=3))),
                "mode": fz(st.sampled_from(["online", "face_to_face", "Online"])),
                "locality": fz(st.one_of(st.none(), WORDS)),
                "media": fz(st.one_of(st.tuples(WORDS), st.lists(WORDS, max_size=2)))}),
        "delete_workshop": acting_on("workshop"),
        "plan_session": call(MEMBER, fz(ids("workshop")), fz(WHEN),
                             optional={"capacity": fz(st.one_of(st.none(), SMALL))}),
        "move_session": call(MEMBER, fz(ids("session")), fz(WHEN)),
        "set_capacity": call(MEMBER, fz(ids("session")), fz(SMALL)),
        "cancel_session": acting_on("session"),
        "request": call(MEMBER, seats=fz(SMALL), optional={
            "session_id": fz(ids("session")), "workshop_id": fz(ids("workshop"))}),
        "cancel_request": acting_on("registration"),
        "refuse": acting_on("registration"),
        "accept": acting_on("registration"),
        "accept_future": acting_on("registration"),
        "unregister": acting_on("registration"),
        "cancel_transaction": acting_on("registration"),
        "join": call(MEMBER, fz(ids("registration")), fz(ids("session"))),
        "leave_waitlist": acting_on("registration"),
        "confirm_held": acting_on("session"),
        "confirm_not_held": acting_on("session"),
        "declare_absent": acting_on("registration"),
        "confirm_attendance": acting_on("registration"),
        "evaluate": call(MEMBER, fz(ids("registration")), satisfaction=fz(SCORES),
                         conformity=fz(SCORES), teaching=fz(SCORES), duration=fz(SCORES),
                         recommend=fz(st.booleans())),
        "contact_email": acting_on("registration"),
        "workshop": on("workshop"),
        "session": on("session"),
        "registration": on("registration"),
        "sessions_of": on("workshop"),
        "workshop_evaluations": on("workshop"),
        "profile_stats": call(MEMBER),
        "participant_agenda": call(MEMBER),
        "organizer_agenda": call(MEMBER),
        "seats_left": on("session"),
        # tutorials
        "publish_tutorial": call(MEMBER, title=fz(WORDS), domain=fz(WORDS),
                                 rights_attested=fz(st.booleans()), optional={
                                     "youtube_url": fz(VIDEOS), "upload": fz(VIDEOS)}),
        "edit_tutorial": call(MEMBER, fz(ids("tutorial")), optional={
            "title": fz(WORDS), "domain": fz(WORDS), "youtube_url": fz(VIDEOS),
            "upload": fz(VIDEOS), "rights_attested": fz(st.booleans())}),
        "delete_tutorial": acting_on("tutorial"),
        "record_view": call(fz(ids("tutorial")), fz(st.one_of(ids("member"), TEXT)),
                            fz(st.one_of(st.just("view-1"), TEXT))),
        "tutorial": on("tutorial"),
        "my_tutorials": call(MEMBER, optional={"include_deleted": fz(st.booleans())}),
        # ads
        "create_campaign": call(
            MEMBER, budget=fz(STARS), visual=fz(WORDS), visual_rights_free=fz(st.booleans()),
            text=fz(WORDS), start=fz(WHEN), domains=fz(DOMAINS), optional={
                "link": fz(st.one_of(st.none(), st.just("https://example.org/a"), TEXT)),
                "key": fz(TEXT)}),
        "edit_campaign": call(MEMBER, fz(ids("campaign")), optional={
            "budget": fz(STARS), "visual": fz(WORDS), "visual_rights_free": fz(st.booleans()),
            "text": fz(WORDS), "link": fz(st.one_of(st.none(), TEXT)), "start": fz(WHEN),
            "domains": fz(DOMAINS)}),
        "delete_campaign": acting_on("campaign"),
        "serve": call(fz(WORDS), fz(st.one_of(st.just("page-1"), TEXT))),
        "campaign": on("campaign"),
        "campaign_progress": acting_on("campaign"),
        "my_campaigns": call(MEMBER),
        "check_ad_queues": call(),
        "rebuild_ad_queues": call(),
        # the service itself
        "supply": call(),
        "now": call(),
        "check_invariants": call(optional={"deep": fz(st.booleans())}),
        "drain_notifications": call(optional={"limit": fz(SMALL)}),
        "ack": call(fz(st.lists(st.integers(-1, 200), max_size=3))),
        "run_due": call(optional={"until": fz(st.one_of(st.none(), WHEN))}),
    }


#: What a parameter named ``<kind>_id`` names (the cast's ids of that kind).
_ID_KINDS = {"member_id": "member", "workshop_id": "workshop", "session_id": "session",
             "registration_id": "registration", "gift_id": "gift",
             "tutorial_id": "tutorial", "campaign_id": "campaign"}


def parameter_strategy(parameter: Parameter, WHEN: st.SearchStrategy[datetime]
                       ) -> st.SearchStrategy[Any]:
    """Arguments for one declared parameter, from its name and its annotated type: ids of
    the kind it names, emails, instants, whole numbers, flags, text; a quarter junk."""
    kind = _ID_KINDS.get(parameter.name)
    if kind is not None:
        return fz(ids(kind))
    if parameter.name == "email" or parameter.name.endswith("_email"):
        return EMAIL
    text = parameter.type_text
    for name, strategy in (("datetime", WHEN), ("bool", st.booleans()), ("int", SMALL),
                           ("str", TEXT)):
        if name in text.split(" | "):
            return fz(strategy)
    return JUNK


def derived(declared: Declaration, WHEN: st.SearchStrategy[datetime]) -> Strategy:
    """Arguments for a declared operation from its parameters alone (what a new command
    gets until the table gives it better ones)."""
    positional = [parameter_strategy(p, WHEN) for p in declared.parameters
                  if p.required and not p.keyword_only]
    keywords = {p.name: parameter_strategy(p, WHEN) for p in declared.parameters
                if p.required and p.keyword_only}
    optional = {p.name: parameter_strategy(p, WHEN) for p in declared.parameters
                if not p.required}
    return call(*positional, optional=optional, **keywords)


def full_table(WHEN: st.SearchStrategy[datetime]) -> Table:
    """:func:`table`, and every other declared operation with :func:`derived` arguments."""
    written = table(WHEN)
    return {name: written[name] if name in written else derived(declared, WHEN)
            for name, declared in REGISTRY.items()}


TABLE = full_table(WHEN)


def public_methods() -> set[str]:
    return {name for name, member in inspect.getmembers(Skilltroc)
            if not name.startswith("_") and callable(member)}


def test_the_fuzz_table_covers_every_public_method() -> None:
    assert set(TABLE) == public_methods() - set(EXCLUDED)
    assert not set(TABLE) & set(EXCLUDED)
    assert set(table(WHEN)) <= set(REGISTRY), "the written table names undeclared methods"



_PROFILE = settings.default
assert _PROFILE is not None
_FUZZ_SETTINGS = settings(
    max_examples=min(_PROFILE.max_examples, 50), deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.parametrize("name", sorted(REGISTRY))
@settings(max_examples=10, deadline=None)
@given(data=st.data())
def test_arguments_derived_from_a_declaration_bind_to_its_signature(
    name: str, data: st.DataObject
) -> None:
    """What a command left out of the written table is fuzzed with: arguments that fit
    its signature (the values, a quarter junk, are the command's to refuse)."""
    declared = REGISTRY[name]
    args, kwargs = data.draw(derived(declared, WHEN), label=name)
    inspect.signature(declared.function).bind(None, *args, **kwargs)


@pytest.mark.rule("STAR-6")
@pytest.mark.parametrize("name", sorted(TABLE))
@_FUZZ_SETTINGS
@given(data=st.data())
def test_a_fuzzed_call_succeeds_or_is_refused_with_nothing_changed(
    name: str, data: st.DataObject
) -> None:
    cast, before = pristine_cast()
    args, kwargs = data.draw(TABLE[name], label=f"{name} arguments")
    _call_and_check(cast, before, getattr(cast.service, name), name, args, kwargs)


def _call_and_check(cast: Cast, before: StoreState, method: Callable[..., object],
                    name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """``method(*args, **kwargs)`` succeeds, or is refused and changes nothing."""
    try:
        method(*args, **kwargs)
    except SkilltrocError as refusal:
        assert refusal.code and refusal.message and str(refusal)
        changed = before.changes(state_of(cast.world.store))
        if changed:
            release_cast()
        assert not changed, f"{name} was refused but changed the store: {changed}"
    except BaseException:
        release_cast()  # a bug: whatever it did, the next example gets a new world
        raise
    else:
        if state_of(cast.world.store) != before:
            release_cast()  # the next example needs a pristine world
            cast.service.check_invariants(deep=True)


FAR_TABLE = full_table(FAR_WHEN)


@pytest.mark.rule("STAR-6", "BOOK-16", "BOOK-24", "ACC-7", "ACC-4")
@pytest.mark.parametrize("name", sorted(FAR_TABLE))
@_FUZZ_SETTINGS
@given(data=st.data())
def test_a_fuzzed_call_half_a_day_before_year_10000_succeeds_or_changes_nothing(
    name: str, data: st.DataObject
) -> None:
    cast, before = pristine_cast(far=True)
    args, kwargs = data.draw(FAR_TABLE[name], label=f"{name} arguments")
    _call_and_check(cast, before, getattr(cast.service, name), name, args, kwargs)


#: How far behind the cast's last instant the clock of another host process may be.
BEHIND = st.one_of(
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    st.sampled_from([TOLERANCE, TOLERANCE + timedelta(microseconds=1), TOLERANCE / 2,
                     timedelta(days=13)]),
)


@pytest.mark.rule("STAR-5")
@pytest.mark.parametrize("name", sorted(TABLE))
@_FUZZ_SETTINGS
@given(data=st.data())
def test_a_fuzzed_call_from_a_clock_set_back_never_records_an_earlier_instant(
    name: str, data: st.DataObject
) -> None:
    """A process starting on the cast's store with its clock behind: whatever it is asked,
    it records nothing before the newest instant already recorded (transfers, notices),
    and nothing at all when its clock is behind by more than the tolerance."""
    cast, before = pristine_cast()
    behind = data.draw(BEHIND, label="clock behind by")
    args, kwargs = data.draw(TABLE[name], label=f"{name} arguments")
    store = cast.world.store
    app = Skilltroc(store, FreeClock(NOW - behind), policy=cast.service.policy,
                    secret_key=TEST_SECRET_KEY)
    transfers, outbox = len(store.book.transfers), max(store._outbox, default=0)
    _call_and_check(cast, before, getattr(app, name), name, args, kwargs)
    recorded = [t.at for t in store.book.transfers[transfers:]] + [
        n.at for seq, n in store._outbox.items() if seq > outbox]
    assert all(at >= NOW for at in recorded), (behind, recorded)
    if behind > TOLERANCE:
        assert not recorded, f"{name} recorded {recorded} from a clock {behind} behind"
