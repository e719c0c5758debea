"""skilltroc_core: the rules of Skilltroc as a framework-free domain core.

What a host needs is here: ``Skilltroc`` (every command and query), the stores
(``MemoryStore``, ``SQLiteStore``; ``PostgresStore`` with the ``postgres`` extra, loaded
when first asked for and left out of ``import *``), the clocks and id generators, the
policy, the values the queries return, ``UNSET`` and the errors a host handles.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

from .adapters.clocks import ManualClock, SystemClock
from .adapters.ids import RandomIds, SequentialIds
from .adapters.memory import MemoryStore
from .adapters.sqlite import SQLiteStore
from .errors import (
    AlreadyExistsError,
    ConcurrencyError,
    ConfigurationError,
    InsufficientStarsError,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    SkilltrocError,
    StateConflictError,
    StoreError,
)
from .ledger import Balance, Ledger, StatementLine, check_invariants
from .listings import (
    ChangeRecord,
    MemberCard,
    Page,
    PublicCampaign,
    PublicProfile,
    PublicTutorial,
    PublicWorkshop,
    RosterEntry,
    SessionCard,
    SessionRoster,
    TutorialCard,
    WaitlistEntry,
    WorkshopCard,
)
from .rules import DEFAULT_POLICY, Policy
from .service import (
    AgendaItem,
    OrganizerAgenda,
    ParticipantAgenda,
    ProfileStats,
    ProfileView,
    SignupResult,
    Skilltroc,
)
from .unset import UNSET, Unset

if TYPE_CHECKING:
    from .adapters.postgres import PostgresStore as PostgresStore

__all__ = [
    "DEFAULT_POLICY",
    "UNSET",
    "AgendaItem",
    "AlreadyExistsError",
    "Balance",
    "ChangeRecord",
    "ConcurrencyError",
    "ConfigurationError",
    "InsufficientStarsError",
    "InvalidInputError",
    "Ledger",
    "ManualClock",
    "MemberCard",
    "MemoryStore",
    "NotAllowedError",
    "NotFoundError",
    "OrganizerAgenda",
    "Page",
    "ParticipantAgenda",
    "Policy",
    "ProfileStats",
    "ProfileView",
    "PublicCampaign",
    "PublicProfile",
    "PublicTutorial",
    "PublicWorkshop",
    "RandomIds",
    "RosterEntry",
    "SQLiteStore",
    "SequentialIds",
    "SessionCard",
    "SessionRoster",
    "SignupResult",
    "Skilltroc",
    "SkilltrocError",
    "StateConflictError",
    "StatementLine",
    "StoreError",
    "SystemClock",
    "TutorialCard",
    "Unset",
    "WaitlistEntry",
    "WorkshopCard",
    "check_invariants",
]

try:  # one source: the version the package was installed with (pyproject.toml)
    __version__ = version("skilltroc-core")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"


def __getattr__(name: str) -> object:
    """``PostgresStore`` is loaded when first asked for: it needs psycopg (the extra)."""
    if name == "PostgresStore":
        from .adapters.postgres import PostgresStore  # noqa: PLC0415 - optional dependency

        return PostgresStore
    raise AttributeError(f"module 'skilltroc_core' has no attribute {name!r}")
