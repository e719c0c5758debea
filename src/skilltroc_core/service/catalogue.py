"""The catalogue members browse: upcoming sessions, workshops, tutorials, search, members.

Every list is read a page at a time through an ordered index (keyset pagination: a page
costs its size and a binary search, however large the catalogue), with an opaque cursor
(:mod:`.cursors`) and a ``limit`` bounded by ``Policy.catalogue_page_limit``. What ACC-7
hides is left out at read time: the workshops, sessions and tutorials of a deactivated
member, and deactivated or purged members themselves. A filter that is not the index's
key is applied to the entries read, so a page with a rare filter reads more entries.

Search is an inverted index kept by the stores like any ordered index: a workshop or a
tutorial is listed under each word of its texts, folded (case and accents dropped), in
page order. A search reads the list of its longest word and keeps the entries holding
every other word. SQLite's FTS5 and PostgreSQL's GIN indexes find the matches but not in
the catalogue's order, so a page would sort every match first; here a page costs its
size, and the three stores give the same results by construction.

Rules: AD-7 (L716: members search or browse workshops and tutorials by skill domain),
BOOK-1, BOOK-2, BOOK-18, TUTO-1, SOCIAL-1, ACC-7.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any, Final, TypeVar

import attrs

from ..booking import Mode, Session, Workshop
from ..instants import require_aware
from ..listings import (
    ChangeRecord,
    MemberCard,
    Page,
    SessionCard,
    TutorialCard,
    WorkshopCard,
    domain_key,
    folded,
    locality_key,
    sortable_instant,
    word_key,
    words,
)
from ..ports import EntityKind
from ..refusals import refusal, shown
from ..tutorials import Tutorial
from . import kinds
from .ads import CAMPAIGNS
from .context import Area
from .feed import encode, read_changes, workshop_record
from .paging import Found, later, listed_under_all, page_limit, paged, read_cursor, walk
from .read_side import (
    SESSION_CARDS,
    WORKSHOP_RATINGS,
    WorkshopRating,
    projection_of,
    rate_again,
)
from .registry import ANYONE, HOST, command, query
from .tutorials import TUTORIALS
from .units import Tx

__all__ = ["TUTORIAL_ORDERS", "CatalogueReads", "tutorial_card", "workshop_card"]

E = TypeVar("E")
T = TypeVar("T")

#: How ``tutorials()`` may order: newest first, or most viewed first.
TUTORIAL_ORDERS: Final = {"newest": "catalogue", "most_viewed": "most_viewed"}
#: After the positions of every entry that starts at this sort text (a session starting
#: exactly now has started).
_PAST: Final = "\x01"


def _text_filter(value: object, what: str, rule: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        raise refusal("filter_text_invalid", rule=rule, field=what, got=shown(value))
    compared = folded(value.strip())
    if not compared.strip():  # only accents: it would match every text without one
        raise refusal("filter_text_only_accents", rule=rule, field=what, got=shown(value))
    return compared


def _mode_filter(mode: object, rule: str) -> Mode | None:
    if mode is None:
        return None
    try:
        return Mode(mode) if isinstance(mode, str) else Mode("")
    except ValueError:
        raise refusal("mode_invalid", rule=rule, got=shown(mode)) from None


def _count_filter(value: object, what: str, rule: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int or value < 0:
        raise refusal("filter_count_invalid", rule=rule, field=what, got=shown(value))
    return value


@attrs.frozen
class _Filters:
    """The catalogue filters a list was asked for, checked and folded."""

    domain: str | None = None
    mode: Mode | None = None
    locality: str | None = None
    max_cost: int | None = None

    @classmethod
    def of(cls, domain: object = None, mode: object = None, locality: object = None,
           max_cost: object = None) -> _Filters:
        return cls(_text_filter(domain, "domain", "AD-7"), _mode_filter(mode, "AD-7"),
                   _text_filter(locality, "locality", "AD-7"),
                   _count_filter(max_cost, "max_cost", "AD-7"))

    def allow(self, domain: str, mode: Mode | None = None, locality: str | None = None,
              cost: int | None = None) -> bool:
        """Whether an entry with these facts passes (a tutorial has no mode, locality or
        cost: a filter on them leaves it out)."""
        return ((self.domain is None or folded(domain) == self.domain)
                and (self.mode is None or mode is self.mode)
                and (self.locality is None or folded(locality or "") == self.locality)
                and (self.max_cost is None or (cost is not None and cost <= self.max_cost)))

    @property
    def allow_tutorials(self) -> bool:
        """Whether a tutorial can pass (no filter on what a tutorial does not have)."""
        return self.mode is None and self.locality is None and self.max_cost is None

    @property
    def key(self) -> str:
        """The catalogue key to read: the most selective filter given (see
        :func:`~skilltroc_core.listings.catalogue_keys`)."""
        if self.domain is not None:
            return domain_key(self.domain)
        if self.locality is not None:
            return locality_key(self.locality)
        if self.mode is not None:
            return f"mode:{self.mode.value}"
        return "all"

    def json(self) -> list[object]:
        """The filters as a cursor records them."""
        return [self.domain, self.mode and self.mode.value, self.locality, self.max_cost]


class CatalogueReads(Area):
    """The catalogue (AD-7, L716), the member search (SOCIAL-1) and the read side's upkeep."""

    def _limit(self, limit: object) -> int:
        policy = self.policy
        return page_limit(limit, policy.catalogue_page_size, policy.catalogue_page_limit,
                          "AD-7")

    @query(actor=ANYONE, rules=("AD-7", "BOOK-2", "BOOK-18", "ACC-7"))
    def upcoming_sessions(
        self, *, domain: str | None = None, mode: str | None = None,
        locality: str | None = None, starts_from: datetime | None = None,
        starts_before: datetime | None = None, min_seats_left: int | None = None,
        max_cost: int | None = None, after: str | None = None, limit: int | None = None,
    ) -> Page[SessionCard]:
        """Planned sessions not started yet, soonest first: by skill domain, mode,
        locality (case and accents aside), a range of start instants (from inclusive,
        before exclusive), seats left and cost per seat. ``after``: the ``next`` of the
        page before."""
        want = self._limit(limit)
        where = _Filters.of(domain, mode, locality, max_cost)
        first = None if starts_from is None else require_aware(starts_from, "starts_from", "AD-7")
        until = None if starts_before is None else require_aware(
            starts_before, "before", "AD-7")
        if first is not None and until is not None and until <= first:
            raise refusal("start_range_empty", starts_from=first, starts_before=until)
        seats = _count_filter(min_seats_left, "min_seats_left", "BOOK-18")
        first_text = None if first is None else sortable_instant(first)
        filters = [*where.json(), first_text, until and sortable_instant(until), seats]
        cursor = read_cursor("upcoming_sessions", filters, after, "AD-7")
        with self.query() as tx:
            def shown(card: SessionCard) -> SessionCard | None:
                if (where.allow(card.domain, card.mode, card.locality, card.cost)
                        and (seats is None or card.seats_left >= seats)
                        and tx.shown(card.organizer)):
                    return card
                return None

            stop = None if until is None else (
                lambda entry: entry.entity.start >= until)
            found = walk(
                tx, SESSION_CARDS, "catalogue", where.key,
                later(cursor, sortable_instant(tx.now) + _PAST, first_text),
                want + 1, shown, stop=stop)
        return paged("upcoming_sessions", filters, found, want)

    @query(actor=ANYONE, rules=("AD-7", "BOOK-1", "BOOK-40", "ACC-7"))
    def workshops(self, *, domain: str | None = None, organizer: str | None = None,
                  after: str | None = None, limit: int | None = None) -> Page[WorkshopCard]:
        """Active workshops, newest first, by skill domain and/or organizer, each with its
        next session, its rating and its seats."""
        want = self._limit(limit)
        where = _Filters.of(domain)
        if organizer is not None and not isinstance(organizer, str):
            raise refusal("organizer_filter_invalid", got=shown(organizer))
        filters = [*where.json(), organizer]
        cursor = read_cursor("workshops", filters, after, "AD-7")
        key = where.key if organizer is None else f"organizer:{organizer}"
        with self.query() as tx:
            found = walk(tx, kinds.WORKSHOPS, "catalogue", key, cursor, want + 1,
                          lambda w: workshop_card(tx, w) if where.allow(w.domain) else None)
        return paged("workshops", filters, found, want)

    @query(actor=ANYONE, rules=("AD-7", "TUTO-1", "TUTO-3", "ACC-7"))
    def tutorials(self, *, domain: str | None = None, order: str = "newest",
                  after: str | None = None, limit: int | None = None) -> Page[TutorialCard]:
        """Published tutorials by skill domain, ``newest`` first or ``most_viewed`` first."""
        want = self._limit(limit)
        where = _Filters.of(domain)
        index = TUTORIAL_ORDERS.get(order) if isinstance(order, str) else None
        if index is None:
            raise refusal("tutorial_order_invalid", choices=list(TUTORIAL_ORDERS),
                          got=shown(order))
        filters = [*where.json(), order]
        cursor = read_cursor("tutorials", filters, after, "AD-7")
        with self.query() as tx:
            found = walk(tx, TUTORIALS, index, where.key, cursor, want + 1,
                          lambda t: tutorial_card(tx, t))
        return paged("tutorials", filters, found, want)

    @query(actor=ANYONE, rules=("AD-7", "BOOK-1", "TUTO-1", "ACC-7"))
    def search(self, text: str, *, domain: str | None = None, mode: str | None = None,
               locality: str | None = None, max_cost: int | None = None,
               after: str | None = None, limit: int | None = None,
               ) -> Page[WorkshopCard | TutorialCard]:
        """Workshops and tutorials whose title, description, domain or locality hold every
        word of ``text`` (case and accents aside: "creme" finds "Crème brûlée"), newest
        first. A tutorial has no mode, locality or cost: those filters leave tutorials
        out."""
        want = self._limit(limit)
        if not isinstance(text, str) or len(text) > 200:
            raise refusal("search_too_long", limit=200)
        wanted = words(text)
        if not wanted:
            raise refusal("search_without_words")
        where = _Filters.of(domain, mode, locality, max_cost)
        filters = [list(wanted), *where.json()]
        cursor = read_cursor("search", filters, after, "AD-7")
        # the longest word first (likely the rarest); a long word's key is cut: the
        # whole words are checked on what the keys find
        keys = list(dict.fromkeys(word_key(word) for word in sorted(wanted, key=len,
                                                                   reverse=True)))
        every = set(wanted)
        with self.query() as tx:
            def shown_workshop(w: Workshop) -> WorkshopCard | None:
                if (where.allow(w.domain, w.mode, w.locality, w.cost)
                        and every.issubset(words(w.title, w.description, w.domain, w.locality))):
                    return workshop_card(tx, w)
                return None

            def shown_tutorial(t: Tutorial) -> TutorialCard | None:
                if where.allow(t.domain) and every.issubset(words(t.title, t.domain)):
                    return tutorial_card(tx, t)
                return None

            found: Found[WorkshopCard | TutorialCard] = [
                *listed_under_all(tx, kinds.WORKSHOPS, "catalogue", keys, cursor, want + 1,
                                  shown_workshop)]
            if where.allow_tutorials:
                found += listed_under_all(tx, TUTORIALS, "catalogue", keys, cursor, want + 1,
                                          shown_tutorial)
        # workshops and tutorials alike newest first: positions of one order
        return paged("search", filters, found, want)

    @query(actor=ANYONE, rules=("SOCIAL-1", "ACC-7"))
    def find_members(self, prefix: str, *, after: str | None = None,
                     limit: int | None = None) -> Page[MemberCard]:
        """Active members whose display name starts with ``prefix`` (case and accents
        aside), in name order: to find friends and follow them. Unconfirmed, deactivated
        and purged accounts, and members with no display name, are never found."""
        want = self._limit(limit)
        if not isinstance(prefix, str) or not prefix.strip() or len(prefix) > 100:
            raise refusal("name_prefix_invalid", limit=100)
        start = folded(prefix.strip())
        if not start:
            raise refusal("name_prefix_without_letter", got=shown(prefix))
        filters = [start]
        cursor = read_cursor("find_members", filters, after, "SOCIAL-1")
        with self.query() as tx:
            found = walk(
                tx, kinds.MEMBERS, "by_name", "all", later(cursor, start), want + 1,
                lambda m: MemberCard(member_id=m.id, display_name=m.profile.display_name or ""),
                stop=lambda entry: not entry.position.startswith(start))
        return paged("find_members", filters, found, want)


    @query(actor=HOST, rules=("AD-7", "ACC-7"))
    def changes(self, *, after: str | None = None, limit: int | None = None
                ) -> Page[ChangeRecord]:
        """The change feed: every change to a workshop, a session (its seats left), a
        tutorial, a campaign or a profile, in commit order, each with its public record
        now or None (a tombstone: deleted, hidden or erased), for a host's own search
        index or cache. ``after``: the ``next`` of the page before (or the ``position`` of
        the last change applied); a host that restarts from it misses nothing and sees
        nothing twice. A purge erases the member's changes from every later read (ACC-7)."""
        want = self._limit(limit)
        if after is not None and not isinstance(after, str):
            raise refusal("change_position_invalid", got=shown(after))
        with self.query():  # the deadlines due are applied first, as for every query
            pass
        found = self.context.store.changes(after=after, limit=want + 1)
        items = read_changes(found[:want])
        return Page(items=items, next=items[-1].position if len(found) > want else None)

    @command(actor=HOST, rules=("AD-7", "BOOK-40"))
    def rebuild_read_side(self, *, batch: int = 500) -> int:
        """Post every stored workshop, tutorial, member and feed message under the
        catalogue's ordered indexes, and make every session's catalogue card and every
        workshop's rating again; returns how many entities it went through. For a SQL
        store written by a version before the catalogue (schema 4 or older), whose
        entities predate them. When the change feed is empty (a store written before it,
        schema 5 or older), it also records each entity's public record now, so that a
        host reading the feed from the start finds everything. Runs in units of
        ``batch`` entities (one workshop's rating or one session's card is always made in
        one unit, so commands may run meanwhile); running it again changes nothing."""
        if type(batch) is not int or not 1 <= batch <= 10_000:
            raise refusal("rebuild_batch_invalid", limit=10000, got=shown(batch))
        seed = not self.context.store.changes(limit=1)
        done = 0
        indexed: tuple[EntityKind[Any], ...] = (
            kinds.WORKSHOPS, TUTORIALS, kinds.MEMBERS, kinds.FEED)
        for kind in indexed:
            done += self._each(kind, batch, partial(_repost, kind))
        done += self._each(kinds.WORKSHOPS, batch,
                           lambda tx, entity_id, _: rate_again(tx, entity_id))
        done += self._each(kinds.SESSIONS, batch, _card_again)
        if seed:
            public: tuple[EntityKind[Any], ...] = (
                kinds.MEMBERS, kinds.WORKSHOPS, kinds.SESSIONS, TUTORIALS, CAMPAIGNS)
            for kind in public:
                self._each(kind, batch, partial(_record_now, kind))
        return done

    def _each(self, kind: EntityKind[E], batch: int, step: Callable[[Tx, str, E], None]
              ) -> int:
        """Do ``step`` on every stored entity of ``kind``, ``batch`` of them a unit."""
        done, last = 0, None
        while True:
            with self.command() as tx:
                entities = tx.uow.scan(kind, after=last, limit=batch)
                for entity_id, _ in entities:
                    # read again as a command reads (locked where others write at once):
                    # the scan locks nothing, and another command may have changed it
                    entity = tx.get(kind, entity_id)
                    if entity is not None:
                        step(tx, entity_id, entity)
            done += len(entities)
            if len(entities) < batch:
                return done
            last = entities[-1][0]


