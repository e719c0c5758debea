"""The application layer: every command and query a host calls, each one unit of work.

``Skilltroc(store, clock, secret_key=...)`` is the one entry point a host uses. It is a
facade over the service's areas (:mod:`.accounts`, :mod:`.members`, :mod:`.gifts`,
:mod:`.social`, :mod:`.workshops`, :mod:`.requests`, :mod:`.aftermath`, :mod:`.agendas`,
:mod:`.tutorials`, :mod:`.ads`, :mod:`.catalogue`, :mod:`.platform`), which share one
:class:`~.context.ServiceContext`. Each operation is declared once, on its
implementation (:mod:`.registry`); the facade shows every declared one. Commands take
ids and plain values, raise :class:`~skilltroc_core.errors.SkilltrocError` subclasses,
and leave notifications in the store's outbox.
"""

from __future__ import annotations

from .accounts import SignupResult
from .agendas import AgendaItem, OrganizerAgenda, ParticipantAgenda, ProfileStats
from .facade import Skilltroc
from .members import ProfileView
from .platform import MAX_DRAIN
from .social import ContactMatch
from .tutorials import TutorialStats
from .units import Tx, take_out_stored_key

__all__ = [
    "MAX_DRAIN",
    "AgendaItem",
    "ContactMatch",
    "OrganizerAgenda",
    "ParticipantAgenda",
    "ProfileStats",
    "ProfileView",
    "SignupResult",
    "Skilltroc",
    "TutorialStats",
    "Tx",
    "take_out_stored_key",
]
