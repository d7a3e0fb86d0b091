"""Writes on the ClickHouse store: sessions, runs from their posts and patches, feedback.

Several servers may write to one ClickHouse at once, with no transactions between them:

* A run's posts and patches are logged in ``run_ops`` as they arrive; the stored run is
  recomputed from the log (on top of the last stored version) with the same merge rule as
  DuckDB's (a patch's fields win over a post's).  Its version is the server's clock at the
  moment the log was read, so the version read last, which saw every op, wins.
* Feedback carries its run's session, example and root flag.  Whoever writes second of a
  run and its feedback fills them in: the run writer re-places the run's feedback after
  writing the run, and the feedback writer looks for the run again after writing the
  feedback, so one of them always sees the other.
* Projects created by name get ``uuid5(tenant, name)`` ids: two servers creating the same
  project create the same row.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import orjson

from evaldelta.errors import Conflict, NotFound
from evaldelta.store.base import IngestBatch, Row, RunOp
from evaldelta.store.clickhouse.connection import Connection
from evaldelta.store.clickhouse.versions import name_id, put, settle, tombstone, tombstone_where
from evaldelta.store.run_merge import RUN_JSON, finish_run, merge_op, now
from evaldelta.store.sqlrows import load_json, session_reference

ZERO = UUID(int=0)
RUN_UUIDS = ("id", "trace_id", "parent_run_id", "session_id", "reference_example_id")
RUN_TIMES = ("start_time", "end_time", "first_token_time")


# --- sessions ---------------------------------------------------------------------------


def _session(conn: Connection, tenant_id: UUID, where: str, param: Any) -> Row | None:
    return conn.one(
        f"SELECT * FROM sessions WHERE tenant_id = ? AND {where} ORDER BY toString(id) LIMIT 1",
        [tenant_id, param],
        versions=True,
    )


def _public(row: Row) -> Row:
    return {k: v for k, v in row.items() if k != "version"}


def write_session(conn: Connection, tenant_id: UUID, row: Row, *, upsert: bool) -> Row:
    """Create a session; a duplicate name is a 409 unless ``upsert`` asks for the existing one."""
    if row.get("id"):
        session_id = row["id"]
    elif row.get("name"):
        session_id = name_id(tenant_id, "session", row["name"])
    else:
        session_id = uuid4()
    name = row.get("name") or str(session_id)
    found = conn.rows(
        "SELECT * FROM sessions WHERE tenant_id = ? AND (name = ? OR id = ?)",
        [tenant_id, name, session_id],
        versions=True,
    )
    by_name = next((r for r in found if r["name"] == name), None)
    by_id = next((r for r in found if r["id"] == session_id), None)
    if by_id is not None and (by_id["name"] == name or upsert):
        return _public(by_id)
    if by_name is not None:
        if upsert:
            return _public(by_name)
        raise Conflict(f"Session with name {name!r} already exists")
    if by_id is not None:
        raise Conflict(f"Session with id {session_id} already exists")
    created = {
        "tenant_id": tenant_id,
        "id": session_id,
        "name": name,
        "description": row.get("description"),
        "start_time": row.get("start_time") or now(),
        "end_time": row.get("end_time"),
        "extra": row.get("extra"),
        "reference_dataset_id": row.get("reference_dataset_id"),
        "default_dataset_id": row.get("default_dataset_id"),
        "trace_tier": row.get("trace_tier"),
    }
    put(conn, "sessions_versions", [created])
    return created


def write_session_update(conn: Connection, tenant_id: UUID, session_id: UUID, changes: Row) -> Row:
    """Update the given fields; a null means unchanged (the SDK sends nulls it does not mean)."""
    current = _session(conn, tenant_id, "id = ?", session_id)
    if current is None:
        raise NotFound(f"Session {session_id} not found")
    given = {k: v for k, v in changes.items() if v is not None}
    renamed = "name" in given and given["name"] != current["name"]
    if renamed and _session(conn, tenant_id, "name = ?", given["name"]):
        raise Conflict(f"Session with name {given['name']!r} already exists")
    keep = ("name", "description", "end_time", "extra", "default_dataset_id", "trace_tier")
    merged = {**current, **{k: v for k, v in given.items() if k in keep}}
    merged.pop("version")
    put(conn, "sessions_versions", [merged], {session_id: current})
    return merged


def write_session_delete(conn: Connection, tenant_id: UUID, session_id: UUID) -> None:
    """Delete a session with its runs and their feedback."""
    current = _session(conn, tenant_id, "id = ?", session_id)
    if current is None:
        raise NotFound(f"Session {session_id} not found")
    tombstone_where(
        conn,
        "feedback_versions",
        "tenant_id = ? AND (run_session_id = ? OR session_id = ?)",
        [tenant_id, session_id, session_id],
    )
    tombstone_where(
        conn, "runs_versions", "tenant_id = ? AND session_id = ?", [tenant_id, session_id]
    )
    tombstone(conn, "sessions_versions", [current])


def _resolve_session(
    conn: Connection, tenant_id: UUID, fields: Row, seen: dict[Any, UUID]
) -> UUID | None:
    """The session a run op names, created on first sight of an unknown name or id."""
    named = session_reference(fields)
    if named is None:
        return None
    cache_key, row = named
    if cache_key not in seen:
        found = _session(conn, tenant_id, "id = ?", row["id"]) if "id" in row else None
        if found is None:
            found = write_session(conn, tenant_id, row, upsert=True)
        seen[cache_key] = UUID(str(found["id"]))
    return seen[cache_key]


# --- runs -------------------------------------------------------------------------------


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
        session_id = _resolve_session(conn, tenant_id, op.fields, seen)
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
            state["session_id"] = _resolve_session(
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


# --- feedback ---------------------------------------------------------------------------


def _place(row: Row, run: Row | None) -> Row:
    """The feedback row with its run's session, example and root flag (its sort key)."""
    if run is None:
        session, example, root = row.get("session_id") or ZERO, ZERO, False
    else:
        session, example = run["session_id"], run.get("reference_example_id") or ZERO
        root = bool(run["is_root"])
    return {**row, "run_session_id": session, "run_example_id": example, "run_is_root": root}


