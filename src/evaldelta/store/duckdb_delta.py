"""The feedback-delta query on DuckDB: one pass over one key's feedback per key.

Per (session, example): the mean of the key's non-null scores over the session's root runs
linked to the example (repetitions averaged; booleans are stored as 1/0).  Feedback carries
its run's session, example and root flag, so the means of every session come from one scan
of the key's feedback rows, grouped by example with one filtered mean per session, and no
join to runs; a session with filters adds a semi-join to its own filtered runs.  The means
arrive as NumPy arrays and are compared there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import duckdb
import numpy as np
import numpy.typing as npt

from evaldelta.store.base import DeltaQuery, Page
from evaldelta.store.duckdb_example_order import DatasetIds, read_example_ids

# Means closer than this (relative) are a tie: averaging the same scores in another order
# must never turn a tie into an improvement.
TIE_TOLERANCE = 1e-9

# The dataset's example ids by position (creation time, then id).
ExampleIds = Callable[[], DatasetIds]


def _sessions(query: DeltaQuery) -> list[UUID]:
    """The baseline, then each comparison once: one mean column each."""
    return list(dict.fromkeys([query.baseline_session_id, *query.comparison_session_ids]))


def examples_sql(query: DeltaQuery, window: Page | None) -> tuple[str, list[Any]]:
    """The dataset's examples with their position (creation time, then id), maybe one page."""
    params: list[Any] = [query.tenant_id, query.dataset_id]
    window_sql = ""
    if window is not None:
        window_sql = "QUALIFY pos >= ? AND pos < ?"
        params += [window.offset, window.offset + window.limit]
    sql = f"""SELECT id, row_number() OVER (ORDER BY created_at, id) - 1 AS pos
              FROM examples WHERE tenant_id = ? AND dataset_id = ? {window_sql}"""
    return sql, params


def _counted(query: DeltaQuery, key: str, sessions: Sequence[UUID]) -> tuple[str, list[Any]]:
    """WHERE clause over feedback ``f``: the key's scores that count, for these sessions."""
    params: list[Any] = [
        query.tenant_id,
        key,
        [str(s) for s in sessions],
        query.comparative_experiment_id,
    ]
    filter_sql = ""
    if query.filters:
        # Rows of a filtered session count only if their run passes its session's filter:
        # one semi-join to the runs that pass, whichever session they are in.
        params += [[str(s) for s in query.filters], query.tenant_id]
        passing = []
        for session_id, (fragment, fparams) in query.filters.items():
            passing.append(f"(r.session_id = ? AND ({fragment}))")
            params += [session_id, *fparams]
        filter_sql = f"""AND (f.run_session_id NOT IN (SELECT unnest(?::UUID[]))
                OR f.run_id IN (SELECT r.id FROM runs r
                                WHERE r.tenant_id = ? AND ({" OR ".join(passing)})))"""
    sql = f"""WHERE f.tenant_id = ? AND f.key = ? AND f.run_is_root AND f.score IS NOT NULL
                AND f.run_session_id IN (SELECT unnest(?::UUID[]))
                AND (f.comparative_experiment_id IS NULL OR f.comparative_experiment_id = ?)
                {filter_sql}"""
    return sql, params


def _means(
    cur: duckdb.DuckDBPyConnection, query: DeltaQuery, key: str, window: Page | None
) -> npt.NDArray[np.float64]:
    """Means by session (``_sessions`` order) and example position: ``[session, pos]``,
    NaN where a session has no score for the example.

    DuckDB hands over the counted scores with their example's position and session's
    index; NumPy sums and counts them per cell.  Measured about twice as fast as letting
    DuckDB group by example with one filtered mean per session.
    """
    sessions = _sessions(query)
    ex_sql, params = examples_sql(query, window)
    where, where_params = _counted(query, key, sessions)
    sql = f"""
        WITH ex AS ({ex_sql})
        SELECT ex.pos, list_position(?::UUID[], f.run_session_id)::BIGINT - 1 AS si, f.score
        FROM feedback f JOIN ex ON ex.id = f.run_example_id
        {where}"""
    params += [[str(s) for s in sessions], *where_params]
    found = cur.execute(sql, params).fetchnumpy()
    pos = np.ma.getdata(found["pos"]).astype(np.int64)
    width = int(pos.max()) + 1 if len(pos) else 0
    cell = np.ma.getdata(found["si"]).astype(np.int64) * width + pos
    size = len(sessions) * width
    sums = np.bincount(cell, weights=np.ma.getdata(found["score"]), minlength=size)
    counts = np.bincount(cell, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: npt.NDArray[np.float64] = (sums / counts).reshape(len(sessions), width)
    return means


def compare(
    base: npt.NDArray[np.float64], other: npt.NDArray[np.float64], lower_is_better: bool
) -> tuple[npt.NDArray[np.bool_], npt.NDArray[np.bool_]]:
    """Masks of improved and regressed entries: ``other`` against ``base``, ties within
    ``TIE_TOLERANCE`` (relative, at least absolute) and NaN on either side are neither."""
    diff = other - base
    with np.errstate(invalid="ignore"):
        tolerance = TIE_TOLERANCE * np.maximum(1.0, np.maximum(np.abs(base), np.abs(other)))
        changed = np.abs(diff) > tolerance
        better = diff < 0 if lower_is_better else diff > 0
    return changed & better, changed & ~better


def delta(
    cur: duckdb.DuckDBPyConnection,
    query: DeltaQuery,
    key: str,
    lower_is_better: bool,
    window: Page | None,
    example_ids: ExampleIds | None = None,
) -> dict[UUID, tuple[list[UUID], list[UUID]]]:
    """Improved and regressed example ids per comparison session, in example order.

    ``example_ids`` gives the dataset's ids by position (the store keeps them between
    calls); by default they are read in the caller's snapshot.
    """
    means = _means(cur, query, key, window)
    column = {sid: i for i, sid in enumerate(_sessions(query))}
    masks = {
        sid: compare(means[0], means[column[sid]], lower_is_better)
        for sid in query.comparison_session_ids
    }
    if not any(improved.any() or regressed.any() for improved, regressed in masks.values()):
        return {sid: ([], []) for sid in masks}
    ids = (
        read_example_ids(cur, query.tenant_id, query.dataset_id)
        if example_ids is None
        else example_ids()
    )

    def pick(mask: npt.NDArray[np.bool_]) -> list[UUID]:
        return ids.at(np.flatnonzero(mask).tolist())

    return {sid: (pick(improved), pick(regressed)) for sid, (improved, regressed) in masks.items()}


def example_means(
    cur: duckdb.DuckDBPyConnection,
    query: DeltaQuery,
    key: str,
    example_ids: ExampleIds | None = None,
) -> dict[UUID, dict[UUID, float]]:
    """Per session (baseline and comparisons): example id -> mean score of the key."""
    means = _means(cur, query, key, None)
    ids = (
        read_example_ids(cur, query.tenant_id, query.dataset_id)
        if example_ids is None
        else example_ids()
    )
    out: dict[UUID, dict[UUID, float]] = {}
    for row, sid in zip(means, _sessions(query), strict=True):
        scored = np.flatnonzero(~np.isnan(row))
        out[sid] = dict(zip(ids.at(scored.tolist()), row[scored].tolist(), strict=True))
    return out