def _card_again(tx: Tx, session_id: str, session: Session) -> None:
    projection = projection_of(kinds.SESSIONS)
    assert projection is not None
    projection(tx, session_id, session, session)


def _record_now(kind: EntityKind[Any], tx: Tx, entity_id: str, entity: object) -> None:
    """Record an entity's public record in the feed as if it had just been written."""
    if kind is kinds.SESSIONS:
        card = tx.uow.get(SESSION_CARDS, entity_id)
        if card is not None and tx.shown(card.organizer):
            tx.uow.record_change("session", entity_id, encode(card))
        return
    projection = projection_of(kind)
    assert projection is not None
    projection(tx, entity_id, None, entity)


def _repost(kind: EntityKind[Any], tx: Tx, entity_id: str, _: object) -> None:
    tx.uow.repost(kind, entity_id)


def tutorial_card(tx: Tx, tutorial: Tutorial) -> TutorialCard | None:
    """What the catalogue shows of a published tutorial: None while its publisher is
    hidden (ACC-7)."""
    if not tx.shown(tutorial.publisher):
        return None
    return TutorialCard(tutorial_id=tutorial.id, publisher=tutorial.publisher,
                        title=tutorial.title, domain=tutorial.domain,
                        published_at=tutorial.published_at, views=tutorial.views)


def workshop_card(tx: Tx, workshop: Workshop) -> WorkshopCard | None:
    """What the catalogue shows of a workshop: None while its organizer is hidden (ACC-7).
    Its next session is read from the session cards, in O(log n)."""
    public = workshop_record(workshop)
    if public is None or not tx.shown(workshop.organizer):
        return None
    soon = tx.uow.page(SESSION_CARDS, "catalogue", f"workshop:{workshop.id}",
                       after=sortable_instant(tx.now) + _PAST, limit=1)
    rating = tx.get(WORKSHOP_RATINGS, workshop.id) or WorkshopRating(id=workshop.id)
    return WorkshopCard(workshop=public, next_session=soon[0].entity if soon else None,
                        rating=rating.rating, evaluations=rating.evaluations)

