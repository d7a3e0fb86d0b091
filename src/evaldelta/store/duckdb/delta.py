"""The feedback-delta query on DuckDB: each session's per-example means, then NumPy.

Per (session, example): the mean of the key's non-null scores over the session's root runs
linked to the example (repetitions averaged; booleans are stored as 1/0).  Feedback carries
its run's session, example and root flag, so the means of every session come from one scan
of the key's feedback rows with no join to runs; a session with filters adds a semi-join to
its own filtered runs.  Rows of means already kept in memory (``means_cache``) are used
instead of the scan when they are exact for the reader's snapshot, and the rows read are
kept for the next request.  The comparison is NumPy work (``store/compare.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import duckdb
import numpy as np
import numpy.typing as npt

from evaldelta.store.base import DeltaQuery, Page
from evaldelta.store.compare import compare
from evaldelta.store.duckdb.means_cache import MeansCache, RowKey
from evaldelta.store.duckdb.snapshot import Snapshot
from evaldelta.store.id_table import ExampleIdList, IdTable

Floats = npt.NDArray[np.float64]
DeltaLists = dict[UUID, tuple[ExampleIdList, ExampleIdList]]

# Later keys of a request read with one key's scan (see ``_read_ahead``; the group size
# was measured at L, docs/benchmarks.md).
READ_AHEAD_KEYS = 5


def _counted(
    query: DeltaQuery, keys: Sequence[str], sessions: Sequence[UUID]
) -> tuple[str, list[Any]]:
    """WHERE clause over feedback ``f``: the keys' scores that count, for these sessions."""
    params: list[Any] = [
        query.tenant_id,
        list(keys),
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
    sql = f"""WHERE f.tenant_id = ? AND f.key IN (SELECT unnest(?::VARCHAR[]))
                AND f.run_is_root AND f.score IS NOT NULL
                AND f.run_session_id IN (SELECT unnest(?::UUID[]))
                AND f.comparative_experiment_id IS NOT DISTINCT FROM ?::UUID
                {filter_sql}"""
    return sql, params


def _read_means(
    cur: duckdb.DuckDBPyConnection,
    query: DeltaQuery,
    keys: Sequence[str],
    sessions: Sequence[UUID],
    width: int,
) -> npt.NDArray[np.float64]:
    """Means by key, session (in the orders given) and example position: ``[key, session,
    pos]``, NaN where a session has no score of the key for the example.

    DuckDB hands over the counted scores with their cell's index; NumPy sums and counts
    them per cell.  Measured about twice as
    fast as letting DuckDB group by example with one filtered mean per session.
    """
    where, where_params = _counted(query, keys, sessions)
    per_key = len(sessions) * width
    size = len(keys) * per_key
    # The cell (key, session, example) as one integer, computed by DuckDB: 12 bytes a row
    # to hand over instead of 32, which matters when a scan reads several keys.
    cell_type = "INTEGER" if size < 2**31 else "BIGINT"
    sql = f"""
        WITH ex AS (
            SELECT id, row_number() OVER (ORDER BY created_at, id) - 1 AS pos
            FROM examples WHERE tenant_id = ? AND dataset_id = ?)
        SELECT ((list_position(?::VARCHAR[], f.key) - 1) * {per_key}
                + (list_position(?::UUID[], f.run_session_id) - 1) * {width}
                + ex.pos)::{cell_type} AS cell,
               f.score
        FROM feedback f JOIN ex ON ex.id = f.run_example_id
        {where}"""
    params = [
        query.tenant_id,
        query.dataset_id,
        list(keys),
        [str(s) for s in sessions],
        *where_params,
    ]
    found = cur.execute(sql, params).fetchnumpy()
    cell = np.ma.getdata(found["cell"])
    sums = np.bincount(cell, weights=np.ma.getdata(found["score"]), minlength=size)
    counts = np.bincount(cell, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        means: npt.NDArray[np.float64] = (sums / counts).reshape(len(keys), len(sessions), width)
    return means


def _row_key(query: DeltaQuery, key: str, session_id: UUID) -> RowKey:
    # What a row depends on besides the data: its session's filter, and which comparative
    # experiment's feedback counts.
    condition = repr((query.filters.get(session_id), query.comparative_experiment_id))
    return (query.tenant_id, query.dataset_id, key, session_id, condition)


def _read_ahead(snap: Snapshot, query: DeltaQuery, key: str) -> list[str]:
    """The request's keys after ``key`` whose rows one scan reads along with it.

    The scan's cost is mostly reading every feedback row's key, whatever the number of
    keys it keeps, so later keys of a stream are read with an earlier one and kept.  The
    request's first key is read alone: it is what the first chunk waits for.  Nothing is
    read ahead once a write has happened since the request's first read: the rows would
    be dropped before they were used.
    """
    keys = list(query.feedback_keys)
    cache = snap.cache
    if cache is None or key not in keys or keys.index(key) == 0:
        return []
    if cache.began_at(query, snap.version) != snap.version:
        return []
    sessions = query.sessions
    ahead: list[str] = []
    for other in keys[keys.index(key) + 1 :]:
        if len(ahead) == READ_AHEAD_KEYS:
            break
        if not cache.has(snap.version, (_row_key(query, other, s) for s in sessions)):
            ahead.append(other)
    return ahead


def _kept(snap: Snapshot, query: DeltaQuery, key: str) -> dict[UUID, Floats]:
    """The key's rows kept for the snapshot's version, by session."""
    if snap.cache is None:
        return {}
    wanted = [_row_key(query, key, s) for s in query.sessions]
    return {k[3]: row for k, row in snap.cache.get(snap.version, wanted).items()}


def session_means(
    snap: Snapshot, query: DeltaQuery, key: str
) -> tuple[IdTable, dict[UUID, Floats]]:
    """The dataset's example ids and each session's means by example position: kept rows
    where exact, else one scan of the key's feedback (and of a few later keys' of the
    request, ``_read_ahead``), kept for later."""
    sessions = query.sessions
    cache = snap.cache
    if cache is not None:
        cache.began_at(query, snap.version)
    found = _kept(snap, query, key)
    ids = snap.example_ids()
    if len(found) == len(sessions):
        if snap.exact():
            return ids, found
        return session_means_unkept(snap, query, key)  # the ids came from a newer snapshot
    snap.cursor()  # the snapshot, taken now: is it still the version of the kept rows?
    if cache is None or not snap.exact():  # nothing kept may be used or kept
        return session_means_unkept(snap, query, key)
    if not _read_ahead(snap, query, key):
        return ids, _read_and_keep(snap, cache, query, [key], len(ids))
    with cache.read_ahead_lock:
        found = _kept(snap, query, key)  # read by a stream this one waited for?
        if len(found) == len(sessions):
            return ids, found
        keys = [key, *_read_ahead(snap, query, key)]
        return ids, _read_and_keep(snap, cache, query, keys, len(ids))


def _read_and_keep(
    snap: Snapshot, cache: MeansCache, query: DeltaQuery, keys: list[str], width: int
) -> dict[UUID, Floats]:
    """Read the keys' rows in the snapshot, keep them all, return the first key's."""
    sessions = query.sessions
    read = _read_means(snap.cursor(), query, keys, sessions, width)
    cache.keep(
        snap.version,
        {
            _row_key(query, k, s): read[i, j]
            for i, k in enumerate(keys)
            for j, s in enumerate(sessions)
        },
    )
    return dict(zip(sessions, read[0], strict=True))


def session_means_unkept(
    snap: Snapshot, query: DeltaQuery, key: str
) -> tuple[IdTable, dict[UUID, Floats]]:
    """Every session's means read in the snapshot, nothing kept used."""
    sessions = query.sessions
    cur = snap.cursor()
    ids = snap.example_ids()
    read = _read_means(cur, query, [key], sessions, len(ids))
    return ids, dict(zip(sessions, read[0], strict=True))


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
