"""Tutorials (TUTO-1..5): videos in a skill domain, their views and their publisher's stars.

Pure domain: frozen values, the tutorial lifecycle as a transition table, URL parsing
and :func:`record_view`, which decides whether one view report counts and which payout
thresholds it crosses. The service layer loads, calls and saves
(:mod:`skilltroc_core.service.tutorials`).

A tutorial is a YouTube video (watch, ``youtu.be``, shorts and embed links are
accepted; the 11-character video id is checked) or an upload reference, published by
someone who attests holding its rights (TUTO-5).

Payout history (TUTO-2, DECISION): views and paid thresholds are counted per
**(publisher, video)** in a :class:`VideoHistory` that outlives the tutorial. Deletion is
soft, and a tutorial the same publisher publishes again for the same video continues
from the old counts, so deleting and re-publishing can never earn a threshold twice.
The same history also scopes the 24-hour de-duplication of a viewer (TUTO-4): a viewer
who watched the deleted tutorial an hour ago does not count again on its re-publication.
A publisher has at most one live tutorial per video.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import attrs

from .errors import (
    InvalidVideoError,
    RightsNotAttestedError,
    SkilltrocError,
)
from .refusals import refusal, shown, shown_link
from .rules import Policy
from .statemachine import Move, TransitionTable, transition

__all__ = [
    "TUTORIAL_LIFECYCLE",
    "InvalidVideoError",
    "RightsNotAttestedError",
    "Tutorial",
    "TutorialState",
    "VideoHistory",
    "VideoKind",
    "VideoSource",
    "ViewOutcome",
    "ViewVerdict",
    "check_viewer",
    "history_id",
    "record_view",
    "tutorial_mark_id",
    "upload_source",
    "viewer_mark_id",
    "youtube_source",
]

_VIDEO_ID: Final = re.compile(r"[A-Za-z0-9_-]{11}")
#: Hosts serving each link form; the embed form also comes from the privacy-enhanced host.
_WATCH_HOSTS: Final = frozenset({"youtube.com", "www.youtube.com", "m.youtube.com",
                                 "music.youtube.com"})
_SHORT_HOSTS: Final = frozenset({"youtu.be", "www.youtu.be"})
_EMBED_HOSTS: Final = _WATCH_HOSTS | {"youtube-nocookie.com", "www.youtube-nocookie.com"}
_MAX_URL: Final = 2048
_MAX_UPLOAD_REF: Final = 500
_MAX_VIEWER: Final = 200


class VideoKind(StrEnum):
    YOUTUBE = "youtube"
    UPLOAD = "upload"


@attrs.frozen(kw_only=True)
class VideoSource:
    """Where a tutorial's video is: a YouTube video id, or the host's upload reference."""

    kind: VideoKind
    ref: str

    @property
    def key(self) -> str:
        """The video's identity for payouts and de-duplication (``youtube:<id>``)."""
        return f"{self.kind.value}:{self.ref}"

    @property
    def url(self) -> str | None:
        """The canonical watch link of a YouTube video; None for an upload."""
        if self.kind is VideoKind.YOUTUBE:
            return f"https://www.youtube.com/watch?v={self.ref}"
        return None


def _bad_video(raw: object, key: str, **facts: Any) -> SkilltrocError:
    return refusal(key, url=shown_link(raw), **facts)


