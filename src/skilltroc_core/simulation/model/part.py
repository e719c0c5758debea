"""What every part of the reference model is: one area of the rules over the model's state."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .core import Model

__all__ = ["Part"]


class Part:
    """One area of the rules. It reads and changes the state its :class:`~.core.Model`
    keeps, through the model's shared steps (notices, stars, deadlines, request endings),
    and reaches the other parts through the model too, so a part swapped on the model (a
    planted bug) is the one every other part calls."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.policy = model.policy
