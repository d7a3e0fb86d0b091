"""Writing versions of rows into the ``ReplacingMergeTree`` tables.

A row's identity is its table's sort key.  Writing a row inserts a version numbered above
the one it replaces (microseconds since the epoch, or the old version + 1 if a clock is
behind); when the new version's sort key differs from the old one's, the old place gets a
tombstone in the same insert, so a reader never sees the row twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid5

from evaldelta.store.base import Row
from evaldelta.store.clickhouse.connection import CLICKHOUSE_JSON_COLUMNS, Connection
from evaldelta.store.sqlrows import dump_json

# Ids evaldelta makes from names (tenants, projects created by name) are uuid5 in this
# namespace, so two servers creating "the same" thing at once create the same row.
NAMESPACE = UUID("6f1d2d2e-4f54-4c1e-9a52-0c4a7e1d9e1a")

SORT_KEYS: dict[str, tuple[str, ...]] = {
    "tenants_versions": ("id",),
    "api_keys_versions": ("key_hash",),
    "datasets_versions": ("tenant_id", "id"),
    "examples_versions": ("tenant_id", "dataset_id", "id"),
    "sessions_versions": ("tenant_id", "id"),
    "runs_versions": ("tenant_id", "session_id", "id"),
    "feedback_versions": ("tenant_id", "key", "run_session_id", "run_example_id", "id"),
    "feedback_configs_versions": ("tenant_id", "feedback_key"),
    "comparative_experiments_versions": ("tenant_id", "id"),
    "dataset_tags_versions": ("tenant_id", "dataset_id", "tag"),
    "share_tokens_versions": ("share_token",),
    # annotation queues
    "annotation_queues_versions": ("tenant_id", "id"),
    "annotation_queue_runs_versions": ("tenant_id", "id"),
    "annotation_queue_reviews_versions": ("tenant_id", "id"),
}


def name_id(*parts: Any) -> UUID:
    """The id of a thing known by its name (the same in every server process)."""
    return uuid5(NAMESPACE, "/".join(str(p) for p in parts))


def now_micros() -> int:
    return time.time_ns() // 1000


def next_version(old: Row | None, at_least: int = 0) -> int:
    version = max(now_micros(), at_least)
    if old is not None and old.get("version") is not None:
        version = max(version, int(old["version"]) + 1)
    return version


def _stored(name: str, value: Any) -> Any:
    if name in CLICKHOUSE_JSON_COLUMNS:
        return dump_json(value)
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # naive times are UTC everywhere in the API
    return value


def encode(row: Row) -> Row:
    """A row as stored: JSON columns as text, times UTC.  Rows cross this module decoded
    (as they are read back), so every JSON column is encoded here, and only here."""
    return {k: _stored(k, v) for k, v in row.items()}


def _key(table: str, row: Row) -> tuple[Any, ...]:
    return tuple(str(row.get(c)) for c in SORT_KEYS[table])


def put(
    conn: Connection,
    table: str,
    rows: Sequence[Row],
    old: dict[Any, Row] | None = None,
    *,
    id_column: str = "id",
    at_least: int = 0,
) -> None:
    """Insert new versions of ``rows``; ``old`` (keyed like ``row[id_column]``) holds the
    current versions they replace, read with their ``version``."""
    old = old or {}
    out: list[Row] = []
    for row in rows:
        before = old.get(row[id_column])
        version = next_version(before, at_least)
        out.append(encode({**row, "version": version, "is_deleted": 0}))
        if before is not None and _key(table, before) != _key(table, row):
            out.append(encode({**before, "version": version, "is_deleted": 1}))
    conn.insert(table, conn.columns(table), out)


def settle(
    conn: Connection, table: str, rows: Sequence[Row], *, id_column: str = "id"
) -> dict[Any, Row]:
    """Leave one live row per id among ``rows`` (all live rows of those ids, read with
    their ``version`` after the caller's own write): the newest; returns them by id.

    Two servers moving the same row at once (each to the place it computed) may each miss
    the other's write, leaving it live twice; each writer settles after it writes, and
    the one that settles last sees both.  Ties go to the larger sort key, the same choice
    on every server.  A loser's tombstone is numbered just above it, so it can never hide
    a later row at that place.
    """
    newest: dict[Any, Row] = {}
    losers = []
    order = sorted(rows, key=lambda r: (int(r["version"]), _key(table, r)), reverse=True)
    for row in order:
        if row[id_column] in newest:
            losers.append(encode({**row, "version": int(row["version"]) + 1, "is_deleted": 1}))
        else:
            newest[row[id_column]] = row
    if losers:
        conn.insert(table, conn.columns(table), losers)
    return newest


def without_version(row: Row) -> Row:
    """A row as read with ``versions=True``, without its ``version``."""
    return {k: v for k, v in row.items() if k != "version"}


def tombstone(conn: Connection, table: str, rows: Sequence[Row]) -> None:
    """Delete rows (read with their ``version``)."""
    out = [encode({**r, "version": next_version(r), "is_deleted": 1}) for r in rows]
    conn.insert(table, conn.columns(table), out)


def tombstone_where(conn: Connection, table: str, where: str, params: list[Any]) -> None:
    """Delete every live row of ``table`` matching ``where``, inside the server."""
    columns = conn.columns(table)
    select = ", ".join(
        "version + 1" if c == "version" else "1" if c == "is_deleted" else c for c in columns
    )
    view = table.removesuffix("_versions")
    conn.command(
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} FROM {view} WHERE {where}",
        params,
    )
