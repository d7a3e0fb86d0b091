"""Schema changes are forward-only migrations: every path to the newest schema agrees."""

from __future__ import annotations

from pathlib import Path
from uuid import uuid4

import duckdb

from evaldelta.store.duckdb.schema import MIGRATIONS, migrate
from evaldelta.store.duckdb.store import open_duckdb


def schema(con: duckdb.DuckDBPyConnection) -> list[tuple[object, ...]]:
    return con.execute(
        """SELECT table_name, column_name, data_type, is_nullable
           FROM information_schema.columns ORDER BY table_name, column_name"""
    ).fetchall()


def test_every_partial_history_migrates_to_the_fresh_schema(tmp_path: Path) -> None:
    fresh = open_duckdb(tmp_path / "fresh.duckdb")
    want = schema(fresh)
    fresh.close()
    for applied in range(len(MIGRATIONS)):
        con = duckdb.connect(str(tmp_path / f"old-{applied}.duckdb"))
        con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
        for version, sql in enumerate(MIGRATIONS[:applied], start=1):
            con.execute(sql)
            con.execute("INSERT INTO schema_migrations VALUES (?)", [version])
        migrate(con)
        assert schema(con) == want
        con.close()


def test_reopening_applies_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    open_duckdb(path).close()
    con = open_duckdb(path)
    versions = con.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert versions == [(v,) for v in range(1, len(MIGRATIONS) + 1)]
    con.close()


def test_feedback_gets_its_runs_fields_when_migrated(tmp_path: Path) -> None:
    """Migration 2 copies each run's session, example and root flag onto its feedback;
    feedback whose run is unknown, and project-level feedback, keep NULLs."""
    con = duckdb.connect(str(tmp_path / "v1.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
    con.execute(MIGRATIONS[0])
    con.execute("INSERT INTO schema_migrations VALUES (1)")
    tenant, session, example = uuid4(), uuid4(), uuid4()
    root, child, missing = uuid4(), uuid4(), uuid4()
    for run, parent in ((root, None), (child, root)):
        con.execute(
            """INSERT INTO runs (tenant_id, id, session_id, name, run_type, status, start_time,
                trace_id, dotted_order, parent_run_id, is_root, reference_example_id)
               VALUES (?, ?, ?, 'r', 'chain', 'success', now(), ?, '', ?, ?, ?)""",
            [tenant, run, session, root, parent, parent is None, example],
        )
    for n, run in enumerate((root, child, missing, None)):
        con.execute(
            """INSERT INTO feedback (tenant_id, id, run_id, key, score, score_is_bool,
                created_at, modified_at) VALUES (?, ?, ?, 'k', ?, false, now(), now())""",
            [tenant, uuid4(), run, n],
        )
    migrate(con)
    rows = con.execute(
        """SELECT score, run_session_id, run_example_id, run_is_root FROM feedback
           ORDER BY score"""
    ).fetchall()
    assert rows == [
        (0.0, session, example, True),
        (1.0, session, example, False),
        (2.0, None, None, None),
        (3.0, None, None, None),
    ]
    con.close()
