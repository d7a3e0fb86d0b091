"""Writes of sessions (projects, experiments) on the ClickHouse store.

Projects created by name get ``uuid5(tenant, name)`` ids: two servers creating the same
project create the same row.  A session is deleted with its runs and their feedback.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from evaldelta.errors import NotFound
from evaldelta.store.base import Row
from evaldelta.store.clickhouse.connection import Connection
from evaldelta.store.clickhouse.versions import (
    name_id,
    put,
    tombstone,
    tombstone_where,
    without_version,
)
from evaldelta.store.common import existing_session, new_session, session_changes
from evaldelta.store.sqlrows import session_reference


def _session(conn: Connection, tenant_id: UUID, where: str, param: Any) -> Row | None:
    return conn.one(
        f"SELECT * FROM sessions WHERE tenant_id = ? AND {where} ORDER BY toString(id) LIMIT 1",
        [tenant_id, param],
        versions=True,
    )


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
    existing = existing_session(name, session_id, by_name, by_id, upsert=upsert)
    if existing is not None:
        return without_version(existing)
    created = new_session(tenant_id, session_id, name, row)
    put(conn, "sessions_versions", [created])
    return created


def write_session_update(conn: Connection, tenant_id: UUID, session_id: UUID, changes: Row) -> Row:
    """Update the given fields; a null means unchanged (the SDK sends nulls it does not mean)."""
    current = _session(conn, tenant_id, "id = ?", session_id)
    if current is None:
        raise NotFound(f"Session {session_id} not found")
    given = session_changes(
        current, changes, lambda name: _session(conn, tenant_id, "name = ?", name) is not None
    )
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


def resolve_session(
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
