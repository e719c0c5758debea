"""The read side: what the catalogue pages read, kept in step in each command's unit.

Workshops, tutorials, members and feed messages carry their own ordered indexes
(:mod:`.kinds`, :mod:`.tutorials`). A session in the catalogue needs its workshop's facts
(domain, mode, locality, cost, title), so each planned session has a
:class:`~skilltroc_core.listings.SessionCard` of its own, and each workshop a
:class:`WorkshopRating` (its evaluations' count and score sum). :func:`project` writes
them whenever the unit writes what they are made from (:meth:`Tx.put
<skilltroc_core.service.units.Tx.put>` calls it), so they can never fall behind; and
the change feed's records (:mod:`.feed`) with them.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Final

import attrs

from ..accounts import AccountStatus, Member
from ..ads import Campaign
from ..booking import Evaluation, Session, SessionState, Workshop
from ..listings import SessionCard, catalogue_keys, sortable_instant
from ..ports import EntityKind, Index
from ..tutorials import Tutorial
from . import kinds
from .feed import (
    Record,
    campaign_record,
    encode,
    forget_member,
    profile_record,
    record,
    tutorial_record,
    workshop_record,
)

if TYPE_CHECKING:
    from .units import Tx

__all__ = [
    "SESSION_CARDS",
    "WORKSHOP_RATINGS",
    "WorkshopRating",
    "projection_of",
    "published_by",
    "rate_again",
    "session_card",
]


@attrs.frozen(kw_only=True)
class WorkshopRating:
    """A workshop's evaluations so far (BOOK-40): how many, and the sum of every score."""

    id: str  # the workshop
    evaluations: int = 0
    score_sum: int = 0

    @property
    def rating(self) -> float | None:
        """The mean score out of 10 over every criterion of every evaluation."""
        return self.score_sum / (4 * self.evaluations) if self.evaluations else None


#: catalogue: planned sessions by start, by catalogue key and by workshop (``workshop:``).
SESSION_CARDS: EntityKind[SessionCard] = EntityKind(
    name="session_card", type=SessionCard,
    indexes=(
        Index(name="catalogue", keys=lambda c: (
            *catalogue_keys(c.domain, c.mode, c.locality), f"workshop:{c.workshop_id}"),
              order=lambda c: sortable_instant(c.start)),
    ),
    # written at each seat taken or given back, its keys unchanged; kept: without it a
    # booking lifecycle takes 4.5% more instructions and 7-10% more CPU time (bench
    # booking, 2026-12)
    keyed_by=attrgetter("domain", "mode", "locality", "workshop_id", "start"),
)
WORKSHOP_RATINGS: EntityKind[WorkshopRating] = EntityKind(
    name="workshop_rating", type=WorkshopRating)


def session_card(session: Session, workshop: Workshop) -> SessionCard:
    """What the catalogue shows of a planned session."""
    return SessionCard(
        session_id=session.id, workshop_id=workshop.id, organizer=workshop.organizer,
        title=workshop.title, domain=workshop.domain, mode=workshop.mode,
        locality=workshop.locality, start=session.start, end=session.end,
        cost=workshop.cost, capacity=session.capacity, seats_left=session.seats_left)


def _session_written(tx: Tx, session_id: str, old: Session | None, session: Session
                     ) -> None:
    """Its card shows the session as it is now, while it is planned; the feed has each
    new card, and a tombstone once it leaves the catalogue."""
    card = tx.uow.get(SESSION_CARDS, session_id)
    fresh = None
    if session.state is SessionState.PLANNED:
        fresh = session_card(session, tx.require(kinds.WORKSHOPS, session.workshop))
        tx.uow.put(SESSION_CARDS, session_id, fresh)
    elif card is not None:
        tx.uow.delete(SESSION_CARDS, session_id)
    if fresh != card and tx.shown(session.organizer):  # hidden: a tombstone already
        tx.uow.record_change("session", session_id, None if fresh is None else encode(fresh))


def _workshop_written(tx: Tx, workshop_id: str, old: Workshop | None, workshop: Workshop
                      ) -> None:
    """The feed has its public record; the cards of its planned sessions show what it
    says now (a purge erases its title and locality, ACC-7)."""
    record(tx, "workshop", workshop_id, old, workshop, workshop_record, workshop.organizer)
    if old is not None:
        for session in tx.find(kinds.SESSIONS, "workshop", workshop_id):
            if tx.uow.get(SESSION_CARDS, session.id) is not None:
                _session_written(tx, session.id, session, session)


def _tutorial_written(tx: Tx, tutorial_id: str, old: Tutorial | None, tutorial: Tutorial
                      ) -> None:
    if old is None or old.state is not tutorial.state or old.title != tutorial.title or (
            old.domain != tutorial.domain):  # a view changes none of it: no record
        record(tx, "tutorial", tutorial_id, old, tutorial, tutorial_record, tutorial.publisher)