def youtube_source(url: object) -> VideoSource:
    """The video of a YouTube link (TUTO-1).

    Accepted: ``https://www.youtube.com/watch?v=ID`` (also ``m.``, ``music.`` and no
    ``www.``; other query parameters are ignored), ``https://youtu.be/ID``,
    ``https://www.youtube.com/shorts/ID`` and ``https://www.youtube.com/embed/ID`` (also
    on ``youtube-nocookie.com``), over http or https. ID is exactly 11 characters of
    ``[A-Za-z0-9_-]``. Anything else is refused with :class:`InvalidVideoError`.
    """
    if not isinstance(url, str):
        raise refusal("video_link_not_text", got=type(url).__name__)
    text = url.strip()
    if not text or len(text) > _MAX_URL or any(c.isspace() or ord(c) < 32 for c in text):
        raise _bad_video(url, "video_link_shape")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise _bad_video(url, "video_link_malformed") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise _bad_video(url, "video_link_scheme")
    if parts.username is not None or parts.password is not None or port is not None:
        raise _bad_video(url, "video_link_credentials")
    host = (parts.hostname or "").lower()
    path = parts.path
    segments = [s for s in path.split("/") if s]
    video: str | None = None
    if host in _SHORT_HOSTS and len(segments) == 1:
        video = segments[0]
    elif host in _WATCH_HOSTS and path.rstrip("/") == "/watch":
        values = parse_qs(parts.query, keep_blank_values=True).get("v", [])
        if len(values) != 1:
            raise _bad_video(url, "video_link_watch_parameter")
        video = values[0]
    elif len(segments) == 2 and (
        (host in _WATCH_HOSTS and segments[0] == "shorts")
        or (host in _EMBED_HOSTS and segments[0] == "embed")
    ):
        video = segments[1]
    else:
        raise _bad_video(url, "video_link_not_youtube")
    if not _VIDEO_ID.fullmatch(video):
        raise _bad_video(url, "video_id_invalid", video=shown(video))
    return VideoSource(kind=VideoKind.YOUTUBE, ref=video)


def upload_source(reference: object) -> VideoSource:
    """An uploaded video, named by the host's storage reference (TUTO-1)."""
    if not isinstance(reference, str) or not reference.strip():
        raise refusal("upload_reference_empty", got=shown(reference))
    ref = reference.strip()
    if len(ref) > _MAX_UPLOAD_REF or any(ord(c) < 32 for c in ref):
        raise refusal("upload_reference_too_long", limit=_MAX_UPLOAD_REF)
    return VideoSource(kind=VideoKind.UPLOAD, ref=ref)


def history_id(publisher: str, source: VideoSource) -> str:
    """The payout history id of ``source`` published by ``publisher`` as earlier versions
    made it (TUTO-2). It spells the video's reference, so the service now gives new
    histories ids of their own; this one only finds the histories made before."""
    return f"{publisher}|{source.key}"


def viewer_mark_id(history: str, viewer: str) -> str:
    """The id of ``viewer``'s last counted view of a video (TUTO-4); length-prefixed so
    that no pair of texts can collide."""
    return f"{len(history)}:{history}|{viewer}"


def tutorial_mark_id(tutorial_id: str, viewer: str) -> str:
    """The id of ``viewer``'s last counted view of one tutorial (TUTO-4), whatever its
    video was; "t" first, so it never meets a video's mark (those start with a digit)."""
    return "t" + viewer_mark_id(tutorial_id, viewer)


class TutorialState(StrEnum):
    PUBLISHED = "published"
    DELETED = "deleted"


TUTORIAL_LIFECYCLE: TransitionTable[TutorialState] = TransitionTable(
    "tutorial", TutorialState, TutorialState.PUBLISHED, frozenset({TutorialState.DELETED}),
    [
        Move(source=TutorialState.PUBLISHED, trigger="edit", target=TutorialState.PUBLISHED,
             rule="TUTO-1"),
        Move(source=TutorialState.PUBLISHED, trigger="delete", target=TutorialState.DELETED,
             rule="TUTO-1"),
    ],
)


@attrs.frozen(kw_only=True)
class Tutorial:
    """A published video (TUTO-1), with the views counted and the stars paid on it.

    ``views`` and ``stars_earned`` count what happened while this tutorial was the live
    one for its video (TUTO-3); the totals across re-publications are in its
    :class:`VideoHistory`.
    """

    id: str
    publisher: str
    title: str
    domain: str
    source: VideoSource
    published_at: datetime
    rights_attested: bool = True  # TUTO-5: a tutorial is never stored without it
    state: TutorialState = TutorialState.PUBLISHED
    views: int = 0
    stars_earned: int = 0
    edited_at: datetime | None = None
    deleted_at: datetime | None = None
    #: The id of the video's payout history (TUTO-2), which the service gives: an id of
    #: its own, so that no id or ledger key spells the video's reference (a tutorial
    #: stored by an earlier version has the former id, made from the reference).
    history: str = attrs.field(
        default=attrs.Factory(lambda self: history_id(self.publisher, self.source),
                              takes_self=True))

    @property
    def is_live(self) -> bool:
        return self.state is TutorialState.PUBLISHED

    def _to(self, trigger: str) -> TutorialState:
        return transition(TUTORIAL_LIFECYCLE, self.state, trigger, what=f"tutorial {self.id}",
                          rule="TUTO-1")

    def edited(self, now: datetime, *, title: str, domain: str, source: VideoSource,
               history: str) -> Tutorial:
        return attrs.evolve(self, state=self._to("edit"), title=title, domain=domain,
                            source=source, history=history, edited_at=now)

    def deleted(self, now: datetime) -> Tutorial:
        """Soft deletion: the record and its counts stay (TUTO-2)."""
        return attrs.evolve(self, state=self._to("delete"), deleted_at=now)


