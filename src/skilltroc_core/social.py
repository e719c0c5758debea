"""Contacts, follows, the feed and invitations (SOCIAL-1..3, SPONSOR-1)."""

from __future__ import annotations

from datetime import datetime

import attrs

__all__ = ["FeedMessage", "Follow", "Invitation", "follow_id"]


def follow_id(follower: str, followee: str) -> str:
    return f"{follower}>{followee}"


@attrs.frozen(kw_only=True)
class Follow:
    """``follower`` follows ``followee`` (SOCIAL-1); the followee sees it (SOCIAL-2)."""

    follower: str
    followee: str
    since: datetime

    @property
    def id(self) -> str:
        return follow_id(self.follower, self.followee)


@attrs.frozen(kw_only=True)
class FeedMessage:
    """A message a member posts on their feed; followers are told (SOCIAL-3)."""

    id: str
    author: str
    text: str
    posted_at: datetime


@attrs.frozen(kw_only=True)
class Invitation:
    """A member invited someone who is not a member yet (SPONSOR-1)."""

    id: str
    sponsor: str
    email: str
    sent_at: datetime
