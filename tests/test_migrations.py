"""Schema changes are forward-only migrations: every path to the newest schema agrees."""

from __future__ import annotations

from pathlib import Path

import duckdb

from evaldelta.store.duckdb_schema import MIGRATIONS
from evaldelta.store.duckdb_store import migrate, open_duckdb


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