def _runs_of(conn: Connection, tenant_id: UUID, run_ids: list[UUID]) -> dict[UUID | None, Row]:
    if not run_ids:
        return {}
    return {
        r["id"]: r
        for r in conn.rows(
            """SELECT id, session_id, reference_example_id, is_root FROM runs
               WHERE tenant_id = ? AND id IN ?""",
            [tenant_id, run_ids],
        )
    }


def _feedback_by(conn: Connection, tenant_id: UUID, column: str, ids: list[UUID]) -> list[Row]:
    if not ids:
        return []
    return conn.rows(
        f"SELECT * FROM feedback WHERE tenant_id = ? AND {column} IN ?",
        [tenant_id, ids],
        versions=True,
    )


def _strip(row: Row) -> Row:
    return {k: v for k, v in row.items() if k != "version"}


def _apply_feedback(conn: Connection, tenant_id: UUID, rows: list[Row]) -> None:
    latest = {r["id"]: {**r, "tenant_id": tenant_id} for r in rows}
    if not latest:
        return
    # Most ids are new: a narrow probe finds the few that are not, and only those are read
    # whole (their old place may need a tombstone).
    known = [
        t[0]
        for t in conn.tuples(
            "SELECT DISTINCT id FROM feedback WHERE tenant_id = ? AND id IN ?",
            [tenant_id, list(latest)],
        )
    ]
    old = {r["id"]: r for r in _feedback_by(conn, tenant_id, "id", known)}
    runs = _runs_of(conn, tenant_id, _run_ids(latest.values()))
    placed = [_place(r, runs.get(r.get("run_id"))) for r in latest.values()]
    put(conn, "feedback_versions", placed, old)
    # The run may have been written, or moved, by another server since we read it.
    _reconcile(conn, tenant_id, "id", list(latest))


