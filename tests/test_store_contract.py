"""The store contract, run on the in-memory reference store and on SQLite."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from skilltroc_core.adapters.memory import MemoryStore
from skilltroc_core.adapters.sqlite import SQLiteStore
from skilltroc_core.ledger import HOLDS, Balance, Transfer, TransferKind
from skilltroc_core.ports import Store
from skilltroc_core.testing.contract import StoreContract

_AT = datetime(2027, 3, 1, 8, tzinfo=UTC)


class TestMemoryStoreContract(StoreContract):
    def create_store(self) -> Store:
        return MemoryStore()


class TestSQLiteStoreContract(StoreContract):
    @pytest.fixture(autouse=True)
    def _folder(self, tmp_path: Path) -> None:
        self.folder = tmp_path

    def create_store(self) -> Store:
        return SQLiteStore(self.folder / "skilltroc.db")


def test_a_memory_rollback_undoes_a_movement_naming_one_account_twice() -> None:
    """The memory book keeps one undo entry per movement; a movement that lists the same
    account twice (only a hand-made one can) still rolls back to exactly what was there."""
    store = MemoryStore()
    uow = store.begin()
    uow.book.record(
        Transfer(1, "mem_1", HOLDS, 0, TransferKind.PURCHASE, "hand-made", _AT, None, None),
        ((HOLDS, Balance(1, 0)), (HOLDS, Balance(2, 0))), (), None)
    uow.rollback()
    uow = store.begin()
    assert uow.book.balance(HOLDS) is None
    assert list(uow.book.all_transfers()) == []
    uow.rollback()
