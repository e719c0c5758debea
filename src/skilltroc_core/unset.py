"""``UNSET``: a keyword argument left out, where ``None`` means something (clear it).

``update_profile(member, bio=None)`` clears the bio; ``update_profile(member)`` leaves it
as it is. The parameters are typed ``str | None | Unset`` so that a host's type checker
knows what each one takes.
"""

from __future__ import annotations

import enum
from typing import Final, Literal, TypeAlias

__all__ = ["UNSET", "Unset", "Unsettable"]


class Unset(enum.Enum):
    """The type of :data:`UNSET` (one value)."""

    UNSET = "unset"

    def __repr__(self) -> str:
        return "UNSET"


#: A keyword argument that was not given.
UNSET: Final = Unset.UNSET
#: The type of a parameter that may be left out (see :data:`UNSET`).
Unsettable: TypeAlias = Literal[Unset.UNSET]
