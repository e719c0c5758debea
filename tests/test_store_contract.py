"""The store contract, run on the in-memory reference store and on SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.ports import Store
from skilltroc_core.testing.contract import StoreContract


class TestMemoryStoreContract(StoreContract):
    def create_store(self) -> Store:
        return MemoryStore()


class TestSQLiteStoreContract(StoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    def create_store(self) -> Store:
        return SQLiteStore(self.folder / "skilltroc.db")
