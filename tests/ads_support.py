"""Helpers for the tutorial and ad tests: professionals with a complete profile, funded
members, campaigns with sensible defaults, and the codes of a refusal.

Not a test module (no ``test_`` prefix); the test files import from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pytest

from skilltroc_core.errors import SkilltrocError
from skilltroc_core.ledger import TransferKind
from skilltroc_core.service import Skilltroc

from .members_support import signup_confirmed

__all__ = [
    "VIDEO",
    "WATCH",
    "code",
    "complete_profile",
    "launch",
    "member_with",
    "professional",
    "statement_kinds",
]

VIDEO = "dQw4w9WgXcQ"
WATCH = f"https://www.youtube.com/watch?v={VIDEO}"


def complete_profile(service: Skilltroc, member_id: str) -> None:
    """PROF-6: every required field of a professional profile."""
    service.update_profile(member_id, display_name=f"Shop {member_id}", description="We sell",
                           photo="shop.jpg", locality="Lyon")


def member_with(service: Skilltroc, name: str, stars: int, *, kind: str = "individual",
                category: str | None = None) -> str:
    """An active member with exactly ``stars`` available (bonus 10 + a purchase)."""
    member = signup_confirmed(service, name, kind=kind, category=category)
    if stars > 10:
        service.buy_stars(member, stars - 10, f"pay-{name}")
    assert service.balance(member).available == stars
    return member


def professional(service: Skilltroc, name: str, stars: int = 10, *,
                 complete: bool = True) -> str:
    """A professional (category company) with ``stars``, profile complete by default."""
    member = member_with(service, name, stars, kind="professional", category="company")
    if complete:
        complete_profile(service, member)
    return member


def launch(service: Skilltroc, owner: str, *, start: datetime, budget: int = 10,
           domains: Sequence[str] = ("cooking",), text: str = "Come and see",
           link: str | None = None) -> str:
    """A campaign with a rights-free visual; returns its id."""
    return service.create_campaign(owner, budget=budget, visual="ad.png",
                                   visual_rights_free=True, text=text, start=start,
                                   domains=list(domains), link=link)


def code(error: pytest.ExceptionInfo[SkilltrocError]) -> tuple[str, str | None]:
    """A refusal's stable code and rule ID."""
    return error.value.code, error.value.rule


def statement_kinds(service: Skilltroc, member: str) -> list[tuple[TransferKind, int]]:
    return [(line.kind, line.amount) for line in service.statement(member, limit=500).items]
