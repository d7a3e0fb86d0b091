"""Writes on the DuckDB store: the batched upsert of runs and feedback.

Runs arrive as posts and patches in any order, merged or split, and sometimes twice.  The
merge rule: a patch's fields win over a post's, whatever the order they arrive in, so a
late post (``outputs: {}``) never erases a patch's outputs.  ``patched_fields`` remembers
which fields came from a patch.  Feedback's copies of run fields are kept by
``duckdb_feedback``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import duckdb

from evaldelta.store.base import IngestBatch, Row, RunOp
from evaldelta.store.duckdb_arrow import rows_table
from evaldelta.store.duckdb_feedback import copy_run_fields, insert_feedback, runs_to_copy
from evaldelta.store.duckdb_sessions import resolve_session
from evaldelta.store.sqlrows import dump_json, fetch_rows

RUN_COLUMNS = [
    "tenant_id",
    "id",
    "session_id",
    "name",
    "run_type",
    "status",
    "start_time",
    "end_time",
    "trace_id",
    "dotted_order",
    "parent_run_id",
    "is_root",
    "reference_example_id",
    "inputs",
    "outputs",
    "extra",
    "error",
    "events",
    "tags",
    "serialized",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_cost",
    "prompt_cost",
    "completion_cost",
    "first_token_time",
    "patched_fields",
]
RUN_JSON = {"inputs", "outputs", "extra", "events", "serialized"}


def _now() -> datetime:
    return datetime.now(UTC)


def insert_rows(
    cur: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[Row]
) -> None:
    """Insert-or-replace many rows at once through one Arrow table (no row-by-row inserts)."""
    if not rows:
        return
    cur.register("_ingest_batch", rows_table(columns, rows))
    try:
        names = ", ".join(columns)
        cur.execute(f"INSERT OR REPLACE INTO {table} ({names}) SELECT {names} FROM _ingest_batch")
    finally:
        cur.unregister("_ingest_batch")


def _merge(state: Row, op: RunOp, patched: set[str]) -> None:
    for name, value in op.fields.items():
        if op.kind == "patch":
            state[name] = value
            patched.add(name)
        elif name not in patched:
            state[name] = value


def _finish_run(tenant_id: UUID, state: Row, patched: set[str]) -> Row:
    """Fill defaults and derived columns of a merged run."""
    run_id = state["id"]
    state["tenant_id"] = tenant_id
    state.setdefault("name", "Unnamed")
    state.setdefault("run_type", "chain")
    state.setdefault("start_time", state.get("end_time") or _now())
    state.setdefault("trace_id", run_id if state.get("parent_run_id") is None else None)
    if state.get("trace_id") is None:
        state["trace_id"] = run_id
    state.setdefault("dotted_order", "")
    state["is_root"] = state.get("parent_run_id") is None
    if state.get("error"):
        state["status"] = "error"
    elif state.get("end_time"):
        state["status"] = "success"
    else:
        state["status"] = "pending"
    state["patched_fields"] = sorted(patched)
    return {c: (dump_json(state.get(c)) if c in RUN_JSON else state.get(c)) for c in RUN_COLUMNS}


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


def _apply_runs(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, ops: list[RunOp]) -> None:
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
        _merge(state, RunOp(op.kind, fields), patched)
        if session_id is not None:
            state["session_id"] = session_id
    rows = []
    for state, patched in states.values():
        if "session_id" not in state:
            state["session_id"] = resolve_session(cur, tenant_id, {"session_name": "default"}, seen)
        rows.append(_finish_run(tenant_id, state, patched))
    to_copy = runs_to_copy(cur, tenant_id, existing, rows)
    insert_rows(cur, "runs", RUN_COLUMNS, rows)
    copy_run_fields(cur, tenant_id, to_copy)


def _as_uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else UUID(str(value))


def apply_ingest(cur: duckdb.DuckDBPyConnection, batches: list[IngestBatch]) -> None:
    """Apply many requests' runs and feedback, grouped by tenant, in the caller's transaction."""
    by_tenant: dict[UUID, IngestBatch] = {}
    for batch in batches:
        merged = by_tenant.setdefault(batch.tenant_id, IngestBatch(batch.tenant_id))
        merged.run_ops.extend(batch.run_ops)
        merged.feedback.extend(batch.feedback)
    for tenant_id, batch in by_tenant.items():
        # Runs first: feedback of this batch then finds its run's fields.
        if batch.run_ops:
            _apply_runs(cur, tenant_id, batch.run_ops)
        # A re-sent feedback id replaces the earlier copy; within a batch the last one wins.
        latest = {_as_uuid(f["id"]): f for f in batch.feedback}
        insert_feedback(cur, tenant_id, list(latest.values()))
