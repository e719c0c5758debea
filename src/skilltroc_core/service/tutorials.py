"""Tutorial commands (TUTO-1..5): publish, edit, delete, record views, "my tutorials".

Views are counted per (publisher, video) in a :class:`~skilltroc_core.tutorials.VideoHistory`
that outlives deletions (see :mod:`skilltroc_core.tutorials` for that DECISION). Each
payout is a ``TUTORIAL_PAYOUT`` issuance carrying a ledger idempotency key made of the
history and the threshold, so even a bug elsewhere could not pay one threshold twice: the
ledger would refuse the second payment.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from ..accounts import AccountStatus, Member
from ..frozen import evolve
from ..ledger import TransferKind
from ..listings import catalogue_keys, descending, newest_first, word_keys
from ..ports import EntityKind, Index
from ..refusals import refusal, shown, shown_id
from ..tutorials import (
    Tutorial,
    TutorialState,
    VideoHistory,
    VideoSource,
    ViewVerdict,
    check_viewer,
    history_id,
    tutorial_mark_id,
    upload_source,
    viewer_mark_id,
    youtube_source,
)
from ..tutorials import record_view as decide_view
from ..unset import UNSET, Unset
from . import kinds
from .context import Area, ServiceContext
from .registry import ANYONE, HOST, MEMBER, OWNER, command, query
from .units import Tx

__all__ = [
    "TUTORIALS", "VIDEO_HISTORIES", "VIEWER_MARKS", "TutorialService", "TutorialStats",
    "ViewerMark", "attached_tutorials",
]



@attrs.frozen(kw_only=True)
class ViewerMark:
    """When a viewer's last counted view of one video was (TUTO-4)."""

    id: str
    counted_at: datetime


@attrs.frozen(kw_only=True)
class TutorialStats:
    """One line of "my tutorials" (TUTO-3): the tutorial, its views and stars earned.

    ``views``/``stars_earned`` count this tutorial; ``video_views``/``video_stars`` the
    same video by the same publisher over every publication of it (TUTO-2).
    """

    tutorial: Tutorial
    views: int
    stars_earned: int
    video_views: int
    video_stars: int


TUTORIALS: EntityKind[Tutorial] = EntityKind(
    name="tutorial", type=Tutorial,
    indexes=(
        Index(name="publisher", keys=lambda t: (t.publisher,)),
        # One live tutorial per publisher and video (the payout history's key, TUTO-2).
        Index(name="live_video", keys=lambda t: (t.history,) if t.is_live else (),
              unique=True),
        # The catalogue: published tutorials by domain and word, newest first...
        Index(name="catalogue", keys=lambda t: (
            (*catalogue_keys(t.domain), *word_keys(t.title, t.domain))
            if t.state is TutorialState.PUBLISHED else ()),
              order=lambda t: newest_first(t.published_at)),
        # ... and by domain, most viewed first.
        Index(name="most_viewed", keys=lambda t: (
            catalogue_keys(t.domain) if t.state is TutorialState.PUBLISHED else ()),
              order=lambda t: descending(t.views)),
    ),
)
def video_key(publisher: str, video: str) -> str:
    """The index key of one publisher's video (its reference, ``upload:...``)."""
    return f"{publisher}|{video}"


VIDEO_HISTORIES: EntityKind[VideoHistory] = EntityKind(
    name="tutorial_video_history", type=VideoHistory,
    indexes=(
        # A publisher's video finds its history (TUTO-2); a purge erases the reference,
        # and the key with it.
        Index(name="video", keys=lambda h: (video_key(h.publisher, h.video),) if h.video
              else (), unique=True),
        Index(name="publisher", keys=lambda h: (h.publisher,)),
    ),
)

VIEWER_MARKS: EntityKind[ViewerMark] = EntityKind(name="tutorial_viewer_mark", type=ViewerMark)


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise refusal("text_required", rule="TUTO-1", field=what)
    text = value.strip()
    if len(text) > limit:
        raise refusal("text_too_long", rule="TUTO-1", field=what, limit=limit,
                      length=len(text))
    return text


def _source(youtube_url: object, upload: object) -> VideoSource:
    if (youtube_url is None) == (upload is None):
        raise refusal("video_source_choice")
    if youtube_url is not None:
        return youtube_source(youtube_url)
    return upload_source(upload)


def attached_tutorials(tx: Tx, member_id: str) -> tuple[str, ...]:
    """PROF-2: the tutorials a member published and has not deleted, oldest first."""
    return tuple(t.id for t in tx.find(TUTORIALS, "publisher", member_id) if t.is_live)


