"""The read side: what the catalogue pages read, kept in step in each command's unit.

Workshops, tutorials, members and feed messages carry their own ordered indexes
(:mod:`.kinds`, :mod:`.tutorials`). A session in the catalogue needs its workshop's facts
(domain, mode, locality, cost, title), so each planned session has a
:class:`~skilltroc_core.listings.SessionCard` of its own, and each workshop a
:class:`WorkshopRating` (its evaluations' count and score sum). :func:`project` writes
them whenever the unit writes what they are made from (:meth:`Tx.put
<skilltroc_core.service.units.Tx.put>` calls it), so they can never fall behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import attrs

from ..booking import Evaluation, Session, SessionState, Workshop
from ..listings import SessionCard, catalogue_keys, sortable_instant
from ..ports import EntityKind, Index
from . import kinds

if TYPE_CHECKING:
    from .units import Tx

__all__ = [
    "SESSION_CARDS",
    "WORKSHOP_RATINGS",
    "WorkshopRating",
    "project",
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


def _session_written(tx: Tx, session_id: str, session: Session) -> None:
    card = tx.uow.get(SESSION_CARDS, session_id)
    if session.state is not SessionState.PLANNED:
        if card is not None:
            tx.uow.delete(SESSION_CARDS, session_id)
        return
    workshop = tx.require(kinds.WORKSHOPS, session.workshop)
    tx.uow.put(SESSION_CARDS, session_id, session_card(session, workshop))


def _workshop_written(tx: Tx, workshop_id: str, workshop: Workshop) -> None:
    """The cards of its planned sessions show what the workshop says now (a purge erases
    its title and locality, ACC-7)."""
    for session in tx.find(kinds.SESSIONS, "workshop", workshop_id):
        if tx.uow.get(SESSION_CARDS, session.id) is not None:
            _session_written(tx, session.id, session)


def _evaluation_written(tx: Tx, evaluation_id: str, evaluation: Evaluation) -> None:
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


#: What writing an entity of each kind (by name) changes on the read side. An evaluation
#: is written once (BOOK-40), so its workshop's rating adds it.
_PROJECTIONS: Final[dict[str, Callable[[Tx, str, Any], None]]] = {
    kinds.SESSIONS.name: _session_written,
    kinds.WORKSHOPS.name: _workshop_written,
    kinds.EVALUATIONS.name: _evaluation_written,
}


def project(tx: Tx, kind: EntityKind[Any], entity_id: str, entity: object) -> None:
    """Bring the read side in step with ``entity`` just written (nothing for most kinds)."""
    projection = _PROJECTIONS.get(kind.name)
    if projection is not None:
        projection(tx, entity_id, entity)