def _run_ids(rows: Iterable[Row]) -> list[UUID]:
    return list({r["run_id"] for r in rows if r.get("run_id") is not None})


PLACE = ("run_session_id", "run_example_id", "run_is_root")
NARROW = (
    "id, version, tenant_id, key, run_id, session_id, run_session_id, run_example_id, run_is_root"
)


def _reconcile(conn: Connection, tenant_id: UUID, column: str, ids: list[UUID]) -> None:
    """Reconcile the feedback whose ``column`` is in ``ids``, reading whole rows only of
    the feedback that needs it: live at two places, or not at its run's place.  Usually
    none does, and a narrow read of the sort key and run id is all it costs."""
    if not ids:
        return
    rows = conn.rows(
        f"SELECT {NARROW} FROM feedback WHERE tenant_id = ? AND {column} IN ?",
        [tenant_id, ids],
        versions=True,
    )
    runs = _runs_of(conn, tenant_id, _run_ids(rows))
    seen: set[Any] = set()
    care: set[Any] = set()
    for row in rows:
        if row["id"] in seen:
            care.add(row["id"])
            continue
        seen.add(row["id"])
        want = _place(row, runs.get(row.get("run_id")))
        if any(want[k] != row[k] for k in PLACE):
            care.add(row["id"])
    if care:
        _reconcile_feedback(conn, tenant_id, _feedback_by(conn, tenant_id, "id", list(care)))


def _reconcile_feedback(conn: Connection, tenant_id: UUID, current: list[Row]) -> None:
    """Bring feedback rows (all live rows of their ids, read after our own write) to their
    runs' places as they are now, one live row per feedback."""
    newest = settle(conn, "feedback_versions", current)
    runs = _runs_of(conn, tenant_id, _run_ids(newest.values()))
    moved = []
    for row in newest.values():
        want = _place(_strip(row), runs.get(row.get("run_id")))
        if any(want[k] != row[k] for k in ("run_session_id", "run_example_id", "run_is_root")):
            moved.append(want)
    if moved:
        put(conn, "feedback_versions", moved, newest)
        settle(conn, "feedback_versions", _feedback_by(conn, tenant_id, "id", list(newest)))


def apply_ingest(conn: Connection, batches: list[IngestBatch]) -> None:
    """Apply many requests' runs and feedback, grouped by tenant."""
    by_tenant: dict[UUID, IngestBatch] = {}
    for batch in batches:
        merged = by_tenant.setdefault(batch.tenant_id, IngestBatch(batch.tenant_id))
        merged.run_ops.extend(batch.run_ops)
        merged.feedback.extend(batch.feedback)
    for tenant_id, batch in by_tenant.items():
        if batch.run_ops:
            runs = _apply_runs(conn, tenant_id, batch.run_ops)
            # Feedback that came before its run (to this server or another) moves to it.
            _reconcile(conn, tenant_id, "run_id", [r["id"] for r in runs])
        _apply_feedback(conn, tenant_id, batch.feedback)


def write_feedback_update(
    conn: Connection, tenant_id: UUID, feedback_id: UUID, changes: Row
) -> None:
    """Replace the given fields of one feedback (score, value, comment, correction, config)."""
    found = _feedback_by(conn, tenant_id, "id", [feedback_id])
    if not found:
        raise NotFound(f"Feedback {feedback_id} not found")
    row = {**_strip(found[0]), **changes, "modified_at": now()}
    put(conn, "feedback_versions", [row], {feedback_id: found[0]})


def write_feedback_delete(conn: Connection, tenant_id: UUID, feedback_id: UUID) -> None:
    found = _feedback_by(conn, tenant_id, "id", [feedback_id])
    if not found:
        raise NotFound(f"Feedback {feedback_id} not found")
    tombstone(conn, "feedback_versions", found)
