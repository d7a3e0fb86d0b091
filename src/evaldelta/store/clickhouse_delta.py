"""The feedback-delta query on ClickHouse: one SQL statement per key over all sessions.

The same rule as ``duckdb_delta``, read from feedback alone: each feedback row carries its
run's session, example and root flag and the table is sorted by (tenant, key, session,
example), so one key of a few sessions is a handful of contiguous ranges.  Runs are read
only for sessions that have filters.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from evaldelta.store.base import DeltaQuery, Page
from evaldelta.store.clickhouse_sql import Connection
from evaldelta.store.duckdb_delta import TIE_TOLERANCE


def _means(
    query: DeltaQuery, key: str, window: Page | None
) -> tuple[str, list[Any], str, list[Any]]:
    """``ex`` (the dataset's examples with their position, maybe one page of them) and
    ``m`` (per session and example: the mean score of the key over counted runs), each as
    SQL and its parameters."""
    ex_params: list[Any] = [query.tenant_id, query.dataset_id]
    window_sql = ""
    if window is not None:
        window_sql = "QUALIFY pos >= ? AND pos < ?"
        ex_params += [window.offset, window.offset + window.limit]
    ex = f"""SELECT id, row_number() OVER (ORDER BY created_at, toString(id)) - 1 AS pos
             FROM examples WHERE tenant_id = ? AND dataset_id = ? {window_sql}"""
    sessions = [query.baseline_session_id, *query.comparison_session_ids]
    params: list[Any] = [query.tenant_id, key, sessions]
    cmp_sql = "f.comparative_experiment_id IS NULL"
    if query.comparative_experiment_id is not None:
        cmp_sql = "(f.comparative_experiment_id IS NULL OR f.comparative_experiment_id = ?)"
        params.append(query.comparative_experiment_id)
    params += ex_params
    filter_sql = []
    for session_id, (fragment, fparams) in query.filters.items():
        filter_sql.append(
            f"""AND (f.run_session_id <> ? OR f.run_id IN (SELECT r.id FROM runs AS r
                 WHERE r.tenant_id = ? AND r.session_id = ? AND r.is_root AND ({fragment})))"""
        )
        params += [session_id, query.tenant_id, session_id, *fparams]
    m = f"""SELECT f.run_session_id AS sid, f.run_example_id AS eid, avg(f.score) AS mean
            FROM feedback AS f
            WHERE f.tenant_id = ? AND f.key = ? AND f.run_session_id IN ?
              AND f.run_is_root AND f.score IS NOT NULL AND {cmp_sql}
              AND f.run_example_id IN (SELECT id FROM ({ex}))
              {" ".join(filter_sql)}
            GROUP BY sid, eid"""
    return ex, ex_params, m, params


def delta(
    conn: Connection,
    query: DeltaQuery,
    key: str,
    lower_is_better: bool,
    window: Page | None,
) -> dict[UUID, tuple[list[UUID], list[UUID]]]:
    """Improved and regressed example ids per comparison session, in example order."""
    ex, ex_params, m, params = _means(query, key, window)
    # ``m`` is written twice (ClickHouse inlines it): measured faster than one ``m`` with
    # a window function for the baseline's mean, which sorts every row by example.
    sql = f"""
        SELECT c.sid, c.eid, c.mean > b.mean AS higher
        FROM ({m}) AS c
        INNER JOIN (SELECT eid, mean FROM ({m}) WHERE sid = ?) AS b ON b.eid = c.eid
        INNER JOIN ({ex}) AS ex ON ex.id = c.eid
        WHERE c.sid IN ?
          AND abs(c.mean - b.mean) > {TIE_TOLERANCE} * greatest(1.0, abs(b.mean), abs(c.mean))
        ORDER BY ex.pos
    """
    baseline = query.baseline_session_id
    comparisons = [s for s in query.comparison_session_ids if s != baseline]
    all_params = [*params, *params, baseline, *ex_params, comparisons]
    out: dict[UUID, tuple[list[UUID], list[UUID]]] = {
        sid: ([], []) for sid in query.comparison_session_ids
    }
    if not comparisons:
        return out
    for sid, eid, higher in conn.tuples(sql, all_params):
        improved, regressed = out[sid]
        (improved if bool(higher) != lower_is_better else regressed).append(eid)
    return out


def example_means(conn: Connection, query: DeltaQuery, key: str) -> dict[UUID, dict[UUID, float]]:
    """Per session (baseline and comparisons): example id -> mean score of the key."""
    _, _, m, params = _means(query, key, None)
    out: dict[UUID, dict[UUID, float]] = {
        sid: {} for sid in [query.baseline_session_id, *query.comparison_session_ids]
    }
    for sid, eid, mean in conn.tuples(f"SELECT sid, eid, mean FROM ({m})", params):
        out[sid][eid] = mean
    return out
