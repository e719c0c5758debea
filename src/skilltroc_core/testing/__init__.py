"""Testing kit for hosts: the store contract suite (more tools join it later)."""

from __future__ import annotations

__all__ = ["StoreContract"]


def __getattr__(name: str) -> object:
    # Imported lazily: the contract suite needs pytest, which hosts may not have at run time.
    if name == "StoreContract":
        from .contract import StoreContract  # noqa: PLC0415

        return StoreContract
    raise AttributeError(name)
