"""The change feed as the service writes and reads it: public records, kept in step.

Whenever a command writes a workshop, a session, a tutorial, a campaign or a member, the
unit records, beside it, the entity's public record if that record changed
(:meth:`~skilltroc_core.ports.UnitOfWork.record_change`): what a host's search engine or
cache copies. An entity that leaves public view (a workshop deleted, a session cancelled,
held or not held, a tutorial deleted, a campaign at its goal, a member deactivated) gets
a tombstone. A purge forgets every change about the member and what they published
(ACC-7) and leaves tombstones in their place. :func:`read_changes` turns the store's
changes back into typed records.
"""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

import attrs

from ..accounts import AccountStatus, Member
from ..ads import Campaign, CampaignState
from ..booking import Workshop, WorkshopState
from ..listings import (
    ChangeRecord,
    PublicCampaign,
    PublicProfile,
    PublicTutorial,
    PublicWorkshop,
    SessionCard,
)
from ..ports import Change
from ..refusals import refusal
from ..tutorials import Tutorial, TutorialState

if TYPE_CHECKING:
    from .units import Tx

__all__ = ["RECORDS", "Record", "campaign_record", "encode", "forget_member", "profile_record",
           "read_changes", "record", "tutorial_record", "workshop_record"]

Record: TypeAlias = PublicWorkshop | SessionCard | PublicTutorial | PublicCampaign | PublicProfile
R = TypeVar("R")

#: The record type of each topic.
RECORDS: Final[Mapping[str, type[Any]]] = {
    "workshop": PublicWorkshop, "session": SessionCard, "tutorial": PublicTutorial,
    "campaign": PublicCampaign, "profile": PublicProfile,
}


def workshop_record(workshop: Workshop) -> PublicWorkshop | None:
    if workshop.state is not WorkshopState.ACTIVE:
        return None
    return PublicWorkshop(
        workshop_id=workshop.id, organizer=workshop.organizer, title=workshop.title,
        description=workshop.description, domain=workshop.domain, mode=workshop.mode,
        locality=workshop.locality, cost=workshop.cost, capacity=workshop.capacity,
        duration_minutes=workshop.duration_minutes, media=workshop.media,
        created_at=workshop.created_at)


def tutorial_record(tutorial: Tutorial) -> PublicTutorial | None:
    if tutorial.state is not TutorialState.PUBLISHED:
        return None
    return PublicTutorial(tutorial_id=tutorial.id, publisher=tutorial.publisher,
                          title=tutorial.title, domain=tutorial.domain,
                          published_at=tutorial.published_at)


def campaign_record(campaign: Campaign) -> PublicCampaign | None:
    if campaign.state not in (CampaignState.SCHEDULED, CampaignState.RUNNING):
        return None
    return PublicCampaign(campaign_id=campaign.id, owner=campaign.owner, text=campaign.text,
                          visual=campaign.visual, link=campaign.link, domains=campaign.domains,
                          start=campaign.start, running=campaign.state is CampaignState.RUNNING)


def profile_record(member: Member) -> PublicProfile | None:
    if member.status is not AccountStatus.ACTIVE:
        return None
    profile = member.profile
    return PublicProfile(
        member_id=member.id, kind=member.kind, category=member.category,
        display_name=profile.display_name, photo=profile.photo, bio=profile.bio,
        description=profile.description, locality=profile.locality, website=profile.website)


def _json_value(value: object) -> object:
    """What the feed's JSON writes for a value JSON has no form of: an instant as ISO
    text. (The records' enums are text enums: JSON writes them as their text.)"""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


#: One encoder for every record (it keeps no state between calls).
_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True,
                                default=_json_value)
#: The field names of each record class, read once.
_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def encode(public: Record) -> str:
    """A record as the feed keeps it: JSON with its field names."""
    cls = type(public)
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in attrs.fields(cls))
    return _JSON.encode({name: getattr(public, name) for name in names})


def _decoded(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    if kind is datetime:
        return datetime.fromisoformat(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    origin = typing.get_origin(kind)
    if origin is tuple:
        return tuple(value)
    if origin is not None:  # X | None: the type that is not None
        options = [option for option in typing.get_args(kind) if option is not type(None)]
        return _decoded(options[0], value) if len(options) == 1 else value
    return value


def decode(topic: str, data: str) -> Record:
    """The record of a change of ``topic`` (see :func:`encode`)."""
    cls = RECORDS[topic]
    hints = typing.get_type_hints(cls)
    raw = json.loads(data)
    record: Record = cls(**{field.name: _decoded(hints[field.name], raw[field.name])
                            for field in attrs.fields(cls)})
    return record


def record(tx: Tx, topic: str, entity_id: str, old: R | None, new: R | None,
           public: Callable[[R], Record | None], owner: str | None) -> None:
    """Record the public record of an entity just written, if it is not the one it had.

    Nothing while its ``owner`` (organizer, publisher) is hidden (ACC-7): the feed holds
    a tombstone for it since the deactivation, and its record again from the
    reactivation. ``owner`` None: the record says itself whether it is shown (a profile).
    """
    before = None if old is None else public(old)
    after = None if new is None else public(new)
    if before != after and (owner is None or tx.shown(owner)):
        tx.uow.record_change(topic, entity_id, None if after is None else encode(after))


def forget_member(tx: Tx, member: Member, published: Mapping[str, list[str]]) -> None:
    """ACC-7: the feed forgets every change about a purged member and what they published
    (``published``: topic -> ids), and records tombstones in their place."""
    for topic, ids in (("profile", [member.id]), *published.items()):
        for entity_id in ids:
            tx.uow.forget_changes(topic, entity_id)
            tx.uow.record_change(topic, entity_id, None)


def read_changes(changes: list[Change]) -> tuple[ChangeRecord, ...]:
    """The store's changes as typed records (None: a tombstone); a change this version
    cannot read (another topic or shape, from a newer writer) is a :class:`StoreError`."""
    try:
        return tuple(ChangeRecord(
            position=change.position, topic=change.topic, entity_id=change.entity_id,
            record=None if change.data is None else decode(change.topic, change.data))
            for change in changes)
    except (KeyError, TypeError, ValueError) as exc:
        raise refusal("feed_change_unreadable") from exc
