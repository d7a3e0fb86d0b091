"""The DuckDB store URL's options: the buffer pool is bounded by default (a server should not
take 80 % of its machine, DuckDB's own default), ``?memory_limit=`` changes it, and a bad
option stops ``evaldelta serve`` with a plain message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evaldelta.store import open_store
from evaldelta.store.duckdb.store import DuckDBStore


def _memory_limit(url: str) -> str:
    store = open_store(url)
    try:
        assert isinstance(store, DuckDBStore)
        row = store._cur().execute("SELECT current_setting('memory_limit')").fetchone()
        assert row is not None
        return str(row[0])
    finally:
        store.close()


def test_the_buffer_pool_is_bounded_by_default_and_set_by_the_url(tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    assert _memory_limit(f"duckdb:///{path}") == "953.6 MiB"  # 1GB, in DuckDB's units
    assert _memory_limit(f"duckdb:///{path}?memory_limit=256MB") == "244.1 MiB"


@pytest.mark.parametrize(
    ("query", "said"),
    [("memory_limit=lots", "Memory must have a number"), ("memroy=1GB", "unknown DuckDB store")],
)
def test_serve_refuses_a_bad_store_option_plainly(tmp_path: Path, query: str, said: str) -> None:
    url = f"duckdb:///{tmp_path / 'store.duckdb'}?{query}"
    done = subprocess.run(
        [sys.executable, "-m", "evaldelta.cli.main", "serve", "--store", url, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Cannot open the store" in done.stderr and said in done.stderr
    assert "Traceback" not in done.stderr
