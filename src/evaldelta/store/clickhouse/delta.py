"""The feedback-delta query on ClickHouse: one wide SQL statement per key, compared in NumPy.

The same rule as ``duckdb/delta.py``, read from feedback alone: each feedback row carries its
run's session, example and root flag and the table is sorted by (tenant, key, session,
example), so one key of a few sessions is a handful of contiguous ranges.  Runs are read
only for sessions that have filters.

Per key, ClickHouse returns one row per example with one mean per session (``avgIf``), as
Arrow; the comparison with the baseline and the example order are NumPy work.  Python
objects are made only for the examples that changed, from the dataset's example ids made
once per request (``example_order.py``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import numpy as np
import numpy.typing as npt

from evaldelta.store.base import DeltaQuery, Page
from evaldelta.store.clickhouse.connection import Connection
from evaldelta.store.clickhouse.example_order import ExampleOrder, example_order
from evaldelta.store.compare import compare
from evaldelta.store.id_table import ExampleIdList

Floats = npt.NDArray[np.float64]


def wide_sql(
    query: DeltaQuery, key: str, window: list[UUID] | None = None
) -> tuple[str, list[Any]]:
    """Per example of the key's feedback: its 16 id bytes and one mean per session of
    ``query.sessions`` (NaN where the session has no counted score)."""
    sessions = query.sessions
    means = ", ".join(
        f"avgIf(assumeNotNull(f.score), f.run_session_id = ?) AS m{i}" for i in range(len(sessions))
    )
    params: list[Any] = [*sessions, query.tenant_id, key, sessions]
    where = [
        "f.tenant_id = ?",
        "f.key = ?",
        "f.run_session_id IN ?",
        "f.run_is_root",
        "f.score IS NOT NULL",
    ]
    if query.comparative_experiment_id is None:
        where.append("f.comparative_experiment_id IS NULL")
    else:
        # A pairwise experiment's feedback alone: its scores only mean "which side won".
        where.append("f.comparative_experiment_id = ?")
        params.append(query.comparative_experiment_id)
    if window is not None:
        # A page: read only its examples' feedback (the sort key has the example after the
        # session, so these are small ranges).
        where.append("f.run_example_id IN ?")
        params.append(window)
    for session_id, (fragment, fparams) in query.filters.items():
        where.append(
            f"""(f.run_session_id <> ? OR f.run_id IN (SELECT r.id FROM runs AS r
                 WHERE r.tenant_id = ? AND r.session_id = ? AND r.is_root AND ({fragment})))"""
        )
        params += [session_id, query.tenant_id, session_id, *fparams]
    sql = f"""SELECT UUIDToNum(f.run_example_id) AS eid, {means}
              FROM feedback AS f WHERE {" AND ".join(where)}
              GROUP BY f.run_example_id"""
    return sql, params


def _means(
    conn: Connection, query: DeltaQuery, key: str, order: ExampleOrder
) -> tuple[npt.NDArray[np.int64], Floats, list[UUID]]:
    """Positions of the examples with scores (in example order) and their means, one
    column per session of ``query.sessions``."""
    sessions = query.sessions
    window = order.uuids() if order.is_window else None
    sql, params = wide_sql(query, key, window)
    table = conn.arrow(sql, params)
    positions = order.positions(table.column("eid").to_pylist())
    keep = positions >= 0  # examples no longer (or not yet) in the dataset do not count
    columns = [table.column(f"m{i}").to_numpy() for i in range(len(sessions))]
    matrix = np.column_stack(columns) if columns else np.empty((len(positions), 0))
    sort = np.argsort(positions[keep], kind="stable")
    return positions[keep][sort], matrix[keep][sort], sessions


def delta(
    conn: Connection,
    query: DeltaQuery,
    key: str,
    lower_is_better: bool,
    window: Page | None,
) -> dict[UUID, tuple[ExampleIdList, ExampleIdList]]:
    """Improved and regressed example ids per comparison session, in example order."""
    order = example_order(conn, query, window)
    none = np.empty(0, dtype=np.int64)
    out = {
        sid: (ExampleIdList(order.ids, none), ExampleIdList(order.ids, none))
        for sid in query.comparison_session_ids
    }
    if len(query.sessions) < 2 or not len(order.ids):
        return out
    positions, matrix, sessions = _means(conn, query, key, order)
    base = matrix[:, 0]
    for column, sid in enumerate(sessions[1:], start=1):
        improved, regressed = compare(base, matrix[:, column], lower_is_better)
        out[sid] = (
            ExampleIdList(order.ids, positions[improved]),
            ExampleIdList(order.ids, positions[regressed]),
        )
    return out


def example_means(conn: Connection, query: DeltaQuery, key: str) -> dict[UUID, dict[UUID, float]]:
    """Per session (baseline and comparisons): example id -> mean score of the key."""
    out: dict[UUID, dict[UUID, float]] = {
        sid: {} for sid in [query.baseline_session_id, *query.comparison_session_ids]
    }
    order = example_order(conn, query, None)
    if not len(order.ids):
        return out
    positions, matrix, sessions = _means(conn, query, key, order)
    for column, sid in enumerate(sessions):
        values = matrix[:, column]
        present = ~np.isnan(values)
        out[sid] = dict(
            zip(
                order.ids.at(positions[present].tolist()),
                values[present].tolist(),
                strict=True,
            )
        )
    return out
