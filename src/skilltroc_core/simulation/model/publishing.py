"""Tutorials in the reference model: published, unpublished, and their views paying stars."""

from __future__ import annotations

from .part import Part
from .records import MTutorial

__all__ = ["Publishing"]


class Publishing(Part):
    """Tutorials and the verdict on each view report (TUTO-2/4): a star to the publisher
    every ``views_per_tutorial_star`` views counted."""

    def publish(self, tutorial_id: str, publisher: str, video: str) -> None:
        model = self.model
        tutorial = MTutorial(tutorial_id, publisher, video)
        model.tutorials[tutorial_id] = tutorial
        model.tutorials_of.setdefault(publisher, []).append(tutorial)
        model.live_videos.add((publisher, video))
        model.histories.setdefault((publisher, video), [0, 0])

    def unpublish(self, tutorial_id: str) -> None:
        tutorial = self.model.tutorials[tutorial_id]
        if tutorial.live:
            tutorial.live = False
            self.model.live_videos.discard((tutorial.publisher, tutorial.video))

    def unpublish_all(self, member_id: str) -> None:
        """A purge: the member's tutorials go (no stars move)."""
        for tutorial in self.model.tutorials_of.get(member_id, []):
            self.unpublish(tutorial.id)

    def remembers_view(self, view_id: str) -> bool:
        """Whether a report of ``view_id`` now only gets its first answer (TUTO-4)."""
        seen = self.model.view_ids.get(view_id)
        return seen is not None and self.model.remembered(seen[3])

    def view(self, tutorial_id: str, viewer: str, view_id: str) -> str:
        """The verdict the rules give this view report (TUTO-2/4), applied."""
        model = self.model
        if self.remembers_view(view_id):
            return model.view_ids[view_id][2]
        tutorial = model.tutorials[tutorial_id]
        if viewer == tutorial.publisher:
            verdict = "own_view"
        else:
            # TUTO-4: per tutorial, and per video (a video changed or published again)
            marks = [(tutorial.publisher, tutorial.video, viewer), ("", tutorial.id, viewer)]
            last = max((model.marks[m] for m in marks if m in model.marks), default=None)
            if last is not None and model.at < last + self.policy.view_dedup_window:
                verdict = "within_window"
            else:
                verdict = "counted"
                for mark in marks:
                    model.marks[mark] = model.at
                history = model.histories[(tutorial.publisher, tutorial.video)]
                history[0] += 1
                due = history[0] // self.policy.views_per_tutorial_star
                while history[1] < due:
                    history[1] += 1
                    model.issue(model.members[tutorial.publisher], 1)
                    model.note("TutorialThresholdPaid", [tutorial.publisher])
        model.view_ids[view_id] = (tutorial_id, viewer, verdict, model.at)
        return verdict
