"""Where the server's delta time goes, measured on the store file after the server stops.

The engine's own per-key SQL is captured by handing ``duckdb_delta.delta`` a stand-in
cursor, then run on the real file three ways: ``EXPLAIN ANALYZE`` (plan with operator
timings, saved as text), to an Arrow table (DuckDB alone) and through ``delta()`` itself
(DuckDB plus building the Python lists).  Set against the HTTP stream's time, that splits
the total into query, Python result handling, and serialisation plus transport.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import duckdb
import numpy as np

from evaldelta.store.base import DeltaQuery
from evaldelta.store.duckdb import delta as duckdb_delta
from evaldelta.store.duckdb.means_cache import MeansCache
from evaldelta.store.duckdb.seqlock import WriteSequence
from evaldelta.store.duckdb.snapshot import Snapshot


class _Capture:
    """Records the statement ``delta()`` would run instead of running it."""

    def __init__(self) -> None:
        self.sql = ""
        self.params: list[Any] = []

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Capture:
        self.sql, self.params = sql, list(params or [])
        return self

    def fetchall(self) -> list[Any]:
        return []

    def fetchnumpy(self) -> dict[str, Any]:
        return defaultdict(lambda: np.zeros(0, dtype=np.int64))  # no rows, whatever the columns


@dataclass
class Profile:
    key: str
    sql_to_arrow_s: dict[str, float] = field(default_factory=dict)
    engine_delta_s: dict[str, float] = field(default_factory=dict)
    kept_delta_s: dict[str, float] = field(default_factory=dict)
    top_operators: list[tuple[str, float]] = field(default_factory=list)
    explain_analyze: str = ""

    @property
    def sql_all_keys_s(self) -> float:
        return sum(self.sql_to_arrow_s.values())

    @property
    def engine_all_keys_s(self) -> float:
        return sum(self.engine_delta_s.values())

    @property
    def kept_all_keys_s(self) -> float:
        return sum(self.kept_delta_s.values())


def _tree(node: Any, depth: int, out: list[str], flat: list[tuple[str, float]]) -> None:
    """Operators of DuckDB's JSON profile as indented lines, and (name, seconds) pairs."""
    if isinstance(node, list):
        for item in node:
            _tree(item, depth, out, flat)
        return
    if not isinstance(node, dict):
        return
    timing = node.get("operator_timing", node.get("timing"))
    name = node.get("operator_name", node.get("name"))
    children = node.get("children", node.get("operator", []))
    if isinstance(name, str) and name.strip() and isinstance(timing, int | float):
        rows = node.get("operator_cardinality", node.get("intermediate_rows", ""))
        out.append(f"{'  ' * depth}{name.strip():<24} {timing:9.4f} s  rows={rows}")
        flat.append((name.strip(), float(timing)))
        depth += 1
    _tree(children, depth, out, flat)


def _operator_profile(
    cur: duckdb.DuckDBPyConnection, sql: str, params: list[Any]
) -> tuple[str, list[tuple[str, float]]]:
    """Run once with DuckDB's JSON profiling: the operator tree and the costliest operators."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "profile.json"
        cur.execute("PRAGMA enable_profiling = 'json'").fetchall()
        cur.execute(f"PRAGMA profiling_output = '{path}'").fetchall()
        try:
            cur.sql(sql, params=params).to_arrow_table()
        finally:
            cur.execute("PRAGMA disable_profiling").fetchall()
        lines: list[str] = []
        flat: list[tuple[str, float]] = []
        _tree(json.loads(path.read_text()), 0, lines, flat)
    return "\n".join(lines), sorted(flat, key=lambda item: -item[1])[:8]


def profile_store(
    path: Path,
    dataset_id: str,
    baseline: str,
    comparisons: Sequence[str],
    keys: Sequence[str],
    lower_is_better: Sequence[str],
    explain_key: str,
) -> Profile:
    """Time every key's delta query on the store file and explain one of them."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        cur = con.cursor()
        cur.execute("SET TimeZone = 'UTC'").fetchall()
        rows = cur.execute("SELECT tenant_id FROM sessions WHERE id = ?", [baseline]).fetchall()
        if not rows:
            raise RuntimeError(f"session {baseline} is not in {path}")
        query = DeltaQuery(
            tenant_id=UUID(str(rows[0][0])),
            dataset_id=UUID(dataset_id),
            baseline_session_id=UUID(baseline),
            comparison_session_ids=[UUID(c) for c in comparisons],
            feedback_keys=list(keys),
            filters={},
        )
        result = Profile(explain_key)
        tenant, dataset = query.tenant_id, query.dataset_id
        plain = Snapshot(cur, tenant, dataset)  # no kept means: every key read from the file
        kept = Snapshot(cur, tenant, dataset, writes=WriteSequence(), cache=MeansCache())

        def captured(key: str, lower: bool) -> _Capture:
            capture = _Capture()
            snap = Snapshot(cast(duckdb.DuckDBPyConnection, capture), tenant, dataset)
            duckdb_delta.delta(snap, query, key, lower, None)
            return capture

        warm = captured(keys[0], False)  # a first, untimed run reads the file into buffers
        cur.sql(warm.sql, params=warm.params).to_arrow_table()
        for key in keys:
            lower = key in lower_is_better
            capture = captured(key, lower)
            started = time.perf_counter()
            cur.sql(capture.sql, params=capture.params).to_arrow_table()
            result.sql_to_arrow_s[key] = time.perf_counter() - started
            started = time.perf_counter()
            duckdb_delta.delta(plain, query, key, lower, None)
            result.engine_delta_s[key] = time.perf_counter() - started
            duckdb_delta.delta(kept, query, key, lower, None)  # reads and keeps the means
            started = time.perf_counter()
            duckdb_delta.delta(kept, query, key, lower, None)
            result.kept_delta_s[key] = time.perf_counter() - started
            if key == explain_key:
                tree, result.top_operators = _operator_profile(cur, capture.sql, capture.params)
                plan = cur.execute("EXPLAIN ANALYZE " + capture.sql, capture.params).fetchall()
                result.explain_analyze = (
                    f"-- key {key!r}: operator tree (DuckDB JSON profile)\n{tree}\n\n"
                    f"-- the engine's SQL\n{capture.sql}\n\n"
                    "-- EXPLAIN ANALYZE\n" + "\n".join(str(r[-1]) for r in plan)
                )
        return result
    finally:
        con.close()
