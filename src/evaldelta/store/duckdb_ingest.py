"""Writes on the DuckDB store: sessions, and the batched upsert of runs and feedback.

Runs arrive as posts and patches in any order, merged or split, and sometimes twice.  The
merge rule: a patch's fields win over a post's, whatever the order they arrive in, so a
late post (``outputs: {}``) never erases a patch's outputs.  ``patched_fields`` remembers
which fields came from a patch.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import duckdb
import pyarrow as pa

from evaldelta.errors import Conflict, NotFound
from evaldelta.store.base import IngestBatch, Row, RunOp
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


def _now() -> datetime:
    return datetime.now(UTC)


def insert_rows(
    cur: duckdb.DuckDBPyConnection, table: str, columns: list[str], rows: list[Row]
) -> None:
    """Insert-or-replace many rows at once through one Arrow table (no row-by-row inserts)."""
    if not rows:
        return
    data = {
        c: [str(v) if isinstance(v, UUID) else v for v in (r.get(c) for r in rows)] for c in columns
    }
    arrow = pa.table(data)
    cur.register("_ingest_batch", arrow)
    try:
        names = ", ".join(columns)
        cur.execute(f"INSERT OR REPLACE INTO {table} ({names}) SELECT {names} FROM _ingest_batch")
    finally:
        cur.unregister("_ingest_batch")


# --- sessions ---------------------------------------------------------------------------


def _session(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, where: str, param: Any) -> Row | None:
    rows = fetch_rows(
        cur, f"SELECT * FROM sessions WHERE tenant_id = ? AND {where}", [tenant_id, param]
    )
    return rows[0] if rows else None


def write_session(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, row: Row, *, upsert: bool
) -> Row:
    """Create a session; a duplicate name is a 409 unless ``upsert`` asks for the existing one."""
    session_id = row.get("id") or uuid4()
    name = row.get("name") or str(session_id)
    by_name = _session(cur, tenant_id, "name = ?", name)
    by_id = _session(cur, tenant_id, "id = ?", session_id)
    if by_id is not None and (by_id["name"] == name or upsert):
        # The same create sent again (a client retry after a lost answer): same answer.
        return by_id
    if by_name is not None:
        if upsert:
            return by_name
        raise Conflict(f"Session with name {name!r} already exists")
    if by_id is not None:
        raise Conflict(f"Session with id {session_id} already exists")
    cur.execute(
        """INSERT INTO sessions (tenant_id, id, name, description, start_time, end_time, extra,
            reference_dataset_id, default_dataset_id, trace_tier)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            tenant_id,
            session_id,
            name,
            row.get("description"),
            row.get("start_time") or _now(),
            row.get("end_time"),
            dump_json(row.get("extra")),
            row.get("reference_dataset_id"),
            row.get("default_dataset_id"),
            row.get("trace_tier"),
        ],
    )
    created = _session(cur, tenant_id, "id = ?", session_id)
    assert created is not None
    return created


def write_session_update(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, session_id: UUID, changes: Row
) -> Row:
    """Update the given fields; a null means unchanged (the SDK sends nulls it does not mean)."""
    current = _session(cur, tenant_id, "id = ?", session_id)
    if current is None:
        raise NotFound(f"Session {session_id} not found")
    given = {k: v for k, v in changes.items() if v is not None}
    renamed = "name" in given and given["name"] != current["name"]
    if renamed and _session(cur, tenant_id, "name = ?", given["name"]):
        raise Conflict(f"Session with name {given['name']!r} already exists")
    merged = {**current, **given}
    cur.execute(
        """UPDATE sessions SET name = ?, description = ?, end_time = ?, extra = ?,
            default_dataset_id = ?, trace_tier = ? WHERE tenant_id = ? AND id = ?""",
        [
            merged["name"],
            merged.get("description"),
            merged.get("end_time"),
            dump_json(merged.get("extra")),
            merged.get("default_dataset_id"),
            merged.get("trace_tier"),
            tenant_id,
            session_id,
        ],
    )
    updated = _session(cur, tenant_id, "id = ?", session_id)
    assert updated is not None
    return updated


