"""Notifications (the NOTIFY table of the reference spec) and the error hierarchy."""

from __future__ import annotations

import importlib
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import attrs
import pytest

import skilltroc_core
from skilltroc_core import errors
from skilltroc_core.adapters.clocks import ManualClock
from skilltroc_core.adapters.memory import MemoryStore, _MemoryUnitOfWork
from skilltroc_core.errors import (
    ConcurrencyError,
    InsufficientStarsError,
    InvalidInputError,
    NaiveDatetimeError,
    SkilltrocError,
)
from skilltroc_core.events import MEMBER_FACTS, NOTIFICATION_RULES, Notification, notification
from skilltroc_core.service import Skilltroc
from skilltroc_core.simulation.runner import Simulator
from skilltroc_core.simulation.workload import generate

from .members_support import CHEAP_POLICY, START

CEST = timezone(timedelta(hours=2), "CEST")
AT = datetime(2027, 3, 28, 10, 0, tzinfo=CEST)


def _row(event: str, rule: str) -> Any:
    return pytest.param(event, rule, marks=pytest.mark.rule(rule), id=event)


# Each event and the rule the NOTIFY table of the reference spec says it cites.
NOTIFY_TABLE = [
    _row("EmailConfirmationRequested", "ACC-1"),
    _row("PasswordResetRequested", "ACC-4"),
    _row("RequestReceived", "BOOK-11"),
    _row("RequestRefused", "BOOK-14"),
    _row("RequestAccepted", "BOOK-14"),
    _row("RequestWaitlisted", "BOOK-14"),
    _row("SessionMoved", "BOOK-8"),
    _row("RequestVoidedBySessionMove", "BOOK-8"),
    _row("SessionCancelled", "BOOK-9"),
    _row("SessionPlanned", "BOOK-10"),
    _row("RequestExpired", "BOOK-16"),
    _row("SessionJoined", "BOOK-23"),
    _row("RequestCancelled", "BOOK-17"),
    _row("MemberUnregistered", "BOOK-19"),
    _row("WaitlistLeft", "BOOK-25"),
    _row("TransactionCancelled", "BOOK-20"),
    _row("WaitlistExpired", "BOOK-24"),
    _row("WorkshopDeleted", "BOOK-5"),
    _row("SessionConfirmationRequested", "BOOK-30"),
    _row("SessionHeld", "BOOK-30"),
    _row("SessionNotHeld", "BOOK-31"),
    _row("SessionLapsed", "BOOK-32"),
    _row("WorkshopRecommended", "BOOK-42"),
    _row("WorkshopProposed", "SOCIAL-3"),
    _row("MessagePosted", "SOCIAL-3"),
    _row("GiftReceived", "GIFT-3"),
    _row("GiftAccepted", "GIFT-3"),
    _row("ReferralRewardPaid", "SPONSOR-3"),
    _row("InvitationSent", "SPONSOR-1"),
    _row("TutorialThresholdPaid", "TUTO-2"),
    _row("CampaignStarted", "AD-7"),
    _row("CampaignEnded", "AD-8"),
    _row("AccountDeactivated", "ACC-7"),
    _row("AccountPurged", "ACC-7"),
]


# --- notifications --------------------------------------------------------------------


@pytest.mark.parametrize(("event", "rule"), NOTIFY_TABLE)
def test_a_notification_cites_the_rule_the_notify_table_gives_its_event(
    event: str, rule: str
) -> None:
    assert NOTIFICATION_RULES[event] == rule
    notice = notification(event, AT, recipients=["mem_000001"])
    assert (notice.event, notice.rule) == (event, rule)
    assert notice.recipients == ("mem_000001",)


def test_every_event_the_library_knows_is_in_the_notify_table() -> None:
    table = {param.values[0] for param in NOTIFY_TABLE}
    assert set(NOTIFICATION_RULES) == table


def test_no_notice_cites_book_21_or_a_refund_rule() -> None:
    for rule in NOTIFICATION_RULES.values():
        assert rule != "BOOK-21"
        assert not rule.startswith("REFUND-")


def test_the_notification_table_cannot_be_changed() -> None:
    table: Any = NOTIFICATION_RULES
    with pytest.raises(TypeError):
        table["RequestRefused"] = "BOOK-21"
    assert NOTIFICATION_RULES["RequestRefused"] == "BOOK-14"


@pytest.mark.parametrize("event", ["SessionExploded", "", "requestrefused", "RequestRefused "])
def test_an_event_the_rules_do_not_define_is_refused(event: str) -> None:
    with pytest.raises(InvalidInputError, match="not a notification"):
        notification(event, AT)


