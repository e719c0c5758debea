"""Older schema versions, rebuilt from a current store for the migration tests.

Not a test module. :func:`back_to_version_5` turns the tables of a current store into
what version 5 wrote: no change feed (version 6). :func:`back_to_version_3` goes on to
what version 3 wrote: no ordered index postings (version 5), platform accounts as rows
of ``accounts``, one row per supply counter, every number in the ``sequences`` table
(on PostgreSQL, the server sequences are read back into it and dropped; transfers were
numbered after the last one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["back_to_version_3", "back_to_version_5"]

_TABLES = (
    "DROP TABLE ordered_keys",
    "CREATE TABLE counters (name TEXT PRIMARY KEY, value BIGINT NOT NULL)",
    "INSERT INTO counters SELECT name, SUM(value) FROM counter_shards GROUP BY name",
    "DROP TABLE counter_shards",
    "INSERT INTO accounts (id, available, held) "
    "SELECT account, SUM(balance), 0 FROM platform_balances GROUP BY account",
    "DROP TABLE platform_balances",
)


def back_to_version_5(execute: Callable[[str], Any], *, postgres: bool = False) -> None:
    """Rewrite a current store as version 5 (``execute`` runs one statement and returns
    its cursor); the caller sets the recorded version."""
    execute("DROP TABLE changes")
    if postgres:
        execute("DROP SEQUENCE skilltroc_seq_change")
    else:
        execute("DELETE FROM sequences WHERE name = 'change'")


def back_to_version_3(execute: Callable[[str], Any], *, postgres: bool = False) -> None:
    """Rewrite a current store as version 3 (see :func:`back_to_version_5`)."""
    back_to_version_5(execute, postgres=postgres)
    for statement in _TABLES:
        execute(statement)
    if not postgres:
        return
    sequences = [row[0] for row in execute(
        "SELECT sequencename FROM pg_sequences WHERE schemaname = current_schema() "
        "AND sequencename LIKE 'skilltroc\\_seq\\_%'").fetchall()]
    for sequence in sequences:  # version 3 numbered transfers by MAX(seq), no sequence
        name = sequence.removeprefix("skilltroc_seq_")
        last, used = execute(f"SELECT last_value, is_called FROM {sequence}").fetchone()
        if name != "ledger_transfer" and used:
            execute(f"INSERT INTO sequences (name, value) VALUES ('{name}', {int(last)})")
        execute(f"DROP SEQUENCE {sequence}")
