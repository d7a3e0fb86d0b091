"""Run writes on the ClickHouse store: the op log of posts and patches, and the merge.

Several servers may write to one ClickHouse at once, with no transactions between them.
A run's posts and patches are logged in ``run_ops`` as they arrive; the stored run is
recomputed from the log (on top of the last stored version) with the same merge rule as
DuckDB's (a patch's fields win over a post's).  Its version is the server's clock at the
moment the log was read, so the version read last, which saw every op, wins.  Feedback
that came before its run is then reconciled with it (``feedback.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson

from evaldelta.store.base import IngestBatch, Row, RunOp
from evaldelta.store.clickhouse.connection import Connection
from evaldelta.store.clickhouse.feedback import apply_feedback, reconcile
from evaldelta.store.clickhouse.sessions import resolve_session
from evaldelta.store.clickhouse.versions import put, settle
from evaldelta.store.run_merge import RUN_JSON, finish_run, merge_op
from evaldelta.store.sqlrows import load_json

RUN_UUIDS = ("id", "trace_id", "parent_run_id", "session_id", "reference_example_id")
RUN_TIMES = ("start_time", "end_time", "first_token_time")


def _encode_op(fields: Row) -> str:
    return orjson.dumps(fields, option=orjson.OPT_NON_STR_KEYS).decode()


def _decode_op(text: str) -> Row:
    fields: Row = orjson.loads(text)
    for name in RUN_UUIDS:
        if fields.get(name) is not None:
            fields[name] = UUID(fields[name])
    for name in RUN_TIMES:
        if fields.get(name) is not None:
            fields[name] = datetime.fromisoformat(fields[name])
    return fields


def _log_ops(conn: Connection, tenant_id: UUID, ops: list[RunOp]) -> None:
    """Append the ops to ``run_ops``, their sessions resolved (a later rename of a project
    must not move its runs when the log is replayed)."""
    seen: dict[Any, UUID] = {}
    rows = []
    for seq, op in enumerate(ops):
        fields = {k: v for k, v in op.fields.items() if k not in ("session_name", "session_id")}
        session_id = resolve_session(conn, tenant_id, op.fields, seen)
        if session_id is not None:
            fields["session_id"] = session_id
        rows.append(
            {
                "tenant_id": tenant_id,
                "run_id": op.fields["id"],
                "seq": seq,
                "kind": op.kind,
                "fields": _encode_op(fields),
            }
        )
    conn.insert("run_ops", ["tenant_id", "run_id", "seq", "kind", "fields"], rows)


def _apply_runs(conn: Connection, tenant_id: UUID, ops: list[RunOp]) -> list[Row]:
    """Log the ops, then store each touched run as merged from its last version and log."""
    ids = list(dict.fromkeys(op.fields["id"] for op in ops))
    _log_ops(conn, tenant_id, ops)
    # The stored version of each run (the newest, should another server have left two),
    # and when each was last deleted or moved: ops from before then are either in the
    # stored version already or were deleted with the run.
    live: dict[UUID, Row] = {}
    for r in conn.rows(
        "SELECT * FROM runs WHERE tenant_id = ? AND id IN ?", [tenant_id, ids], versions=True
    ):
        if r["id"] not in live or r["version"] > live[r["id"]]["version"]:
            live[r["id"]] = r
    since = {
        t[0]: int(t[1])
        for t in conn.tuples(
            """SELECT id, max(version) FROM runs_versions
               WHERE tenant_id = ? AND id IN ? AND is_deleted GROUP BY id""",
            [tenant_id, ids],
        )
    }
    logged = conn.tuples(
        """SELECT run_id, kind, fields, version, toUnixTimestamp64Micro(now64(6))
           FROM run_ops WHERE tenant_id = ? AND run_id IN ? ORDER BY version, seq""",
        [tenant_id, ids],
    )
    read_at = max((int(t[4]) for t in logged), default=0)
    states: dict[UUID, tuple[Row, set[str]]] = {}
    for run_id in ids:
        old = live.get(run_id)
        if old is None:
            states[run_id] = ({}, set())
            continue
        skip = {"tenant_id", "version", "is_deleted", "patched_fields"}
        base = {k: v for k, v in old.items() if k not in skip and v is not None}
        states[run_id] = (base, set(old["patched_fields"] or []))
    for run_id, kind, text, version, _ in logged:
        if int(version) <= since.get(run_id, -1):
            continue
        state, patched = states[run_id]
        merge_op(state, RunOp(kind, _decode_op(text)), patched)
    seen: dict[Any, UUID] = {}
    rows = []
    for state, patched in states.values():
        if "session_id" not in state:
            state["session_id"] = resolve_session(
                conn, tenant_id, {"session_name": "default"}, seen
            )
        row = finish_run(tenant_id, state, patched)
        rows.append({k: (load_json(v) if k in RUN_JSON else v) for k, v in row.items()})
    put(conn, "runs_versions", rows, live, at_least=read_at)
    # Another server may have stored one of these runs in another project meanwhile.
    settle(
        conn,
        "runs_versions",
        conn.rows(
            "SELECT * FROM runs WHERE tenant_id = ? AND id IN ?", [tenant_id, ids], versions=True
        ),
    )
    return rows


def apply_ingest(conn: Connection, batches: list[IngestBatch]) -> None:
    """Apply many requests' runs and feedback, grouped by tenant."""
    for tenant_id, batch in IngestBatch.by_tenant(batches).items():
        if batch.run_ops:
            runs = _apply_runs(conn, tenant_id, batch.run_ops)
            # Feedback that came before its run (to this server or another) moves to it.
            reconcile(conn, tenant_id, "run_id", [r["id"] for r in runs])
        apply_feedback(conn, tenant_id, batch.feedback)
