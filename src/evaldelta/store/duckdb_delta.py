"""The feedback-delta query on DuckDB: each session's per-example means, then NumPy.

Per (session, example): the mean of the key's non-null scores over the session's root runs
linked to the example (repetitions averaged; booleans are stored as 1/0).  Feedback carries
its run's session, example and root flag, so the means of every session come from one scan
of the key's feedback rows with no join to runs; a session with filters adds a semi-join to
its own filtered runs.  Rows of means already kept in memory (``means_cache``) are used
instead of the scan when they are exact for the reader's snapshot, and the rows read are
kept for the next request.  The comparison is NumPy work (``delta.compare``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import duckdb
import numpy as np
import numpy.typing as npt

from evaldelta.delta.compare import compare
from evaldelta.store.base import DeltaQuery, Page
from evaldelta.store.duckdb_snapshot import Snapshot
from evaldelta.store.id_table import ExampleIdList, IdTable
from evaldelta.store.means_cache import RowKey

Floats = npt.NDArray[np.float64]
DeltaLists = dict[UUID, tuple[ExampleIdList, ExampleIdList]]


def _sessions(query: DeltaQuery) -> list[UUID]:
    """The baseline, then each comparison once."""
    return list(dict.fromkeys([query.baseline_session_id, *query.comparison_session_ids]))


def _counted(query: DeltaQuery, key: str, sessions: Sequence[UUID]) -> tuple[str, list[Any]]:
    """WHERE clause over feedback ``f``: the key's scores that count, for these sessions."""
    params: list[Any] = [
        query.tenant_id,
        key,
        [str(s) for s in sessions],
        query.comparative_experiment_id,
    ]
    filter_sql = ""
    filtered = {s: f for s, f in query.filters.items() if s in sessions}
    if filtered:
        # Rows of a filtered session count only if their run passes its session's filter:
        # one semi-join to the runs that pass, whichever session they are in.
        params += [[str(s) for s in filtered], query.tenant_id]
        passing = []
        for session_id, (fragment, fparams) in filtered.items():
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


def _read_means(
    cur: duckdb.DuckDBPyConnection,
    query: DeltaQuery,
    key: str,
    sessions: Sequence[UUID],
    width: int,
) -> Floats:
    """Means by session (in ``sessions`` order) and example position: ``[session, pos]``,
    NaN where a session has no score for the example.

    DuckDB hands over the counted scores with their example's position and session's
    index; NumPy sums and counts them per cell.  Measured about twice as fast as letting
    DuckDB group by example with one filtered mean per session.
    """
    where, where_params = _counted(query, key, sessions)
    sql = f"""
        WITH ex AS (
            SELECT id, row_number() OVER (ORDER BY created_at, id) - 1 AS pos
            FROM examples WHERE tenant_id = ? AND dataset_id = ?)
        SELECT ex.pos, list_position(?::UUID[], f.run_session_id)::BIGINT - 1 AS si, f.score
        FROM feedback f JOIN ex ON ex.id = f.run_example_id
        {where}"""
    params = [query.tenant_id, query.dataset_id, [str(s) for s in sessions], *where_params]
    found = cur.execute(sql, params).fetchnumpy()
    pos = np.ma.getdata(found["pos"]).astype(np.int64)
    cell = np.ma.getdata(found["si"]).astype(np.int64) * width + pos
    size = len(sessions) * width
    sums = np.bincount(cell, weights=np.ma.getdata(found["score"]), minlength=size)
    counts = np.bincount(cell, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: Floats = (sums / counts).reshape(len(sessions), width)
    return means


def session_means(
    snap: Snapshot, query: DeltaQuery, key: str
) -> tuple[IdTable, dict[UUID, Floats]]:
    """The dataset's example ids and each session's means by example position: kept rows
    where exact, one scan of the key's feedback for the rest (then kept)."""
    sessions = _sessions(query)
    cache = snap.cache

    def row_key(session_id: UUID) -> RowKey:
        # What a row depends on besides the data: its session's filter, and which
        # comparative experiment's feedback counts.
        condition = repr((query.filters.get(session_id), query.comparative_experiment_id))
        return (query.tenant_id, query.dataset_id, key, session_id, condition)

    found: dict[UUID, Floats] = {}
    if cache is not None:
        found = {k[3]: row for k, row in cache.get(snap.version, map(row_key, sessions)).items()}
    ids = snap.example_ids()
    missing = [s for s in sessions if s not in found]
    if missing:
        cur = snap.cursor()
        if not snap.exact():  # a write began before the snapshot: take all from it
            found, missing, ids = {}, sessions, snap.example_ids()
        read = _read_means(cur, query, key, missing, len(ids))
        found.update(zip(missing, read, strict=True))
        if cache is not None and snap.exact():
            cache.keep(snap.version, {row_key(s): found[s] for s in missing})
    elif not snap.exact():  # reading the ids took a snapshot newer than the kept means
        return session_means_unkept(snap, query, key)
    return ids, found


def session_means_unkept(
    snap: Snapshot, query: DeltaQuery, key: str
) -> tuple[IdTable, dict[UUID, Floats]]:
    """Every session's means read in the snapshot, nothing kept used."""
    sessions = _sessions(query)
    cur = snap.cursor()
    ids = snap.example_ids()
    read = _read_means(cur, query, key, sessions, len(ids))
    return ids, dict(zip(sessions, read, strict=True))


def delta(
    snap: Snapshot, query: DeltaQuery, key: str, lower_is_better: bool, window: Page | None
) -> DeltaLists:
    """Improved and regressed examples per comparison session, in example order (only
    those of ``window``'s positions, if given)."""
    ids, means = session_means(snap, query, key)
    base = means[query.baseline_session_id]
    start, stop = 0, len(base)
    if window is not None:
        start, stop = min(window.offset, stop), min(window.offset + window.limit, stop)
    out: DeltaLists = {}
    for sid in query.comparison_session_ids:
        improved, regressed = compare(base[start:stop], means[sid][start:stop], lower_is_better)
        out[sid] = (
            ExampleIdList(ids, np.flatnonzero(improved) + start),
            ExampleIdList(ids, np.flatnonzero(regressed) + start),
        )
    return out


def example_means(snap: Snapshot, query: DeltaQuery, key: str) -> dict[UUID, dict[UUID, float]]:
    """Per session (baseline and comparisons): example id -> mean score of the key."""
    ids, means = session_means(snap, query, key)
    out: dict[UUID, dict[UUID, float]] = {}
    for sid, row in means.items():
        scored = np.flatnonzero(~np.isnan(row))
        out[sid] = dict(zip(ids.at(scored.tolist()), row[scored].tolist(), strict=True))
    return out
