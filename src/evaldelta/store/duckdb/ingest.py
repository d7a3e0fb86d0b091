"""Writes on the DuckDB store: the batched upsert of runs and feedback.

Runs arrive as posts and patches in any order, merged or split, and sometimes twice; they
are merged by the store-neutral rules of ``run_merge`` (a patch's fields win over a post's,
whatever the order).  Feedback's copies of run fields are kept by ``duckdb_feedback``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from evaldelta.store.base import IngestBatch, Row, RunOp
from evaldelta.store.duckdb.arrow import rows_table
from evaldelta.store.duckdb.feedback import copy_run_fields, insert_feedback, runs_to_copy
from evaldelta.store.duckdb.sessions import resolve_session
from evaldelta.store.run_merge import RUN_COLUMNS, finish_run, merge_op
from evaldelta.store.sqlrows import fetch_rows


def insert_rows(
    cur: duckdb.DuckDBPyConnection,
    table: str,
    columns: list[str],
    rows: list[Row],
    *,
    replace: bool = True,
) -> None:
    """Insert-or-replace many rows at once through one Arrow table (no row-by-row inserts).

    ``replace=False`` is for rows whose keys are known to be new: a plain append skips
    the conflict handling, which costs about as much again as the append itself.
    """
    if not rows:
        return
    cur.register("_ingest_batch", rows_table(columns, rows))
    try:
        names = ", ".join(columns)
        verb = "INSERT OR REPLACE" if replace else "INSERT"
        cur.execute(f"{verb} INTO {table} ({names}) SELECT {names} FROM _ingest_batch")
    finally:
        cur.unregister("_ingest_batch")


def _stored_runs(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, ids: list[str]) -> list[Row]:
    """The stored rows of those ``ids`` that exist.

    Most ids of a batch are new: one narrow probe of the id column finds the few that are
    not, and only those are read whole (a full-width read of every id costs far more).
    """
    known = [
        str(found[0])
        for found in cur.execute(
            "SELECT id FROM runs WHERE tenant_id = ? AND id IN (SELECT unnest(?::UUID[]))",
            [tenant_id, ids],
        ).fetchall()
    ]
    if not known:
        return []
    return fetch_rows(
        cur,
        "SELECT * FROM runs WHERE tenant_id = ? AND id IN (SELECT unnest(?::UUID[]))",
        [tenant_id, known],
    )


def _apply_runs(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, ops: list[RunOp]) -> list[Row]:
    """Merge and write the batch's runs; return their stored rows."""
    ids = list(dict.fromkeys(str(op.fields["id"]) for op in ops))
    existing = {str(r["id"]): r for r in _stored_runs(cur, tenant_id, ids)}
    states: dict[str, tuple[Row, set[str]]] = {}
    for run_id in ids:
        old = existing.get(run_id)
        if old is None:
            states[run_id] = ({}, set())
        else:
            patched = set(old.get("patched_fields") or [])
            kept = {k: v for k, v in old.items() if v is not None}
            kept.pop("tenant_id", None)
            kept.pop("patched_fields", None)
            states[run_id] = (kept, patched)
    seen: dict[Any, UUID] = {}
    for op in ops:
        state, patched = states[str(op.fields["id"])]
        session_id = resolve_session(cur, tenant_id, op.fields, seen)
        fields = {k: v for k, v in op.fields.items() if k not in ("session_name", "session_id")}
        merge_op(state, RunOp(op.kind, fields), patched)
        if session_id is not None:
            state["session_id"] = session_id
    rows: list[Row] = []
    fresh: list[Row] = []
    for run_id, (state, patched) in states.items():
        if "session_id" not in state:
            state["session_id"] = resolve_session(cur, tenant_id, {"session_name": "default"}, seen)
        (fresh if run_id not in existing else rows).append(finish_run(tenant_id, state, patched))
    to_copy = runs_to_copy(cur, tenant_id, existing, [*rows, *fresh])
    insert_rows(cur, "runs", RUN_COLUMNS, rows)
    # The probe above found these ids absent, and the writer is the only one writing.
    insert_rows(cur, "runs", RUN_COLUMNS, fresh, replace=False)
    copy_run_fields(cur, tenant_id, to_copy)
    return [*rows, *fresh]


def _as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def apply_ingest(cur: duckdb.DuckDBPyConnection, batches: list[IngestBatch]) -> None:
    """Apply many requests' runs and feedback, grouped by tenant, in the caller's transaction."""
    for tenant_id, batch in IngestBatch.by_tenant(batches).items():
        # Runs first: feedback of this batch then takes its run's fields from their rows.
        written = _apply_runs(cur, tenant_id, batch.run_ops) if batch.run_ops else []
        # A re-sent feedback id replaces the earlier copy; within a batch the last one wins.
        latest = {_as_uuid(f["id"]): f for f in batch.feedback}
        insert_feedback(cur, tenant_id, list(latest.values()), written)
