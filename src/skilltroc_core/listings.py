"""What the pages a member browses show: catalogue cards, search words, page values.

Members "search or browse workshops and tutorials in skill domains" (FAQ L716) and look
for friends by name (L348); an organizer reads the roster of a session ("Inscriptions
validées", L142). These values carry the facts such a page needs; the service reads
them through ordered indexes, a page at a time (:meth:`~skilltroc_core.ports.UnitOfWork.page`).

Sort texts: the stores compare sort texts code point by code point, so an instant is
written fixed-width in UTC (:func:`sortable_instant`), and a newest-first order uses the
complement of each digit (:func:`newest_first`).
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Final, Generic, TypeVar

import attrs

from .accounts import MemberKind, ProCategory
from .booking import Mode

__all__ = [
    "KEY_LENGTH",
    "MemberCard",
    "Page",
    "PublicCampaign",
    "PublicProfile",
    "PublicTutorial",
    "PublicWorkshop",
    "RosterEntry",
    "SessionCard",
    "SessionRoster",
    "TutorialCard",
    "WaitlistEntry",
    "WorkshopCard",
    "catalogue_keys",
    "descending",
    "domain_key",
    "folded",
    "locality_key",
    "newest_first",
    "sortable_instant",
    "word_key",
    "word_keys",
    "words",
]

T = TypeVar("T")

_WORD = re.compile(r"\w+")
_INVERT = str.maketrans("0123456789", "9876543210")
#: Longest text of an index key, in code points (see :func:`word_keys`).
KEY_LENGTH: Final = 64
#: Digits of a count sorted most first (:func:`descending`): more than any count reaches.
_COUNT_DIGITS: Final = 19


def folded(text: str) -> str:
    """``text`` as search compares it: case and accents dropped ("Crème" -> "creme")."""
    if text.isascii():  # nothing to decompose (most texts): a search reads many
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def words(*texts: str | None) -> tuple[str, ...]:
    """The distinct words of ``texts``, folded (:func:`folded`), in order of appearance."""
    found: dict[str, None] = {}
    for text in texts:
        if text:
            for word in _WORD.findall(folded(text)):
                found[word] = None
    return tuple(found)


def _bounded(text: str) -> str:
    """An index key's text cut to :data:`KEY_LENGTH` code points: a store's index rows are
    bounded (PostgreSQL: 2,704 bytes), and a word of text without spaces can be a whole
    paragraph. What is found under a cut key is checked against the whole text."""
    return text[:KEY_LENGTH]


def catalogue_keys(domain: str, mode: Mode | None = None, locality: str | None = None,
                   ) -> tuple[str, ...]:
    """The keys a catalogue entry is listed under: every entry, its skill domain, its
    mode, its locality (domain and locality folded: "Cuisine" is "cuisine")."""
    keys = ["all", domain_key(folded(domain))]
    if mode is not None:
        keys.append(f"mode:{mode.value}")
    if locality:
        keys.append(locality_key(folded(locality)))
    return tuple(keys)


def word_keys(*texts: str | None) -> tuple[str, ...]:
    """The keys a searchable entry is listed under, one per word of ``texts`` (a long word
    by its first :data:`KEY_LENGTH` code points)."""
    return tuple(dict.fromkeys(word_key(word) for word in words(*texts)))


def word_key(word: str) -> str:
    """The key a folded word is listed under."""
    return f"word:{_bounded(word)}"


def domain_key(domain: str) -> str:
    """The key of a skill domain (folded)."""
    return f"domain:{_bounded(domain)}"


def locality_key(locality: str) -> str:
    """The key of a locality (folded)."""
    return f"locality:{_bounded(locality)}"


def sortable_instant(instant: datetime) -> str:
    """An instant as a sort text: UTC, fixed width, earlier sorts first."""
    return instant.astimezone(UTC).strftime("%Y%m%d%H%M%S%f")


def newest_first(instant: datetime) -> str:
    """An instant as a sort text where later sorts first."""
    return sortable_instant(instant).translate(_INVERT)


def descending(count: int) -> str:
    """A count (0 or more) as a sort text where more sorts first."""
    return f"{count:0{_COUNT_DIGITS}d}".translate(_INVERT)


@attrs.frozen(kw_only=True)
class Page(Generic[T]):
    """One page of a list: its items, and the cursor of the next page (None: the last).

    A cursor is opaque text: pass it back as ``after`` to read on. It stays valid while
    items come and go: no item present throughout, whose place in the order does not
    change meanwhile, is skipped or shown twice (a session moved to another date, or a
    tutorial viewed in a most-viewed list, takes its new place)."""

    items: tuple[T, ...]
    next: str | None = None
    #: How many items the whole list holds, where that is known at no cost (a
    #: statement's lines); None elsewhere.
    total: int | None = None


@attrs.frozen(kw_only=True)
class SessionCard:
    """A planned session in the catalogue: where, when, what it costs, seats left."""

    session_id: str
    workshop_id: str
    organizer: str
    title: str
    domain: str
    mode: Mode
    locality: str | None
    start: datetime
    end: datetime
    cost: int
    capacity: int
    seats_left: int


@attrs.frozen(kw_only=True)
class WorkshopCard:
    """A workshop in the catalogue: its public record (what anyone may see of it, as the
    change feed records it), its next session and its rating."""

    workshop: PublicWorkshop
    #: The next planned session not yet started (None: none planned).
    next_session: SessionCard | None
    #: The mean score of its evaluations out of 10 (BOOK-40), None before the first one.
    rating: float | None
    evaluations: int


@attrs.frozen(kw_only=True)
class TutorialCard:
    """A published tutorial in the catalogue (TUTO-1)."""

    tutorial_id: str
    publisher: str
    title: str
    domain: str
    published_at: datetime
    views: int


@attrs.frozen(kw_only=True)
class MemberCard:
    """An active member found by name (to follow them: SOCIAL-2)."""

    member_id: str
    display_name: str


@attrs.frozen(kw_only=True)
class RosterEntry:
    """A registered member of a session, as its organizer sees them (BOOK-18)."""

    registration_id: str
    member_id: str
    display_name: str
    email: str | None = attrs.field(repr=False)
    seats: int


@attrs.frozen(kw_only=True)
class WaitlistEntry:
    """A member waiting for a session of a workshop (BOOK-22)."""

    registration_id: str
    member_id: str
    display_name: str
    seats: int
    requested_at: datetime


@attrs.frozen(kw_only=True)
class SessionRoster:
    """The organizer's view of one session: who is registered, and who waits for a
    session of its workshop ("Inscriptions validées", "Ateliers à planifier")."""

    session_id: str
    registered: tuple[RosterEntry, ...]
    waitlist: tuple[WaitlistEntry, ...]


@attrs.frozen(kw_only=True)
class PublicWorkshop:
    """A workshop as the change feed records it (what anyone may see of it, BOOK-1)."""

    workshop_id: str
    organizer: str
    title: str
    description: str
    domain: str
    mode: Mode
    locality: str | None
    cost: int
    capacity: int
    duration_minutes: int
    media: tuple[str, ...]
    created_at: datetime


@attrs.frozen(kw_only=True)
class PublicTutorial:
    """A published tutorial as the change feed records it (TUTO-1)."""

    tutorial_id: str
    publisher: str
    title: str
    domain: str
    published_at: datetime


@attrs.frozen(kw_only=True)
class PublicCampaign:
    """A campaign as the change feed records it while it is or will be shown (AD-7): its
    creative, its domains, its start, and whether it runs."""

    campaign_id: str
    owner: str
    text: str
    visual: str
    link: str | None
    domains: tuple[str, ...]
    start: datetime
    running: bool


@attrs.frozen(kw_only=True)
class PublicProfile:
    """A member's profile as the change feed records it while others may see it (PROF-1,
    ACC-7)."""

    member_id: str
    kind: MemberKind
    category: ProCategory | None
    display_name: str | None
    photo: str | None
    bio: str | None
    description: str | None
    locality: str | None
    website: str | None


@attrs.frozen(kw_only=True)
class ChangeRecord:
    """One change of the feed (``Skilltroc.changes``): what changed and its public record
    now, or None (a tombstone: deleted, hidden or erased: drop your copy)."""

    position: str
    topic: str
    entity_id: str
    record: (PublicWorkshop | SessionCard | PublicTutorial | PublicCampaign | PublicProfile
             | None)