@pytest.mark.rule("BOOK-8")
def test_datetime_facts_become_iso_strings_in_utc_and_other_facts_stay_as_given() -> None:
    notice = notification(
        "SessionMoved",
        AT,
        recipients=["mem_000001"],
        starts_at=datetime(2027, 4, 2, 18, 30, tzinfo=CEST),
        session_id="ses_000001",
        seats=2,
        online=True,
        link=None,
    )
    assert notice.fact("starts_at") == "2027-04-02T16:30:00+00:00"
    assert notice.facts_map == {
        "link": None,
        "online": True,
        "seats": 2,
        "session_id": "ses_000001",
        "starts_at": "2027-04-02T16:30:00+00:00",
    }
    assert [name for name, _ in notice.facts] == sorted(notice.facts_map)


def test_a_fact_a_notice_does_not_carry_reads_as_none() -> None:
    notice = notification("GiftReceived", AT, amount=5)
    assert notice.fact("amount") == 5
    assert notice.fact("sender") is None


def test_a_naive_datetime_fact_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError, match="starts_at"):
        notification("SessionMoved", AT, starts_at=datetime(2027, 4, 2, 18, 30))  # noqa: DTZ001


def test_a_datetime_fact_reads_the_same_whether_its_text_was_already_remembered() -> None:
    in_utc = datetime(2027, 4, 2, 16, 30, tzinfo=UTC)
    first = notification("SessionMoved", AT, start=in_utc)
    again = notification("SessionMoved", AT, start=datetime(2027, 4, 2, 18, 30, tzinfo=CEST))
    assert first.fact("start") == again.fact("start") == "2027-04-02T16:30:00+00:00"
    # the same wall time without a zone hashes like the remembered instant: still refused
    with pytest.raises(NaiveDatetimeError, match="start"):
        notification("SessionMoved", AT, start=in_utc.replace(tzinfo=None))


def test_a_naive_notice_instant_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError):
        notification("SessionMoved", datetime(2027, 3, 28, 10, 0))  # noqa: DTZ001


def test_the_notice_instant_is_stored_in_utc() -> None:
    notice = notification("SessionMoved", AT)
    assert notice.at == datetime(2027, 3, 28, 8, 0, tzinfo=UTC)
    assert notice.at.tzinfo is UTC


@pytest.mark.rule("GIFT-3", "SPONSOR-1")
def test_recipients_and_emails_are_kept_in_order_as_tuples() -> None:
    notice = notification(
        "GiftReceived",
        AT,
        recipients=(member for member in ["mem_000002", "mem_000001"]),
        emails=iter(["friend@example.org"]),
    )
    assert notice.recipients == ("mem_000002", "mem_000001")
    assert notice.emails == ("friend@example.org",)
    assert notification("InvitationSent", AT).emails == ()


def test_a_notification_cannot_be_changed() -> None:
    notice = notification("RequestRefused", AT, recipients=["mem_000001"])
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        notice.rule = "BOOK-21"  # type: ignore[misc]
    assert notice.rule == "BOOK-14"


def test_equal_notifications_are_one_in_a_set() -> None:
    first = notification("RequestRefused", AT, recipients=["mem_000001"], seats=2)
    again = notification("RequestRefused", AT, recipients=["mem_000001"], seats=2)
    other = notification("RequestRefused", AT, recipients=["mem_000001"], seats=3)
    assert first == again
    assert hash(first) == hash(again)
    assert len({first, again, other}) == 2
    assert isinstance(first, Notification)


# --- errors ---------------------------------------------------------------------------

ERROR_CLASSES = sorted(
    (
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, SkilltrocError)
    ),
    key=lambda cls: cls.__name__,
)


def test_the_error_module_exports_every_error_class() -> None:
    assert {cls.__name__ for cls in ERROR_CLASSES} == set(errors.__all__)
    assert len(ERROR_CLASSES) > 10


def test_every_error_class_of_the_package_is_declared_in_the_error_module() -> None:
    """One place for every refusal a host may catch: no module declares its own (the
    kits' test doubles, such as the simulator's injected store fault, excepted)."""
    package = Path(skilltroc_core.__file__).parent
    for path in package.rglob("*.py"):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts)
        importlib.import_module(module.removesuffix(".__init__"))

    def every(cls: type[SkilltrocError]) -> list[type[SkilltrocError]]:
        return [cls, *(sub for child in cls.__subclasses__() for sub in every(child))]

    outside = {f"{cls.__module__}.{cls.__name__}" for cls in every(SkilltrocError)
               if cls.__module__.startswith("skilltroc_core")
               and cls.__module__ != "skilltroc_core.errors"
               and not cls.__module__.startswith(("skilltroc_core.simulation",
                                                  "skilltroc_core.testing"))}
    assert outside == set()


