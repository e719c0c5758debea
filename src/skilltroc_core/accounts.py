"""Members: accounts, their lifecycle, and profiles (ACC, PROF-1/2/6/7).

Pure domain: frozen values and the transitions between them; the service layer loads,
calls and saves. Email addresses are kept normalised (trimmed, lower-case: ACC-6).
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum

import attrs

from .errors import (
    InvalidEmailError,
)
from .refusals import refusal
from .rules import DEFAULT_POLICY, Policy
from .statemachine import Move, TransitionTable, transition

__all__ = [
    "ACCOUNT_LIFECYCLE",
    "PROFILE_REQUIRED_FIELDS",
    "AccountStatus",
    "InvalidEmailError",
    "Member",
    "MemberKind",
    "MemberView",
    "ProCategory",
    "Profile",
    "Provider",
    "normalize_email",
]


class MemberKind(StrEnum):
    INDIVIDUAL = "individual"
    PROFESSIONAL = "professional"


class ProCategory(StrEnum):
    """The nine professional categories (ACC-3, L429-439), in the FAQ's order."""

    COMPANY = "company"
    BRAND = "brand"
    CHAIN = "chain"
    CRAFTSPERSON = "craftsperson"
    VENUE_OR_LOCAL_SHOP = "venue_or_local_shop"
    LIBERAL_PROFESSION = "liberal_profession"
    HEALTH_PROFESSION = "health_profession"
    ASSOCIATION = "association"
    WEBSITE = "website"


class Provider(StrEnum):
    """Identity providers that vouch for an email (ACC-2)."""

    GOOGLE = "google"
    FACEBOOK = "facebook"


class AccountStatus(StrEnum):
    PENDING = "pending_confirmation"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    PURGED = "purged"


ACCOUNT_LIFECYCLE: TransitionTable[AccountStatus] = TransitionTable(
    "account",
    AccountStatus,
    AccountStatus.PENDING,
    frozenset({AccountStatus.PURGED}),
    [
        Move(source=AccountStatus.PENDING, trigger="confirm_email",
             target=AccountStatus.ACTIVE, rule="ACC-1"),
        Move(source=AccountStatus.PENDING, trigger="provider_signup",
             target=AccountStatus.ACTIVE, rule="ACC-2"),
        Move(source=AccountStatus.ACTIVE, trigger="deactivate",
             target=AccountStatus.DEACTIVATED, rule="ACC-7"),
        Move(source=AccountStatus.DEACTIVATED, trigger="reactivate",
             target=AccountStatus.ACTIVE, rule="ACC-7"),
        Move(source=AccountStatus.DEACTIVATED, trigger="purge",
             target=AccountStatus.PURGED, rule="ACC-7"),
    ],
)


_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def normalize_email(raw: object, policy: Policy | None = None) -> str:
    """The canonical form of an email address: trimmed and lower-case (ACC-6)."""
    if not isinstance(raw, str):
        raise refusal("email_not_text", got=type(raw).__name__)
    email = raw.strip().lower()
    limit = policy.max_email_length if policy else 254
    if len(email) > limit or not _EMAIL.match(email) or ".." in email:
        raise refusal("email_invalid")
    return email


@attrs.frozen(kw_only=True)
class Profile:
    """What a member shows of themselves (PROF-1, PROF-6)."""

    display_name: str | None = None
    photo: str | None = None
    bio: str | None = None
    description: str | None = None
    locality: str | None = None
    website: str | None = None


#: PROF-6 (DECISION): a professional profile is complete with these by default (the
#: policy's ``profile_required_fields``); the website is optional.
PROFILE_REQUIRED_FIELDS: tuple[str, ...] = DEFAULT_POLICY.profile_required_fields


