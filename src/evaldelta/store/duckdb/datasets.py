"""Dataset and example writes on the DuckDB store (reads are ``store/listing.py``'s).

Examples are appended as one Arrow table; the store wraps every write to examples so that
the example ids kept for deltas (``example_order.py``) never outlive it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

import duckdb

from evaldelta.store.base import Row
from evaldelta.store.common import now
from evaldelta.store.sqlrows import dump_json

DATASET_SELECT = """
    SELECT d.*,
        (SELECT count(*) FROM examples e WHERE e.tenant_id = d.tenant_id AND e.dataset_id = d.id)
            AS example_count,
        (SELECT count(*) FROM sessions s
            WHERE s.tenant_id = d.tenant_id AND s.reference_dataset_id = d.id) AS session_count,
        (SELECT max(s.start_time) FROM sessions s
            WHERE s.tenant_id = d.tenant_id AND s.reference_dataset_id = d.id)
            AS last_session_start_time
    FROM datasets d
"""


def insert_dataset(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, dataset_id: UUID, row: Row
) -> None:
    created = row.get("created_at") or now()
    cur.execute(
        """INSERT INTO datasets (tenant_id, id, name, description, data_type, created_at,
            modified_at, inputs_schema_definition, outputs_schema_definition,
            transformations, externally_managed, extra, metadata)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            tenant_id,
            dataset_id,
            row["name"],
            row.get("description"),
            row.get("data_type") or "kv",
            created,
            created,
            dump_json(row.get("inputs_schema_definition")),
            dump_json(row.get("outputs_schema_definition")),
            dump_json(row.get("transformations")),
            row.get("externally_managed"),
            dump_json(row.get("extra")),
            dump_json((row.get("extra") or {}).get("metadata")),
        ],
    )


def update_dataset(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, dataset_id: UUID, merged: Row
) -> None:
    cur.execute(
        """UPDATE datasets SET name = ?, description = ?, inputs_schema_definition = ?,
            outputs_schema_definition = ?, metadata = ?, modified_at = ?
           WHERE tenant_id = ? AND id = ?""",
        [
            merged["name"],
            merged.get("description"),
            dump_json(merged.get("inputs_schema_definition")),
            dump_json(merged.get("outputs_schema_definition")),
            dump_json(merged.get("metadata")),
            now(),
            tenant_id,
            dataset_id,
        ],
    )


def example_rows(tenant_id: UUID, rows: list[Row]) -> dict[UUID, Row]:
    """The stored columns (``EXAMPLE_COLUMNS``) of API example rows, by id."""
    stamp = now()
    by_id: dict[UUID, Row] = {}
    for r in rows:
        split = r.get("split")
        created = r.get("created_at") or stamp
        example_id = r.get("id") or uuid4()
        # A re-sent id (a client retry) replaces the earlier copy; the last one wins.
        by_id[example_id] = {
            "tenant_id": tenant_id,
            "id": example_id,
            "dataset_id": r["dataset_id"],
            "inputs": dump_json(r.get("inputs") or {}),
            "outputs": dump_json(r.get("outputs")),
            "metadata": dump_json(r.get("metadata")),
            "split": dump_json([split] if isinstance(split, str) else split),
            "source_run_id": r.get("source_run_id"),
            "created_at": created.replace(tzinfo=UTC)
            if created.tzinfo is None
            else created.astimezone(UTC),
            "modified_at": stamp,
            "attachments": dump_json(r.get("attachments") or None),
        }
    return by_id


def update_example(
    cur: duckdb.DuckDBPyConnection,
    tenant_id: UUID,
    example_id: UUID,
    merged: Row,
    stamp: datetime,
) -> None:
    split = merged.get("split")
    cur.execute(
        """UPDATE examples SET dataset_id = ?, inputs = ?, outputs = ?, metadata = ?,
            split = ?, modified_at = ?, attachments = ? WHERE tenant_id = ? AND id = ?""",
        [
            merged["dataset_id"],
            dump_json(merged.get("inputs")),
            dump_json(merged.get("outputs")),
            dump_json(merged.get("metadata")),
            dump_json([split] if isinstance(split, str) else split),
            stamp,
            dump_json(merged.get("attachments") or None),
            tenant_id,
            example_id,
        ],
    )