def test_every_error_class_has_its_own_non_empty_code() -> None:
    codes = [cls.code for cls in ERROR_CLASSES]
    for code in codes:
        assert re.fullmatch(r"[a-z]+(_[a-z]+)*", code), code
    assert len(set(codes)) == len(codes)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: cls.__name__)
def test_an_error_message_names_its_code_and_rule(cls: type[SkilltrocError]) -> None:
    err = cls("something went wrong", rule="BOOK-12", seats=11)
    text = str(err)
    assert text.startswith("something went wrong")
    assert cls.code in text
    assert "BOOK-12" in text
    assert err.rule == "BOOK-12"
    assert err.facts == {"seats": 11}
    assert err.message == "something went wrong"


@pytest.mark.rule("STAR-4")
def test_an_error_without_an_explicit_rule_cites_its_class_default() -> None:
    err = InsufficientStarsError("need 12 stars, have 10", needed=12, available=10)
    assert err.rule == "STAR-4"
    assert str(err) == "need 12 stars, have 10 (insufficient_stars [STAR-4])"


def test_an_error_no_rule_numbers_shows_only_its_code() -> None:
    err = InvalidInputError("bad value")
    assert err.rule is None
    assert str(err) == "bad value (invalid_input)"


@pytest.mark.rule("STAR-4", "GIFT-1")
def test_an_explicit_rule_replaces_the_class_default() -> None:
    err = InsufficientStarsError("floor", rule="GIFT-1")
    assert err.rule == "GIFT-1"
    assert "STAR-4" not in str(err)


def test_a_concurrency_error_is_retryable_and_no_other_error_is() -> None:
    assert ConcurrencyError("lost a race").retryable is True
    others = [cls for cls in ERROR_CLASSES if cls is not ConcurrencyError]
    assert others
    for cls in others:
        assert cls("refused").retryable is False, cls


def test_every_error_can_be_caught_as_a_skilltroc_error() -> None:
    for cls in ERROR_CLASSES:
        with pytest.raises(SkilltrocError):
            raise cls("refused")


class _ShownWithMilliseconds(datetime):
    def isoformat(self, sep: str = "T", timespec: str = "milliseconds") -> str:
        return super().isoformat(sep, timespec)


def test_a_datetime_subclass_shows_its_own_text_and_leaves_plain_datetimes_theirs() -> None:
    odd = _ShownWithMilliseconds(2027, 4, 2, 16, 30, tzinfo=UTC)
    assert notification("SessionMoved", AT, start=odd).fact("start") == (
        "2027-04-02T16:30:00.000+00:00")
    plain = datetime(2027, 4, 2, 16, 30, tzinfo=UTC)
    assert notification("SessionMoved", AT, start=plain).fact("start") == (
        "2027-04-02T16:30:00+00:00")


def test_an_unknown_event_is_refused_before_its_facts_are_read() -> None:
    with pytest.raises(InvalidInputError, match="not a notification"):
        notification("Bogus", AT, start=datetime(2027, 4, 2, 18, 30))  # noqa: DTZ001


@pytest.mark.rule("ACC-7")
def test_every_fact_that_names_a_member_is_one_an_erasure_forgets(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A simulated run sends every kind of notice; a fact whose value is a member id must
    be in MEMBER_FACTS, or a purge would leave it in others' undelivered notices."""
    seen: list[Notification] = []
    append = _MemoryUnitOfWork.append_notification

    def recording(self: _MemoryUnitOfWork, notification: Notification) -> None:
        seen.append(notification)
        append(self, notification)

    monkeypatch.setattr(_MemoryUnitOfWork, "append_notification", recording)
    Simulator(7).run(generate(7), limit=6_000)
    app = Skilltroc(MemoryStore(), ManualClock(START), policy=CHEAP_POLICY)  # what it skips
    fan, star = (app.signup(f"{n}@example.org", provider="google").member_id
                 for n in ("fan", "star"))
    app.follow(fan, star)
    app.post_message(star, "hello")
    app.create_workshop(star, title="Bread", description="Baking", domain="cooking",
                        cost=1, capacity=2)
    events = {notice.event for notice in seen}
    assert {"MessagePosted", "WorkshopProposed", "RequestReceived", "GiftReceived"} <= events
    naming = {(notice.event, name) for notice in seen for name, value in notice.facts
              if isinstance(value, str) and value.startswith("mem_")}
    assert naming and {name for _, name in naming} <= set(MEMBER_FACTS), naming