@attrs.frozen(kw_only=True)
class VideoHistory:
    """Counted views and paid thresholds of one video by one publisher (TUTO-2, DECISION).

    Kept across edits, deletions and re-publications; ``stars_paid`` only grows and is
    always ``counted_views // views_per_tutorial_star``.
    """

    id: str
    publisher: str
    video: str
    counted_views: int = 0
    stars_paid: int = 0


class ViewVerdict(StrEnum):
    COUNTED = "counted"
    OWN_VIEW = "own_view"  # TUTO-4: the publisher's own views never count
    WITHIN_WINDOW = "within_window"  # TUTO-4: once per viewer per 24 hours


@attrs.frozen(kw_only=True)
class ViewOutcome:
    """What one view report does: its verdict, the new values, the thresholds it paid.

    ``thresholds`` are the view counts newly reached (100, 200, ...): each pays the
    publisher one star (TUTO-2).
    """

    verdict: ViewVerdict
    view_id: str
    tutorial: Tutorial
    history: VideoHistory
    thresholds: tuple[int, ...] = ()

    @property
    def counted(self) -> bool:
        return self.verdict is ViewVerdict.COUNTED


def check_viewer(value: object, what: str = "viewer") -> str:
    """A viewer (member id or anonymous visitor id) or a view id: short non-empty text."""
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_VIEWER:
        raise refusal("viewer_invalid", field=what, limit=_MAX_VIEWER, got=shown(value))
    return value


def record_view(
    tutorial: Tutorial,
    viewer: str,
    now: datetime,
    view_id: str,
    *,
    history: VideoHistory,
    last_counted_at: datetime | None,
    policy: Policy,
) -> ViewOutcome:
    """Decide whether ``viewer``'s view of ``tutorial`` at ``now`` counts (TUTO-2/4).

    ``history`` is the tutorial's :class:`VideoHistory`; ``last_counted_at`` the
    instant of this viewer's last counted view of the same video (None if never). A view
    counts unless it is the publisher's own or comes less than the policy window
    (24 hours) after the viewer's last counted one; at exactly 24 hours it counts. A
    counted view that makes the video's count reach a multiple of 100 pays one star per
    multiple reached and not paid before. Repeated ``view_id`` reports are the service's
    concern (it remembers each id). Raises if the tutorial is deleted.
    """
    check_viewer(viewer)
    check_viewer(view_id, "view id")
    if not tutorial.is_live:
        raise refusal("tutorial_deleted", tutorial=tutorial.id, state=str(tutorial.state))
    if history.id != tutorial.history:
        raise refusal("history_mismatch", history=history.id, tutorial=tutorial.id)
    if viewer == tutorial.publisher:
        return ViewOutcome(verdict=ViewVerdict.OWN_VIEW, view_id=view_id, tutorial=tutorial,
                           history=history)
    # a difference, not a sum: a sum may pass year 9999
    if last_counted_at is not None and now - last_counted_at < policy.view_dedup_window:
        return ViewOutcome(verdict=ViewVerdict.WITHIN_WINDOW, view_id=view_id,
                           tutorial=tutorial, history=history)
    views = history.counted_views + 1
    per_star = policy.views_per_tutorial_star
    due = views // per_star if per_star > 0 else 0
    thresholds = tuple(n * per_star for n in range(history.stars_paid + 1, due + 1))
    return ViewOutcome(
        verdict=ViewVerdict.COUNTED,
        view_id=view_id,
        tutorial=attrs.evolve(tutorial, views=tutorial.views + 1,
                              stars_earned=tutorial.stars_earned + len(thresholds)),
        history=attrs.evolve(history, counted_views=views,
                             stars_paid=max(history.stars_paid, due)),
        thresholds=thresholds,
    )
