"""Writes of sessions (projects, experiments) on the DuckDB store.

Ingest names a run's session by id or name in every request; the answers are kept between
transactions (``resolve_session``) per writer cursor, since the store is only ever written
from the single writer thread.  Every session write here clears them.
"""

from __future__ import annotations

import weakref
from typing import Any
from uuid import UUID, uuid4

import duckdb

from evaldelta.errors import NotFound
from evaldelta.store.base import Row
from evaldelta.store.common import existing_session, new_session, session_changes
from evaldelta.store.sqlrows import dump_json, fetch_rows, session_reference


def _session(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, where: str, param: Any) -> Row | None:
    rows = fetch_rows(
        cur, f"SELECT * FROM sessions WHERE tenant_id = ? AND {where}", [tenant_id, param]
    )
    return rows[0] if rows else None


# cursor -> (tenant, session id or ("name", name)) -> session id.  Only sessions a lookup
# found are kept, never one a call creates: its transaction may still roll back, while
# one found in a later transaction (the writer runs one at a time) is committed.
_known: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, dict[tuple[UUID, Any], UUID]] = (
    weakref.WeakKeyDictionary()
)


def forget_sessions(cur: duckdb.DuckDBPyConnection) -> None:
    """Drop the kept session answers of ``cur`` (after any session write, or a failure)."""
    _known.pop(cur, None)


def write_session(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, row: Row, *, upsert: bool
) -> Row:
    """Create a session; a duplicate name is a 409 unless ``upsert`` asks for the existing one."""
    return _write_session(cur, tenant_id, row, upsert=upsert)[0]


def _write_session(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, row: Row, *, upsert: bool
) -> tuple[Row, bool]:
    """The session, and whether this call created it."""
    session_id = row.get("id") or uuid4()
    name = row.get("name") or str(session_id)
    by_name = _session(cur, tenant_id, "name = ?", name)
    by_id = _session(cur, tenant_id, "id = ?", session_id)
    existing = existing_session(name, session_id, by_name, by_id, upsert=upsert)
    if existing is not None:
        return existing, False
    forget_sessions(cur)  # rare: start afresh rather than reason about what it changes
    new = new_session(tenant_id, session_id, name, row)
    new["extra"] = dump_json(new["extra"])
    cur.execute(
        f"INSERT INTO sessions ({', '.join(new)}) VALUES ({', '.join('?' * len(new))})",
        list(new.values()),
    )
    created = _session(cur, tenant_id, "id = ?", session_id)
    assert created is not None
    return created, True


def write_session_update(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, session_id: UUID, changes: Row
) -> Row:
    """Update the given fields; a null means unchanged (the SDK sends nulls it does not mean)."""
    forget_sessions(cur)  # a rename changes what a name resolves to
    current = _session(cur, tenant_id, "id = ?", session_id)
    if current is None:
        raise NotFound(f"Session {session_id} not found")
    given = session_changes(
        current, changes, lambda name: _session(cur, tenant_id, "name = ?", name) is not None
    )
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
    forget_sessions(cur)
    if _session(cur, tenant_id, "id = ?", session_id) is None:
        raise NotFound(f"Session {session_id} not found")
    cur.execute(
        """DELETE FROM feedback WHERE tenant_id = ? AND (session_id = ? OR run_id IN
            (SELECT id FROM runs WHERE tenant_id = ? AND session_id = ?))""",
        [tenant_id, session_id, tenant_id, session_id],
    )
    cur.execute("DELETE FROM runs WHERE tenant_id = ? AND session_id = ?", [tenant_id, session_id])
    cur.execute("DELETE FROM sessions WHERE tenant_id = ? AND id = ?", [tenant_id, session_id])


def resolve_session(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, fields: Row, seen: dict[Any, UUID]
) -> UUID | None:
    """The session a run op names, created on first sight of an unknown name or id.

    ``seen`` caches answers for the length of one batch (a batch names few sessions);
    sessions found in the store are also kept across batches until a session write.
    """
    named = session_reference(fields)
    if named is None:
        return None
    cache_key, row = named
    if cache_key in seen:
        return seen[cache_key]
    kept = _known.get(cur)
    found_id = None if kept is None else kept.get((tenant_id, cache_key))
    if found_id is None:
        found = _session(cur, tenant_id, "id = ?", row["id"]) if "id" in row else None
        made = False
        if found is None:
            found, made = _write_session(cur, tenant_id, row, upsert=True)
        found_id = UUID(str(found["id"]))
        if not made:
            _known.setdefault(cur, {})[(tenant_id, cache_key)] = found_id
    seen[cache_key] = found_id
    return found_id
