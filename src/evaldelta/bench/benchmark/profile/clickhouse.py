"""Where the server's delta time goes on a ClickHouse store, measured after the server stops.

The counterpart of ``profile`` for ``chdb://`` stores: every key's wide query (as
``clickhouse_delta`` writes it) timed to Arrow and through ``delta()`` itself, the
dataset's example order (made once per request), and, for one key, the same query without
deduplication (wrong answers, but it prices ``FINAL``) and ClickHouse's plan.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

from evaldelta.bench.harness.catalog import Catalog
from evaldelta.bench.workload.data import Workload
from evaldelta.store.base import DeltaQuery
from evaldelta.store.clickhouse import delta as clickhouse_delta
from evaldelta.store.clickhouse.connection import connect
from evaldelta.store.clickhouse.example_order import example_order


def _best(fn: Callable[[], object], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def profile_store(
    url: str,
    dataset_id: str,
    baseline: str,
    comparisons: Sequence[str],
    keys: Sequence[str],
    lower_is_better: Sequence[str],
    explain_key: str,
) -> dict[str, Any]:
    """Time every key's delta on the store at ``url`` (best of 3) and explain one key."""
    conn = connect(url)
    try:
        found = conn.tuples("SELECT tenant_id FROM sessions WHERE id = ?", [UUID(baseline)])
        if not found:
            raise RuntimeError(f"session {baseline} is not in {url}")

        def query() -> DeltaQuery:  # a new object is a new request: no cached example ids
            return DeltaQuery(
                tenant_id=UUID(str(found[0][0])),
                dataset_id=UUID(dataset_id),
                baseline_session_id=UUID(baseline),
                comparison_session_ids=[UUID(c) for c in comparisons],
                feedback_keys=list(keys),
                filters={},
            )

        shared = query()
        example_order(conn, shared, None)  # warm: the first read loads the parts
        out: dict[str, Any] = {
            "example_order_s": _best(lambda: example_order(conn, query(), None)),
            "sql_to_arrow_s": {},
            "engine_delta_s": {},
        }
        for key in keys:
            sql, params = clickhouse_delta.wide_sql(shared, key)
            lower = key in lower_is_better
            out["sql_to_arrow_s"][key] = _best(partial(conn.arrow, sql, params))
            out["engine_delta_s"][key] = _best(
                partial(clickhouse_delta.delta, conn, shared, key, lower, None)
            )
        sql, params = clickhouse_delta.wide_sql(shared, explain_key)
        raw = sql.replace("FROM feedback AS f", "FROM feedback_versions AS f").replace(
            "WHERE f.tenant_id", "WHERE NOT f.is_deleted AND f.tenant_id"
        )
        out["explained_key"] = explain_key
        out["sql_without_dedup_s"] = _best(lambda: conn.arrow(raw, params))
        plan = conn.tuples("EXPLAIN indexes = 1 " + sql, params)
        out["explain"] = f"-- key {explain_key!r}\n{sql}\n\n" + "\n".join(str(r[0]) for r in plan)
        out["sql_all_keys_s"] = sum(out["sql_to_arrow_s"].values())
        out["engine_delta_all_keys_s"] = sum(out["engine_delta_s"].values())
        return out
    finally:
        conn.close()


def profile_bench(url: str, catalog: Catalog, workload: Workload, out: Path) -> dict[str, Any]:
    """The benchmark's profile phase on a ClickHouse store; the plan goes beside ``out``."""
    keys = [k.name for k in workload.keys]
    try:
        found = profile_store(
            url,
            catalog.dataset_id,
            catalog.baseline.session_id,
            [e.session_id for e in catalog.comparisons],
            keys,
            [k.name for k in workload.keys if k.lower_is_better],
            keys[0],
        )
    except Exception as err:  # the store's internals may move; the benchmark still reports
        return {"error": f"{type(err).__name__}: {err}"}
    plan = out.with_suffix(".explain.txt")
    plan.write_text(found.pop("explain"))
    return {**found, "explain_file": plan.name}
