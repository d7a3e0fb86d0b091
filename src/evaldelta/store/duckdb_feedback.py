"""Feedback writes on the DuckDB store, and the copies of run fields feedback carries.

Every feedback row holds its run's ``session_id``, ``reference_example_id`` and ``is_root``
as ``run_session_id``, ``run_example_id`` and ``run_is_root`` (NULL while the run is
unknown), so that the delta query reads feedback alone.  The copies are kept right in every
order of arrival:

- feedback written (new, re-sent or updated) takes them from ``runs`` as it is inserted,
  so a run written earlier, or earlier in the same batch, is found;
- a run written for the first time fills them into feedback that arrived before it;
- a run written again (a patch, a re-post) rewrites them only if one of the three changed.

Each append is ordered by key (then session and example), so one key's rows sit together
and a scan for one key skips most of the table.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import duckdb
import pyarrow as pa

from evaldelta.errors import NotFound
from evaldelta.store.base import Row
from evaldelta.store.duckdb_arrow import arrow_table, rows_table
from evaldelta.store.sqlrows import dump_json, fetch_rows

FEEDBACK_COLUMNS = [
    "tenant_id",
    "id",
    "run_id",
    "trace_id",
    "session_id",
    "key",
    "score",
    "score_is_bool",
    "value",
    "comment",
    "correction",
    "feedback_source",
    "feedback_config",
    "created_at",
    "modified_at",
    "start_time",
    "comparative_experiment_id",
    "feedback_group_id",
    "extra",
    "error",
]
FEEDBACK_JSON = {"value", "correction", "feedback_source", "feedback_config", "extra"}
# The run fields copied onto feedback, as (feedback column, runs column).
RUN_COPIES = [
    ("run_session_id", "session_id"),
    ("run_example_id", "reference_example_id"),
    ("run_is_root", "is_root"),
]


def feedback_table(tenant_id: UUID, rows: list[Row]) -> pa.Table:
    """The stored columns of API-shaped feedback rows, as one Arrow table (JSON fields as
    text), built column by column."""
    columns: dict[str, list[Any]] = {}
    for name in FEEDBACK_COLUMNS:
        if name == "tenant_id":
            columns[name] = [tenant_id] * len(rows)
        elif name in FEEDBACK_JSON:
            columns[name] = [dump_json(r.get(name)) for r in rows]
        else:
            columns[name] = [r.get(name) for r in rows]
    return arrow_table(columns)


def insert_feedback(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, rows: list[Row]) -> None:
    """Insert-or-replace API-shaped feedback rows in one append, with their run's fields
    copied from ``runs`` and the rows ordered by key."""
    if not rows:
        return
    cur.register("_feedback_batch", feedback_table(tenant_id, rows))
    try:
        names = ", ".join(FEEDBACK_COLUMNS)
        picked = ", ".join(f"b.{c}" for c in FEEDBACK_COLUMNS)
        copies = ", ".join(name for name, _ in RUN_COPIES)
        copied = ", ".join(f"r.{column}" for _, column in RUN_COPIES)
        cur.execute(
            f"""INSERT OR REPLACE INTO feedback ({names}, {copies})
                SELECT {picked}, {copied}
                FROM _feedback_batch b
                LEFT JOIN runs r ON r.tenant_id = b.tenant_id AND r.id = b.run_id
                ORDER BY b.key, r.session_id, r.reference_example_id"""
        )
    finally:
        cur.unregister("_feedback_batch")


def _copies(row: Row) -> tuple[object, ...]:
    return tuple(str(row[column]) if row[column] is not None else None for _, column in RUN_COPIES)


def runs_to_copy(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, old: dict[str, Row], new: list[Row]
) -> list[Row]:
    """The runs of a batch whose fields must be copied onto feedback already stored.

    ``old`` holds the stored rows of the runs that existed before the batch (by id), ``new``
    the rows written.  A known run needs it only if a copied field changed; a new run only
    if feedback arrived before it, which one scan of the rows still waiting for their run
    tells (most row groups have none and are skipped on their statistics).
    """
    changed = [r for r in new if str(r["id"]) in old and _copies(old[str(r["id"])]) != _copies(r)]
    fresh = {str(r["id"]) for r in new if str(r["id"]) not in old}
    if fresh:
        waiting = _waiting_runs(cur, tenant_id, fresh)
        changed += [r for r in new if str(r["id"]) in waiting]
    return changed


# Above this many runs awaited by feedback, ask the store about the batch's ids instead.
WAITING_READ_LIMIT = 20_000


def _waiting_runs(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, ids: set[str]) -> set[str]:
    """Those of ``ids`` that stored feedback names but whose run is not stored yet.

    Such feedback is rare, and its NULL copies let DuckDB skip every row group without
    any on their statistics: reading all of it is cheaper than matching the batch's ids
    against the whole run_id column.
    """
    rows = cur.execute(
        """SELECT DISTINCT run_id FROM feedback
           WHERE tenant_id = ? AND run_is_root IS NULL AND run_id IS NOT NULL LIMIT ?""",
        [tenant_id, WAITING_READ_LIMIT + 1],
    ).fetchall()
    if len(rows) > WAITING_READ_LIMIT:
        rows = cur.execute(
            """SELECT DISTINCT run_id FROM feedback
               WHERE tenant_id = ? AND run_is_root IS NULL
                 AND run_id IN (SELECT unnest(?::UUID[]))""",
            [tenant_id, sorted(ids)],
        ).fetchall()
    return {str(row[0]) for row in rows} & ids


def copy_run_fields(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, runs: list[Row]) -> None:
    """Write the given runs' session, example and root flag onto all their feedback."""
    if not runs:
        return
    columns = ["id", *(column for _, column in RUN_COPIES)]
    cur.register("_run_copies", rows_table(columns, runs))
    try:
        sets = ", ".join(f"{name} = c.{column}" for name, column in RUN_COPIES)
        cur.execute(
            f"""UPDATE feedback SET {sets}
                FROM _run_copies c
                WHERE feedback.tenant_id = ? AND feedback.run_id = c.id""",
            [tenant_id],
        )
    finally:
        cur.unregister("_run_copies")


def write_feedback_update(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, feedback_id: UUID, changes: Row
) -> None:
    """Replace the given fields of one feedback (score, value, comment, correction, config)."""
    rows = fetch_rows(
        cur, "SELECT * FROM feedback WHERE tenant_id = ? AND id = ?", [tenant_id, feedback_id]
    )
    if not rows:
        raise NotFound(f"Feedback {feedback_id} not found")
    row = rows[0]
    row.update(changes)
    row["modified_at"] = datetime.now(UTC)
    insert_feedback(cur, tenant_id, [row])