def write_session_delete(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, session_id: UUID) -> None:
    """Delete a session with its runs and their feedback."""
    if _session(cur, tenant_id, "id = ?", session_id) is None:
        raise NotFound(f"Session {session_id} not found")
    cur.execute(
        """DELETE FROM feedback WHERE tenant_id = ? AND (session_id = ? OR run_id IN
            (SELECT id FROM runs WHERE tenant_id = ? AND session_id = ?))""",
        [tenant_id, session_id, tenant_id, session_id],
    )
    cur.execute("DELETE FROM runs WHERE tenant_id = ? AND session_id = ?", [tenant_id, session_id])
    cur.execute("DELETE FROM sessions WHERE tenant_id = ? AND id = ?", [tenant_id, session_id])


def _resolve_session(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, fields: Row, seen: dict[Any, UUID]
) -> UUID | None:
    """The session a run op names, created on first sight of an unknown name or id.

    ``seen`` caches answers for the length of one batch (a batch names few sessions).
    """
    if "session_id" in fields:
        cache_key: Any = fields["session_id"]
        row = {"id": fields["session_id"], "name": fields.get("session_name")}
    elif "session_name" in fields:
        cache_key = ("name", fields["session_name"])
        row = {"name": fields["session_name"]}
    else:
        return None
    if cache_key not in seen:
        if "id" in row:
            found = _session(cur, tenant_id, "id = ?", row["id"])
            if found is None:
                found = write_session(cur, tenant_id, row, upsert=True)
        else:
            found = write_session(cur, tenant_id, row, upsert=True)
        seen[cache_key] = UUID(str(found["id"]))
    return seen[cache_key]


# --- runs and feedback ------------------------------------------------------------------


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


def _apply_runs(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, ops: list[RunOp]) -> None:
    ids = list(dict.fromkeys(str(op.fields["id"]) for op in ops))
    existing = {
        str(r["id"]): r
        for r in fetch_rows(
            cur,
            "SELECT * FROM runs WHERE tenant_id = ? AND id IN (SELECT unnest(?::UUID[]))",
            [tenant_id, ids],
        )
    }
    states: dict[str, tuple[Row, set[str]]] = {}
    for run_id in ids:
        old = existing.get(run_id)
        if old is None:
            states[run_id] = ({}, set())
        else:
            old.pop("tenant_id", None)
            patched = set(old.pop("patched_fields") or [])
            states[run_id] = ({k: v for k, v in old.items() if v is not None}, patched)
    seen: dict[Any, UUID] = {}
    for op in ops:
        state, patched = states[str(op.fields["id"])]
        session_id = _resolve_session(cur, tenant_id, op.fields, seen)
        fields = {k: v for k, v in op.fields.items() if k not in ("session_name", "session_id")}
        _merge(state, RunOp(op.kind, fields), patched)
        if session_id is not None:
            state["session_id"] = session_id
    rows = []
    for state, patched in states.values():
        if "session_id" not in state:
            state["session_id"] = _resolve_session(
                cur, tenant_id, {"session_name": "default"}, seen
            )
        rows.append(_finish_run(tenant_id, state, patched))
    insert_rows(cur, "runs", RUN_COLUMNS, rows)


def _feedback_row(tenant_id: UUID, row: Row) -> Row:
    out = {
        c: (dump_json(row.get(c)) if c in FEEDBACK_JSON else row.get(c)) for c in FEEDBACK_COLUMNS
    }
    out["tenant_id"] = tenant_id
    return out


def apply_ingest(cur: duckdb.DuckDBPyConnection, batches: list[IngestBatch]) -> None:
    """Apply many requests' runs and feedback, grouped by tenant, in the caller's transaction."""
    by_tenant: dict[UUID, IngestBatch] = {}
    for batch in batches:
        merged = by_tenant.setdefault(batch.tenant_id, IngestBatch(batch.tenant_id))
        merged.run_ops.extend(batch.run_ops)
        merged.feedback.extend(batch.feedback)
    for tenant_id, batch in by_tenant.items():
        if batch.run_ops:
            _apply_runs(cur, tenant_id, batch.run_ops)
        # A re-sent feedback id replaces the earlier copy; within a batch the last one wins.
        latest = {str(f["id"]): _feedback_row(tenant_id, f) for f in batch.feedback}
        insert_rows(cur, "feedback", FEEDBACK_COLUMNS, list(latest.values()))


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
    row["modified_at"] = _now()
    insert_rows(cur, "feedback", FEEDBACK_COLUMNS, [_feedback_row(tenant_id, row)])
