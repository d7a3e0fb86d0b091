"""The feedback-delta query on DuckDB: one SQL statement per key over all sessions.

Per (session, example): the mean of the key's non-null scores over the session's root runs
linked to the example (repetitions averaged; booleans are stored as 1/0).  Each comparison
session's mean is compared with the baseline's; equal or missing means neither.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from evaldelta.store.base import DeltaQuery, Page

# Means closer than this (relative) are a tie: averaging the same scores in another order
# must never turn a tie into an improvement.
TIE_TOLERANCE = 1e-9


def _means(query: DeltaQuery, key: str, window: Page | None) -> tuple[str, list[Any]]:
    """CTEs ``ex`` (the dataset's examples in order, maybe one page of them) and ``m``
    (per session and example: the mean score of the key over counted runs)."""
    sessions = [query.baseline_session_id, *query.comparison_session_ids]
    params: list[Any] = [query.tenant_id, query.dataset_id]
    window_sql = ""
    if window is not None:
        window_sql = "QUALIFY pos >= ? AND pos < ?"
        params += [window.offset, window.offset + window.limit]
    params += [query.tenant_id, [str(s) for s in sessions], key, query.comparative_experiment_id]
    filter_sql = []
    for session_id, (fragment, fparams) in query.filters.items():
        filter_sql.append(f"AND (r.session_id <> ? OR ({fragment}))")
        params += [session_id, *fparams]
    sql = f"""
        WITH ex AS (
            SELECT id, row_number() OVER (ORDER BY created_at, id) - 1 AS pos
            FROM examples WHERE tenant_id = ? AND dataset_id = ?
            {window_sql}
        ),
        m AS (
            SELECT r.session_id AS sid, r.reference_example_id AS eid, avg(fb.score) AS mean
            FROM runs r
            JOIN feedback fb ON fb.tenant_id = r.tenant_id AND fb.run_id = r.id
            WHERE r.tenant_id = ? AND r.is_root
              AND r.session_id IN (SELECT unnest(?::UUID[]))
              AND r.reference_example_id IN (SELECT id FROM ex)
              AND fb.key = ? AND fb.score IS NOT NULL
              AND (fb.comparative_experiment_id IS NULL OR fb.comparative_experiment_id = ?)
              {" ".join(filter_sql)}
            GROUP BY 1, 2
        )"""
    return sql, params


def delta(
    cur: duckdb.DuckDBPyConnection,
    query: DeltaQuery,
    key: str,
    lower_is_better: bool,
    window: Page | None,
) -> dict[UUID, tuple[list[UUID], list[UUID]]]:
    """Improved and regressed example ids per comparison session, in example order."""
    ctes, params = _means(query, key, window)
    params += [query.baseline_session_id, [str(s) for s in query.comparison_session_ids]]
    sql = f"""{ctes}
        SELECT c.sid, c.eid, c.mean > b.mean AS higher
        FROM m c
        JOIN m b ON b.eid = c.eid AND b.sid = ?
        JOIN ex ON ex.id = c.eid
        WHERE c.sid IN (SELECT unnest(?::UUID[]))
          AND abs(c.mean - b.mean) > {TIE_TOLERANCE} * greatest(1.0, abs(b.mean), abs(c.mean))
        ORDER BY ex.pos
    """
    out: dict[UUID, tuple[list[UUID], list[UUID]]] = {
        sid: ([], []) for sid in query.comparison_session_ids
    }
    for sid, eid, higher in cur.execute(sql, params).fetchall():
        improved, regressed = out[sid]
        (improved if higher != lower_is_better else regressed).append(eid)
    return out


def example_means(
    cur: duckdb.DuckDBPyConnection, query: DeltaQuery, key: str
) -> dict[UUID, dict[UUID, float]]:
    """Per session (baseline and comparisons): example id -> mean score of the key."""
    ctes, params = _means(query, key, None)
    out: dict[UUID, dict[UUID, float]] = {
        sid: {} for sid in [query.baseline_session_id, *query.comparison_session_ids]
    }
    for sid, eid, mean in cur.execute(f"{ctes} SELECT sid, eid, mean FROM m", params).fetchall():
        out[sid][eid] = mean
    return out
