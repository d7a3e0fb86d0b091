"""Dataset versions on ClickHouse: every write to an example appends its new state to
``example_history`` (see migration 3), a plain history that merges never shorten; the
reads are ``store/listing.py``'s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from evaldelta.store.base import Row
from evaldelta.store.clickhouse.connection import Connection
from evaldelta.store.clickhouse.versions import encode, put
from evaldelta.store.listing import EXAMPLE_COLUMNS

COLUMNS = [*EXAMPLE_COLUMNS, "is_deleted"]


def record(conn: Connection, rows: Sequence[Row], *, deleted_at: datetime | None = None) -> None:
    """Append the new state of examples just written (or, with ``deleted_at``, a tombstone
    of each, stamped then)."""
    out = []
    for row in rows:
        state = {c: row.get(c) for c in COLUMNS}
        state["is_deleted"] = deleted_at is not None
        if deleted_at is not None:
            state["modified_at"] = deleted_at
        out.append(encode(state))
    if out:
        conn.insert("example_history", COLUMNS, out)


def forget_dataset(conn: Connection, tenant_id: UUID, dataset_id: UUID) -> None:
    """Drop the history of a deleted dataset (a lightweight delete: datasets are rarely
    deleted, and one made again under the same id must not inherit it)."""
    conn.command(
        "DELETE FROM example_history WHERE tenant_id = ? AND dataset_id = ?",
        [tenant_id, dataset_id],
    )


def put_tag(conn: Connection, tenant_id: UUID, dataset_id: UUID, tag: str, as_of: datetime) -> None:
    """Point ``tag`` at the version ``as_of`` (moving it if it named another)."""
    current = conn.one(
        "SELECT * FROM dataset_tags WHERE tenant_id = ? AND dataset_id = ? AND tag = ?",
        [tenant_id, dataset_id, tag],
        versions=True,
    )
    new = {"tenant_id": tenant_id, "dataset_id": dataset_id, "tag": tag, "as_of": as_of}
    put(conn, "dataset_tags_versions", [new], {tag: current} if current else None, id_column="tag")