@attrs.frozen(kw_only=True)
class Member:
    """An account. Only hashes of passwords and tokens are ever kept (ACC-4); its repr
    shows neither them nor the email (a repr ends up in logs and tracebacks)."""

    id: str
    email: str | None = attrs.field(repr=False)
    kind: MemberKind
    status: AccountStatus
    created_at: datetime
    category: ProCategory | None = None
    password_hash: str | None = attrs.field(default=None, repr=False)
    provider: Provider | None = None
    confirmation_token_hash: str | None = attrs.field(default=None, repr=False)
    reset_token_hash: str | None = attrs.field(default=None, repr=False)
    reset_expires_at: datetime | None = None
    confirmed_at: datetime | None = None
    deactivated_at: datetime | None = None
    purge_at: datetime | None = None
    profile: Profile = Profile()
    sponsor: str | None = None
    sponsor_rewarded: bool = False

    @property
    def is_professional(self) -> bool:
        return self.kind is MemberKind.PROFESSIONAL

    @property
    def display(self) -> str:
        """A name to show: the display name, else the email's local part, else the id."""
        if self.profile.display_name:
            return self.profile.display_name
        if self.email:
            return self.email.split("@", 1)[0]
        return self.id

    def missing_profile_fields(
        self, required: tuple[str, ...] = PROFILE_REQUIRED_FIELDS
    ) -> tuple[str, ...]:
        """PROF-6: the ``required`` fields still empty (professionals only; () otherwise)."""
        if not self.is_professional:
            return ()
        missing = []
        for name in required:
            value = self.category if name == "category" else getattr(self.profile, name)
            if not value:
                missing.append(name)
        return tuple(missing)

    def require_complete_profile(
        self, refused_as: str, required: tuple[str, ...] = PROFILE_REQUIRED_FIELDS
    ) -> None:
        """Refuse (refusal ``refused_as``) a professional whose profile is not complete
        (PROF-6)."""
        missing = self.missing_profile_fields(required)
        if missing:
            raise refusal(refused_as, member=self.id, missing=list(missing))

    def require_active(self) -> None:
        """Refuse any action by an account that is not confirmed and active (ACC-1, ACC-7)."""
        if self.status is AccountStatus.ACTIVE:
            return
        if self.status is AccountStatus.PENDING:
            raise refusal("account_not_confirmed", member=self.id)
        if self.status is AccountStatus.DEACTIVATED:
            raise refusal("account_deactivated", member=self.id)
        raise refusal("account_purged", member_id=self.id)

    # Transitions -----------------------------------------------------------
    def _to(self, trigger: str, rule: str) -> AccountStatus:
        return transition(ACCOUNT_LIFECYCLE, self.status, trigger, what=f"account {self.id}",
                          rule=rule)

    def confirmed(self, now: datetime) -> Member:
        return attrs.evolve(self, status=self._to("confirm_email", "ACC-1"), confirmed_at=now,
                            confirmation_token_hash=None)

    def deactivated(self, now: datetime, policy: Policy) -> Member:
        return attrs.evolve(self, status=self._to("deactivate", "ACC-7"), deactivated_at=now,
                            purge_at=policy.add_days(now, policy.account_retention_days,
                                                     what="deactivation", rule="ACC-7"))

    def reactivated(self) -> Member:
        return attrs.evolve(self, status=self._to("reactivate", "ACC-7"), deactivated_at=None,
                            purge_at=None)

    def purged(self) -> Member:
        """Every personal field erased; the id stays so ledger entries remain whole."""
        return Member(
            id=self.id, email=None, kind=self.kind, status=self._to("purge", "ACC-7"),
            created_at=self.created_at, category=self.category,
        )


@attrs.frozen(kw_only=True)
class MemberView:
    """An account as a host's pages may show it: everything but the password and token
    hashes (ACC-4), which stay inside the library; the email is kept out of the repr."""

    id: str
    email: str | None = attrs.field(repr=False)
    kind: MemberKind
    status: AccountStatus
    created_at: datetime
    category: ProCategory | None
    provider: Provider | None
    confirmed_at: datetime | None
    deactivated_at: datetime | None
    purge_at: datetime | None
    profile: Profile
    sponsor: str | None
    has_password: bool

    @property
    def is_professional(self) -> bool:
        return self.kind is MemberKind.PROFESSIONAL

    @classmethod
    def of(cls, member: Member) -> MemberView:
        return cls(
            id=member.id, email=member.email, kind=member.kind, status=member.status,
            created_at=member.created_at, category=member.category,
            provider=member.provider, confirmed_at=member.confirmed_at,
            deactivated_at=member.deactivated_at, purge_at=member.purge_at,
            profile=member.profile, sponsor=member.sponsor,
            has_password=member.password_hash is not None,
        )
