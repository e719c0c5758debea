"""Notifications: what members are told, as frozen events for the host's outbox.

The library never sends mail. Each notice is a :class:`Notification` with a past-tense
event name, the one rule ID that caused it, its recipients and the facts a mail needs.
:data:`NOTIFICATION_RULES` gives each event its rule; an event name outside it is
refused, so a notice can never cite the wrong rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import TypeAlias

import attrs

from .instants import UTC, require_aware
from .refusals import refusal, shown

__all__ = [
    "MEMBER_FACTS", "NOTIFICATION_RULES", "FactValue", "Notification", "iso_text", "notification",
    "sorted_notification", "stored_notification",
]

FactValue: TypeAlias = str | int | bool | None

NOTIFICATION_RULES: Mapping[str, str] = MappingProxyType(
    {
        "EmailConfirmationRequested": "ACC-1",
        "PasswordResetRequested": "ACC-4",
        "AccountDeactivated": "ACC-7",
        "AccountPurged": "ACC-7",
        "RequestReceived": "BOOK-11",
        "RequestRefused": "BOOK-14",
        "RequestAccepted": "BOOK-14",
        "RequestWaitlisted": "BOOK-14",
        "SessionMoved": "BOOK-8",
        "RequestVoidedBySessionMove": "BOOK-8",
        "SessionCancelled": "BOOK-9",
        "SessionPlanned": "BOOK-10",
        "RequestExpired": "BOOK-16",
        "SessionJoined": "BOOK-23",
        "RequestCancelled": "BOOK-17",
        "MemberUnregistered": "BOOK-19",
        "WaitlistLeft": "BOOK-25",
        "TransactionCancelled": "BOOK-20",
        "WaitlistExpired": "BOOK-24",
        "WorkshopDeleted": "BOOK-5",
        "SessionConfirmationRequested": "BOOK-30",
        "SessionHeld": "BOOK-30",
        "SessionNotHeld": "BOOK-31",
        "SessionLapsed": "BOOK-32",
        "WorkshopRecommended": "BOOK-42",
        "WorkshopProposed": "SOCIAL-3",
        "MessagePosted": "SOCIAL-3",
        "GiftReceived": "GIFT-3",
        "GiftAccepted": "GIFT-3",
        "ReferralRewardPaid": "SPONSOR-3",
        "InvitationSent": "SPONSOR-1",
        "TutorialThresholdPaid": "TUTO-2",
        "CampaignStarted": "AD-7",
        "CampaignEnded": "AD-8",
    }
)


#: The facts that name a member other than the recipients (ACC-7: when that member's
#: data is erased, the notices not yet delivered forget them): True when the notice has
#: no point without that member (an invitation from a sponsor who is gone: dropped),
#: False when only the fact goes (set to None; a gift received stays a gift received).
MEMBER_FACTS: Mapping[str, bool] = MappingProxyType({
    "sender": False,  # GiftReceived
    "recipient": False,  # GiftAccepted
    "referee": False,  # ReferralRewardPaid
    "member": False,  # RequestReceived, WorkshopRecommended
    "sponsor_id": True,  # InvitationSent: the invitation is erased with its sponsor
    "author": True,  # MessagePosted: the message is erased with its author
    "organizer": True,  # WorkshopProposed: the workshop is deleted with its organizer
})


@attrs.frozen(kw_only=True)
class Notification:
    """One notice for the outbox.

    ``recipients`` are member ids; ``emails`` are addresses of people who are not
    members (an invitation, a gift to a non-member). ``facts`` holds what a mail needs,
    as sorted ``(name, value)`` pairs so the value stays immutable and hashable; read
    it with :attr:`facts_map` or :meth:`fact`.
    """

    event: str
    rule: str
    at: datetime
    recipients: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    facts: tuple[tuple[str, FactValue], ...] = ()

    @property
    def facts_map(self) -> dict[str, FactValue]:
        return dict(self.facts)

    @property
    def concerned(self) -> tuple[str, ...]:
        """Everyone this notice is about: its recipients, its addresses and the members
        its facts name (:data:`MEMBER_FACTS`); what an erasure looks it up by."""
        named = tuple(value for name, value in self.facts
                      if name in MEMBER_FACTS and isinstance(value, str))
        return tuple(dict.fromkeys((*self.recipients, *self.emails, *named)))

    def without(self, member_id: str, email: str | None = None) -> Notification | None:
        """This notice without ``member_id`` (nor ``email``): no longer addressed to them
        and no longer naming them (ACC-7), what an erasure keeps of it for its other
        recipients; ``None`` if nobody is left or the notice was about them."""
        recipients = tuple(r for r in self.recipients if r != member_id)
        emails = tuple(e for e in self.emails if email is None or e != email)
        if not recipients and not emails:
            return None
        named = [name for name, value in self.facts if name in MEMBER_FACTS and value == member_id]
        if any(MEMBER_FACTS[name] for name in named):
            return None
        facts = tuple((name, None if name in named else value) for name, value in self.facts)
        return attrs.evolve(self, recipients=recipients, emails=emails, facts=facts)

    def fact(self, name: str) -> FactValue:
        """The value of one fact; ``None`` if the notice does not carry it."""
        for key, value in self.facts:
            if key == name:
                return value
        return None


# ISO text of recent datetime facts: many notices carry the same instants (a session's start).
_ISO_TEXT: dict[datetime, str] = {}
_ISO_TEXT_SIZE = 4_096


def iso_text(value: datetime, what: str) -> str:
    """``value`` as ISO 8601 text in UTC (refused when naive), remembered for reuse."""
    if type(value) is not datetime or value.tzinfo is not UTC:  # e.g. a subclass: as is
        return require_aware(value, what).isoformat()
    text = _ISO_TEXT.get(value)
    if text is None:
        text = value.isoformat()
        if len(_ISO_TEXT) >= _ISO_TEXT_SIZE:
            _ISO_TEXT.clear()
        _ISO_TEXT[value] = text
    return text


def notification(
    event: str,
    at: datetime,
    *,
    recipients: Iterable[str] = (),
    emails: Iterable[str] = (),
    **facts: FactValue | datetime,
) -> Notification:
    """Build a notice for ``event``, citing the rule the NOTIFY table gives it.

    Datetime facts are stored as ISO 8601 strings in UTC.
    """
    return sorted_notification(event, at, recipients, emails, sorted(facts.items()))


def sorted_notification(
    event: str, at: datetime, recipients: Iterable[str], emails: Iterable[str],
    facts: list[tuple[str, FactValue | datetime]],
) -> Notification:
    """:func:`notification` with the facts already as ``(name, value)`` pairs in name
    order (the list is reused: its datetimes become text)."""
    _rule_of(event)  # an unknown event is the first thing refused
    for position, (key, value) in enumerate(facts):
        if isinstance(value, datetime):
            facts[position] = (key, iso_text(value, key))
    return stored_notification(
        event, at,
        recipients if type(recipients) is tuple else tuple(recipients),
        emails if type(emails) is tuple else tuple(emails),
        tuple(facts),  # type: ignore[arg-type]  # no datetime is left
    )


def stored_notification(
    event: str, at: datetime, recipients: tuple[str, ...], emails: tuple[str, ...],
    facts: tuple[tuple[str, FactValue], ...],
) -> Notification:
    """A notice from values exactly as they are stored: facts in name order, instants
    already text (:func:`iso_text`); the rule still comes from the NOTIFY table."""
    rule = _rule_of(event)
    at = require_aware(at)
    return Notification(event=event, rule=rule, at=at, recipients=recipients, emails=emails,
                        facts=facts)


def _rule_of(event: str) -> str:
    rule = NOTIFICATION_RULES.get(event)
    if rule is None:
        raise refusal("unknown_notification", event=shown(event))
    return rule