class TutorialService(Area):
    """Publish tutorials and count their views; publishers earn a star per 100 views."""

    def register(self, context: ServiceContext) -> None:
        context.purge_hooks.append(self._purge_tutorials)

    def _own_tutorial(self, tx: Tx, member: Member, tutorial_id: object) -> Tutorial:
        tutorial = tx.require(TUTORIALS, tutorial_id)
        if tutorial.publisher != member.id:
            raise refusal("not_tutorial_publisher", tutorial=tutorial.id)
        return tutorial

    def _claim_video(self, tx: Tx, tutorial: Tutorial) -> Tutorial:
        """``tutorial`` with the payout history of its video, which now exists: the one
        this publisher's video already has (or had under the id of earlier versions, which
        spelled the reference), else a new one with an id of its own; one live tutorial
        per video."""
        video = tutorial.source.key
        found = tx.find_one(VIDEO_HISTORIES, "video", video_key(tutorial.publisher, video))
        if found is None:
            found = tx.get(VIDEO_HISTORIES, history_id(tutorial.publisher, tutorial.source))
        if found is None:
            found = VideoHistory(id=tx.new_id("vh"), publisher=tutorial.publisher, video=video)
            tx.put(VIDEO_HISTORIES, found.id, found)
        history = found.id
        for other in tx.find(TUTORIALS, "live_video", history):
            if other.id != tutorial.id:
                raise refusal("video_already_published", tutorial=other.id)
        return evolve(tutorial, history=history)

    @command(actor=MEMBER, rules=("TUTO-1", "TUTO-5"))
    def publish_tutorial(
        self,
        member_id: str,
        *,
        title: str,
        domain: str,
        rights_attested: bool,
        youtube_url: str | None = None,
        upload: str | None = None,
    ) -> str:
        """TUTO-1/5: publish a YouTube video or an upload, attesting its rights.

        Individuals and professionals may publish; professionals need a complete
        profile (PROF-6). Publishing a video this publisher published before (and
        deleted) continues its view count and paid thresholds (TUTO-2). Returns the id.
        """
        policy = self.policy
        source = _source(youtube_url, upload)
        title = _text(title, "title", policy.max_name_length * 2)
        domain = _text(domain, "domain", policy.max_name_length)
        if rights_attested is not True:
            raise refusal("rights_not_attested")
        with self.command() as tx:
            member = tx.actor(member_id)
            member.require_complete_profile(
                "profile_incomplete_for_tutorials", self.policy.profile_required_fields)
            tutorial_id = tx.new_id("tuto")
            tutorial = self._claim_video(tx, Tutorial(
                id=tutorial_id, publisher=member.id, title=title, domain=domain,
                source=source, published_at=tx.now))
            tx.put(TUTORIALS, tutorial_id, tutorial)
            return tutorial_id

    @command(actor=OWNER, rules=("TUTO-1",))
    def edit_tutorial(
        self,
        member_id: str,
        tutorial_id: str,
        *,
        title: str | Unset = UNSET,
        domain: str | Unset = UNSET,
        youtube_url: str | Unset = UNSET,
        upload: str | Unset = UNSET,
        rights_attested: bool = False,
    ) -> Tutorial:
        """TUTO-1: the publisher changes the title, the domain or the video, any time.

        A new video needs the rights attestation again (TUTO-5) and has its own history:
        views counted so far stay with the old video (TUTO-2).
        """
        policy = self.policy
        new_title = None if title is UNSET else _text(
            title, "title", policy.max_name_length * 2)
        new_domain = None if domain is UNSET else _text(
            domain, "domain", policy.max_name_length)
        new_source: VideoSource | None = None
        if youtube_url is not UNSET or upload is not UNSET:
            new_source = _source(None if youtube_url is UNSET else youtube_url,
                                 None if upload is UNSET else upload)
        with self.command() as tx:
            member = tx.actor(member_id)
            tutorial = self._own_tutorial(tx, member, tutorial_id)
            source = tutorial.source if new_source is None else new_source
            if source != tutorial.source and rights_attested is not True:
                raise refusal("rights_not_attested")
            edited = tutorial.edited(tx.now, title=new_title or tutorial.title,
                                     domain=new_domain or tutorial.domain, source=source,
                                     history=tutorial.history)
            if source != tutorial.source:
                edited = self._claim_video(tx, edited)
            tx.put(TUTORIALS, edited.id, edited)
            return edited

    @command(actor=OWNER, rules=("TUTO-1",))
    def delete_tutorial(self, member_id: str, tutorial_id: str) -> None:
        """TUTO-1: the publisher deletes a tutorial; its counts and payouts are kept."""
        with self.command() as tx:
            member = tx.actor(member_id)
            tutorial = self._own_tutorial(tx, member, tutorial_id)
            tx.put(TUTORIALS, tutorial.id, tutorial.deleted(tx.now))

    @command(actor=HOST, rules=("TUTO-2", "TUTO-4"))
    def record_view(self, tutorial_id: str, viewer: str, view_id: str) -> ViewVerdict:
        """TUTO-2/4: a viewer (member id or anonymous visitor id) watched a tutorial.

        The view counts once per viewer per tutorial (and per video) per 24 hours, never
        the publisher's own; each 100th counted view pays the publisher one star,
        notified. A deactivated publisher's tutorials are hidden (ACC-7): their views are
        refused. A report whose ``view_id`` was seen before changes nothing and returns
        the first verdict
        (the same id with another tutorial or viewer is refused), for good, or within
        ``Policy.replay_window`` when the host sets one.
        """
        who = check_viewer(viewer)
        view = check_viewer(view_id, "view id")
        with self.command() as tx:
            key = f"tutorial_view:{view}"
            fingerprint = repr((tutorial_id, who))
            replayed = tx.replay(key, "record_view", fingerprint, "TUTO-4")
            if replayed is not None:
                return ViewVerdict(replayed)
            tutorial = self._shown_tutorial(tx, tutorial_id)
            history = tx.require(VIDEO_HISTORIES, tutorial.history)
            # TUTO-4: once per viewer per tutorial per 24 hours, and per video too, so
            # that neither changing a tutorial's video nor publishing the video again
            # makes the same viewer count twice within the window
            mark_ids = (viewer_mark_id(history.id, who), tutorial_mark_id(tutorial.id, who))
            marks = [mark.counted_at for mark_id in mark_ids
                     if (mark := tx.get(VIEWER_MARKS, mark_id)) is not None]
            outcome = decide_view(
                tutorial, who, tx.now, view, history=history,
                last_counted_at=max(marks, default=None), policy=self.policy,
            )
            if outcome.counted:
                tx.put(TUTORIALS, tutorial.id, outcome.tutorial)
                tx.put(VIDEO_HISTORIES, history.id, outcome.history)
                for mark_id in mark_ids:
                    tx.put(VIEWER_MARKS, mark_id, ViewerMark(id=mark_id, counted_at=tx.now))
                for threshold in outcome.thresholds:
                    tx.ledger.issue(
                        TransferKind.TUTORIAL_PAYOUT, tutorial.publisher, 1,
                        reference=f"tutorial:{tutorial.id}", at=tx.now,
                        key=f"tutorial_payout:{history.id}#{threshold}",
                    )
                    tx.notify("TutorialThresholdPaid", recipients=(tutorial.publisher,),
                              tutorial=tutorial.id, views=threshold, stars=1)
            tx.remember(key, "record_view", fingerprint, outcome.verdict.value,
                        keep_for=self.policy.replay_window)
            return outcome.verdict

    def _shown_tutorial(self, tx: Tx, tutorial_id: object) -> Tutorial:
        """The tutorial as others see it: hidden, as if unknown, while its publisher's
        account is deactivated (ACC-7); the publisher still sees it in "my tutorials"."""
        tutorial = tx.require(TUTORIALS, tutorial_id)
        publisher = tx.get(kinds.MEMBERS, tutorial.publisher)
        if publisher is not None and publisher.status is AccountStatus.DEACTIVATED:
            raise refusal("unknown_tutorial", id=shown_id(tutorial.id))
        return tutorial

    @query(actor=ANYONE, rules=("TUTO-1",))
    def tutorial(self, tutorial_id: str) -> Tutorial:
        """A tutorial, live or deleted (TUTO-1); hidden while its publisher's account is
        deactivated (ACC-7)."""
        with self.query() as tx:
            return self._shown_tutorial(tx, tutorial_id)

    @query(actor=ANYONE, rules=("TUTO-3",))
    def my_tutorials(self, member_id: str, *, include_deleted: bool = False
                     ) -> list[TutorialStats]:
        """TUTO-3: the member's tutorials with their views and the stars they earned."""
        if type(include_deleted) is not bool:
            raise refusal("flag_not_bool", rule="TUTO-3", field="include_deleted",
                          got=shown(include_deleted))
        with self.query() as tx:
            member = tx.member(member_id)
            lines = []
            for tutorial in tx.find(TUTORIALS, "publisher", member.id):
                if not tutorial.is_live and not include_deleted:
                    continue
                history = tx.get(VIDEO_HISTORIES, tutorial.history)
                lines.append(TutorialStats(
                    tutorial=tutorial, views=tutorial.views,
                    stars_earned=tutorial.stars_earned,
                    video_views=history.counted_views if history else 0,
                    video_stars=history.stars_paid if history else 0,
                ))
            return lines

    def _purge_tutorials(self, tx: Tx, member: Member) -> None:
        """ACC-7 (DECISION): a purged member's tutorials are deleted and their titles and
        video references erased; the numbers stay under the member's anonymous id."""
        tutorials = tx.find(TUTORIALS, "publisher", member.id)
        histories = {h.id: h for h in tx.find(VIDEO_HISTORIES, "publisher", member.id)}
        for tutorial in tutorials:  # those of earlier versions are not in the index
            if tutorial.history not in histories:
                history = tx.get(VIDEO_HISTORIES, tutorial.history)
                if history is not None:
                    histories[history.id] = history
        for history in histories.values():
            if history.video:
                tx.put(VIDEO_HISTORIES, history.id, evolve(history, video=""))
        for tutorial in tutorials:
            gone = tutorial.deleted(tx.now) if tutorial.is_live else tutorial
            tx.put(TUTORIALS, tutorial.id, evolve(
                gone, title="", source=evolve(gone.source, ref=""),
                state=TutorialState.DELETED))
