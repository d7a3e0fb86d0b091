"""Dataset and example rows on the ClickHouse store (reads are ``store/listing.py``'s).

A write inserts a whole new version of each row (``versions.py``); these build the rows
and read the stored versions a write replaces.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from evaldelta.store.base import Row
from evaldelta.store.clickhouse.connection import Connection
from evaldelta.store.clickhouse.versions import settle
from evaldelta.store.common import now
from evaldelta.store.splits import created_splits

DATASET_SELECT = """
    SELECT d.*, coalesce(e.n, 0) AS example_count, coalesce(s.n, 0) AS session_count,
        s.last AS last_session_start_time
    FROM datasets AS d
    LEFT JOIN (SELECT dataset_id, count() AS n FROM examples WHERE tenant_id = ? {examples}
               GROUP BY dataset_id) AS e ON e.dataset_id = d.id
    LEFT JOIN (SELECT reference_dataset_id, count() AS n, max(start_time) AS last
               FROM sessions WHERE tenant_id = ? AND reference_dataset_id IS NOT NULL
               GROUP BY reference_dataset_id) AS s ON s.reference_dataset_id = d.id
    WHERE d.tenant_id = ?
"""


def new_dataset(tenant_id: UUID, dataset_id: UUID, row: Row) -> Row:
    """The stored row of a dataset created from an API row."""
    created = row.get("created_at") or now()
    return {
        "tenant_id": tenant_id,
        "id": dataset_id,
        "name": row["name"],
        "description": row.get("description"),
        "data_type": row.get("data_type") or "kv",
        "created_at": created,
        "modified_at": created,
        "inputs_schema_definition": row.get("inputs_schema_definition"),
        "outputs_schema_definition": row.get("outputs_schema_definition"),
        "transformations": row.get("transformations"),
        "externally_managed": row.get("externally_managed"),
        "extra": row.get("extra"),
        "metadata": (row.get("extra") or {}).get("metadata"),
    }


def new_examples(tenant_id: UUID, rows: list[Row]) -> list[Row]:
    """The stored rows of examples created from API rows, in order."""
    stamp = now()
    new = []
    for r in map(created_splits, rows):
        new.append(
            {
                "tenant_id": tenant_id,
                "id": r.get("id") or uuid4(),
                "dataset_id": r["dataset_id"],
                "inputs": r.get("inputs") or {},
                "outputs": r.get("outputs"),
                "metadata": r.get("metadata"),
                "split": r["split"],
                "source_run_id": r.get("source_run_id"),
                "created_at": r.get("created_at") or stamp,
                "modified_at": stamp,
                "attachments": r.get("attachments") or None,
            }
        )
    return new


def _stored_examples(conn: Connection, tenant_id: UUID, ids: list[Any]) -> list[Row]:
    """Every stored version of these examples that a read sees (two, if two servers moved
    one at once)."""
    return conn.rows(
        "SELECT * FROM examples WHERE tenant_id = ? AND id IN ?",
        [tenant_id, [UUID(str(i)) for i in ids]],
        versions=True,
    )


def example_rows(conn: Connection, tenant_id: UUID, ids: list[Any]) -> dict[Any, Row]:
    """The stored versions of these examples, by id."""
    return {r["id"]: r for r in _stored_examples(conn, tenant_id, ids)}


def settle_examples(conn: Connection, tenant_id: UUID, ids: list[Any]) -> None:
    """One live row per example, even if two servers moved it at once."""
    settle(conn, "examples_versions", _stored_examples(conn, tenant_id, ids))