def _campaign_written(tx: Tx, campaign_id: str, old: Campaign | None, campaign: Campaign
                      ) -> None:
    if old is None or old.state is not campaign.state or old.text != campaign.text or (
            old.visual != campaign.visual or old.link != campaign.link
            or old.domains != campaign.domains or old.start != campaign.start):
        record(tx, "campaign", campaign_id, old, campaign, campaign_record,  # not a serve
               campaign.owner)


def _member_written(tx: Tx, member_id: str, old: Member | None, member: Member) -> None:
    """The feed has the profile while others may see it; a deactivation hides what the
    member published too (tombstones), a reactivation shows it again, a purge erases it
    all (ACC-7)."""
    if member.status is AccountStatus.PURGED and (
            old is None or old.status is not AccountStatus.PURGED):
        forget_member(tx, member, published_by(tx, member.id))
        return
    if old is None or old.status is not member.status or old.profile != member.profile or (
            old.category is not member.category):
        record(tx, "profile", member_id, old, member, profile_record, None)
    was_shown = old is not None and old.status is AccountStatus.ACTIVE
    if old is not None and was_shown != (member.status is AccountStatus.ACTIVE):
        _published_shown(tx, member.id, not was_shown)


def _published(tx: Tx, member_id: str) -> list[tuple[str, str, Record | None]]:
    """``(topic, id, public record now)`` of everything a member published that the feed
    may have recorded: workshops with their sessions, tutorials, campaigns."""
    from .ads import CAMPAIGNS  # noqa: PLC0415 - the areas import this module
    from .tutorials import TUTORIALS  # noqa: PLC0415

    found: list[tuple[str, str, Record | None]] = []
    for workshop in tx.find(kinds.WORKSHOPS, "organizer", member_id):
        found.append(("workshop", workshop.id, workshop_record(workshop)))
        found += [("session", s.id, tx.uow.get(SESSION_CARDS, s.id))
                  for s in tx.find(kinds.SESSIONS, "workshop", workshop.id)]
    found += [("tutorial", t.id, tutorial_record(t))
              for t in tx.find(TUTORIALS, "publisher", member_id)]
    found += [("campaign", c.id, campaign_record(c))
              for c in tx.find(CAMPAIGNS, "owner", member_id)]
    return found


def _published_shown(tx: Tx, member_id: str, shown: bool) -> None:
    """Record what a member published again (``shown``) or tombstones for it."""
    for topic, entity_id, public in _published(tx, member_id):
        if public is not None:
            tx.uow.record_change(topic, entity_id, encode(public) if shown else None)


def published_by(tx: Tx, member_id: str) -> dict[str, list[str]]:
    """What a member published that the feed may have recorded, by topic."""
    found: dict[str, list[str]] = {"workshop": [], "session": [], "tutorial": [],
                                   "campaign": []}
    for topic, entity_id, _ in _published(tx, member_id):
        found[topic].append(entity_id)
    return found


def _evaluation_written(tx: Tx, evaluation_id: str, old: Evaluation | None,
                        evaluation: Evaluation) -> None:
    rating = tx.uow.get(WORKSHOP_RATINGS, evaluation.workshop) or WorkshopRating(
        id=evaluation.workshop)
    tx.uow.put(WORKSHOP_RATINGS, rating.id, attrs.evolve(
        rating, evaluations=rating.evaluations + 1,
        score_sum=rating.score_sum + sum(evaluation.scores)))


def rate_again(tx: Tx, workshop_id: str) -> None:
    """Count a workshop's rating again from its evaluations (a read side being rebuilt)."""
    scores = [sum(e.scores) for e in tx.find(kinds.EVALUATIONS, "workshop", workshop_id)]
    if scores:
        tx.uow.put(WORKSHOP_RATINGS, workshop_id, WorkshopRating(
            id=workshop_id, evaluations=len(scores), score_sum=sum(scores)))
    else:
        tx.uow.delete(WORKSHOP_RATINGS, workshop_id)


#: What writing an entity of each kind (by name) changes on the read side, given the
#: entity as it was and as it is. An evaluation is written once (BOOK-40), so its
#: workshop's rating adds it.
_PROJECTIONS: Final[dict[str, Callable[[Tx, str, Any, Any], None]]] = {
    kinds.SESSIONS.name: _session_written,
    kinds.WORKSHOPS.name: _workshop_written,
    kinds.EVALUATIONS.name: _evaluation_written,
    kinds.MEMBERS.name: _member_written,
    "tutorial": _tutorial_written,  # the names of service.tutorials.TUTORIALS and
    "ad_campaign": _campaign_written,  # service.ads.CAMPAIGNS (checked by a test)
}


def projection_of(kind: EntityKind[Any]) -> Callable[[Tx, str, Any, Any], None] | None:
    """What writing an entity of ``kind`` changes on the read side (None: nothing)."""
    return _PROJECTIONS.get(kind.name)
