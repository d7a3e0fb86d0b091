"""Dataset versions on DuckDB: every write to an example appends its new state to
``example_history`` (see migration 5); the reads are ``store/listing.py``'s."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

import duckdb

from evaldelta.store.listing import HISTORY_COLUMNS

_IDS = "id IN (SELECT unnest(?::UUID[]))"


def record(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, ids: list[UUID]) -> None:
    """Append the stored state of examples just written."""
    cur.execute(
        f"""INSERT INTO example_history ({HISTORY_COLUMNS}, is_deleted)
            SELECT {HISTORY_COLUMNS}, false FROM examples WHERE tenant_id = ? AND {_IDS}""",
        [tenant_id, [str(i) for i in ids]],
    )


def record_deletes(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, ids: list[UUID], stamp: datetime
) -> None:
    """Append a tombstone, stamped ``stamp``, for examples about to be deleted."""
    cur.execute(
        f"""INSERT INTO example_history ({HISTORY_COLUMNS}, is_deleted)
            SELECT tenant_id, id, dataset_id, inputs, outputs, metadata, split, source_run_id,
                created_at, ?, attachments, true
            FROM examples WHERE tenant_id = ? AND {_IDS}""",
        [stamp, tenant_id, [str(i) for i in ids]],
    )


def forget_dataset(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, dataset_id: UUID) -> None:
    """Drop the versions and tags of a deleted dataset."""
    for table in ("example_history", "dataset_tags"):
        cur.execute(
            f"DELETE FROM {table} WHERE tenant_id = ? AND dataset_id = ?", [tenant_id, dataset_id]
        )


def put_tag(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, dataset_id: UUID, tag: str, as_of: datetime
) -> None:
    """Point ``tag`` at the version ``as_of`` (moving it if it named another)."""
    cur.execute(
        "INSERT OR REPLACE INTO dataset_tags VALUES (?, ?, ?, ?)",
        [tenant_id, dataset_id, tag, as_of],
    )
