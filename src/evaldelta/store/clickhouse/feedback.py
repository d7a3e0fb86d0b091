"""Feedback writes on the ClickHouse store, and the copies of run fields feedback carries.

As on DuckDB, every feedback row holds its run's ``session_id``, ``reference_example_id``
and ``is_root`` as ``run_session_id``, ``run_example_id`` and ``run_is_root`` (its sort
key).  Several servers may write at once, with no transactions: whoever writes second of a
run and its feedback fills the copies in.  The run writer reconciles the run's feedback
after writing the run, and the feedback writer looks for the run again after writing the
feedback, so one of them always sees the other.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from evaldelta.errors import NotFound
from evaldelta.store.base import Row
from evaldelta.store.clickhouse.connection import Connection
from evaldelta.store.clickhouse.versions import put, settle, tombstone, without_version
from evaldelta.store.listing import RUN_COPY_COLUMNS
from evaldelta.store.run_merge import now

ZERO = UUID(int=0)


def with_run_copies(row: Row, run: Row | None) -> Row:
    """The feedback row with the copies of its run's session, example and root flag (its
    sort key)."""
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


def apply_feedback(conn: Connection, tenant_id: UUID, rows: list[Row]) -> None:
    latest = {r["id"]: {**r, "tenant_id": tenant_id} for r in rows}
    if not latest:
        return
    # Most ids are new: a narrow probe finds the few that are not, and only those are read
    # whole (their old version may need a tombstone).
    known = [
        t[0]
        for t in conn.tuples(
            "SELECT DISTINCT id FROM feedback WHERE tenant_id = ? AND id IN ?",
            [tenant_id, list(latest)],
        )
    ]
    old = {r["id"]: r for r in _feedback_by(conn, tenant_id, "id", known)}
    runs = _runs_of(conn, tenant_id, _run_ids(latest.values()))
    copied = [with_run_copies(r, runs.get(r.get("run_id"))) for r in latest.values()]
    put(conn, "feedback_versions", copied, old)
    # The run may have been written, or moved, by another server since we read it.
    reconcile(conn, tenant_id, "id", list(latest))


def _run_ids(rows: Iterable[Row]) -> list[UUID]:
    return list({r["run_id"] for r in rows if r.get("run_id") is not None})


NARROW = (
    "id, version, tenant_id, key, run_id, session_id, run_session_id, run_example_id, run_is_root"
)


def reconcile(conn: Connection, tenant_id: UUID, column: str, ids: list[UUID]) -> None:
    """Reconcile the feedback whose ``column`` is in ``ids``, reading whole rows only of
    the feedback that needs it: live twice, or with copies that are not its run's.  Usually
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
        want = with_run_copies(row, runs.get(row.get("run_id")))
        if any(want[k] != row[k] for k in RUN_COPY_COLUMNS):
            care.add(row["id"])
    if care:
        _reconcile_feedback(conn, tenant_id, _feedback_by(conn, tenant_id, "id", list(care)))


def _reconcile_feedback(conn: Connection, tenant_id: UUID, current: list[Row]) -> None:
    """Bring feedback rows (all live rows of their ids, read after our own write) to their
    runs as they are now, one live row per feedback."""
    newest = settle(conn, "feedback_versions", current)
    runs = _runs_of(conn, tenant_id, _run_ids(newest.values()))
    moved = []
    for row in newest.values():
        want = with_run_copies(without_version(row), runs.get(row.get("run_id")))
        if any(want[k] != row[k] for k in RUN_COPY_COLUMNS):
            moved.append(want)
    if moved:
        put(conn, "feedback_versions", moved, newest)
        settle(conn, "feedback_versions", _feedback_by(conn, tenant_id, "id", list(newest)))


def write_feedback_update(
    conn: Connection, tenant_id: UUID, feedback_id: UUID, changes: Row
) -> None:
    """Replace the given fields of one feedback (score, value, comment, correction, config)."""
    found = _feedback_by(conn, tenant_id, "id", [feedback_id])
    if not found:
        raise NotFound(f"Feedback {feedback_id} not found")
    row = {**without_version(found[0]), **changes, "modified_at": now()}
    put(conn, "feedback_versions", [row], {feedback_id: found[0]})


def write_feedback_delete(conn: Connection, tenant_id: UUID, feedback_id: UUID) -> None:
    found = _feedback_by(conn, tenant_id, "id", [feedback_id])
    if not found:
        raise NotFound(f"Feedback {feedback_id} not found")
    tombstone(conn, "feedback_versions", found)
