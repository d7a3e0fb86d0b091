"""Feedback writes on the DuckDB store, and the copies of run fields feedback carries.

Every feedback row holds its run's ``session_id``, ``reference_example_id`` and ``is_root``
as ``run_session_id``, ``run_example_id`` and ``run_is_root`` (NULL while the run is
unknown), so that the delta query reads feedback alone.  The copies are kept right in every
order of arrival:

- feedback written (new, re-sent or updated) takes them from ``runs`` as it is inserted,
  so a run written earlier, or earlier in the same batch, is found;
- a run written for the first time fills them into feedback that arrived before it;
- a run written again (a patch, a re-post) rewrites them only if one of the three changed.

Each append is ordered by key (then session and example), so one key's rows sit together
and a scan for one key skips most of the table.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any
from uuid import UUID

import duckdb
import orjson
import pyarrow as pa

from evaldelta.errors import NotFound
from evaldelta.store.base import Row
from evaldelta.store.duckdb.arrow import UUID_COLUMNS, rows_table, uuid_array, uuid_repeat
from evaldelta.store.listing import RUN_COPIES
from evaldelta.store.sqlrows import dump_json, fetch_rows

FEEDBACK_COLUMNS = [
    "tenant_id",
    "id",
    "run_id",
    "trace_id",
    "session_id",
    "key",
    "score",
    "score_is_bool",
    "value",
    "comment",
    "correction",
    "feedback_source",
    "feedback_config",
    "created_at",
    "modified_at",
    "start_time",
    "comparative_experiment_id",
    "feedback_group_id",
    "extra",
    "error",
]
FEEDBACK_JSON = {"value", "correction", "feedback_source", "feedback_config", "extra"}
_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS  # as ``dump_json`` writes them


_STORED = [c for c in FEEDBACK_COLUMNS if c != "tenant_id"]
_take = itemgetter(*_STORED)


def _json_column(values: Sequence[Any]) -> list[str | None]:
    """JSON text of each value (None stays NULL), in one comprehension; only if a value
    cannot be written does ``dump_json`` go over them to raise its 422."""
    try:
        return [
            None if v is None else orjson.dumps(v, option=_JSON_OPTIONS).decode() for v in values
        ]
    except orjson.JSONEncodeError:
        return [dump_json(v) for v in values]


def feedback_table(tenant_id: UUID, rows: list[Row], copies: RunCopies | None = None) -> pa.Table:
    """The stored columns of API-shaped feedback rows, as one Arrow table (JSON fields as
    text), built column by column; with ``copies``, the run fields copied onto each row.

    Validated rows carry every column, so one ``itemgetter`` per row and a ``zip``
    transpose them in C; other rows go through ``dict.get``.
    """
    try:
        values: list[Sequence[Any]] = list(zip(*map(_take, rows), strict=True)) or [
            [] for _ in _STORED
        ]
    except KeyError:
        values = [[r.get(name) for r in rows] for name in _STORED]
    columns: dict[str, Any] = {"tenant_id": uuid_repeat(tenant_id, len(rows))}
    for name, column in zip(_STORED, values, strict=True):
        columns[name] = _json_column(column) if name in FEEDBACK_JSON else column
    if copies is not None:
        for (name, _), column in zip(RUN_COPIES, copies.columns(columns["run_id"]), strict=True):
            columns[name] = column
    return pa.table(
        {
            name: column
            if isinstance(column, pa.Array)
            else uuid_array(column)
            if name in UUID_COLUMNS
            else pa.array(column)
            for name, column in columns.items()
        }
    )


class RunCopies:
    """The copied run fields (session, example, root flag) by run id, for one batch.

    Filled from the runs the batch itself wrote (their rows are at hand) and, for any other
    run a feedback row names, from one narrow read of ``runs``: no join of the batch
    against the whole runs table, whose probe grew with the store.
    """

    def __init__(self, written: list[Row]) -> None:
        self._by_id: dict[Any, tuple[Any, Any, Any]] = {
            row["id"]: tuple(row[column] for _, column in RUN_COPIES) for row in written
        }

    def read_missing(
        self, cur: duckdb.DuckDBPyConnection, tenant_id: UUID, rows: list[Row]
    ) -> None:
        """Read the stored fields of the runs ``rows`` name that this batch did not write."""
        known = self._by_id
        missing = {
            run_id
            for run_id in (row["run_id"] for row in rows)
            if run_id is not None and run_id not in known
        }
        if not missing:
            return
        found = cur.execute(
            f"""SELECT id, {", ".join(column for _, column in RUN_COPIES)} FROM runs
                WHERE tenant_id = ? AND id IN (SELECT unnest(?::UUID[]))""",
            [tenant_id, [str(run_id) for run_id in missing]],
        ).fetchall()
        stored = {UUID(str(row[0])): tuple(row[1:]) for row in found}
        for run_id in missing:
            # Ids may arrive as UUIDs or text: key by what the feedback row holds.
            key = run_id if isinstance(run_id, UUID) else UUID(str(run_id))
            known[run_id] = stored.get(key, _NO_RUN)
        if len(stored) < len(missing):  # some of this feedback will await its run
            _none_waiting.get(cur, set()).discard(tenant_id)

    def columns(self, run_ids: Sequence[Any]) -> list[list[Any]]:
        """The three copied columns for feedback naming ``run_ids`` (NULL: run unknown)."""
        get = self._by_id.get
        found = [get(run_id, _NO_RUN) if run_id is not None else _NO_RUN for run_id in run_ids]
        return [list(column) for column in zip(*found, strict=True)] if found else [[], [], []]


_NO_RUN: tuple[Any, Any, Any] = (None, None, None)


def insert_feedback(
    cur: duckdb.DuckDBPyConnection,
    tenant_id: UUID,
    rows: list[Row],
    written_runs: list[Row] | None = None,
) -> None:
    """Insert-or-replace API-shaped feedback rows in one append, with their run's fields
    copied (from ``written_runs``, this batch's stored run rows, else from ``runs``) and
    the rows ordered by key."""
    if not rows:
        return
    copies = RunCopies(written_runs or [])
    copies.read_missing(cur, tenant_id, rows)
    cur.register("_feedback_batch", feedback_table(tenant_id, rows, copies))
    try:
        names = ", ".join([*FEEDBACK_COLUMNS, *(name for name, _ in RUN_COPIES)])
        cur.execute(
            f"""INSERT OR REPLACE INTO feedback ({names})
                SELECT {names} FROM _feedback_batch
                ORDER BY key, run_session_id, run_example_id"""
        )
    finally:
        cur.unregister("_feedback_batch")


def _copies(row: Row) -> tuple[object, ...]:
    return tuple(str(row[column]) if row[column] is not None else None for _, column in RUN_COPIES)


def runs_to_copy(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, old: dict[str, Row], new: list[Row]
) -> list[Row]:
    """The runs of a batch whose fields must be copied onto feedback already stored.

    ``old`` holds the stored rows of the runs that existed before the batch (by id), ``new``
    the rows written.  A known run needs it only if a copied field changed; a new run only
    if feedback arrived before it, which one scan of the rows still waiting for their run
    tells (most row groups have none and are skipped on their statistics).
    """
    changed = [r for r in new if str(r["id"]) in old and _copies(old[str(r["id"])]) != _copies(r)]
    fresh = {str(r["id"]) for r in new if str(r["id"]) not in old}
    if fresh:
        waiting = _waiting_runs(cur, tenant_id, fresh)
        changed += [r for r in new if str(r["id"]) in waiting]
    return changed


# Per writer cursor, the tenants known to have no feedback awaiting its run: the read
# above found none, and no feedback written since named a run the store lacked (the
# writer's own bookkeeping; feedback only starts waiting in ``insert_feedback``).  Usually
# every tenant, so most batches skip that read.
_none_waiting: weakref.WeakKeyDictionary[duckdb.DuckDBPyConnection, set[UUID]] = (
    weakref.WeakKeyDictionary()
)
# Above this many runs awaited by feedback, ask the store about the batch's ids instead.
WAITING_READ_LIMIT = 20_000


def _waiting_runs(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, ids: set[str]) -> set[str]:
    """Those of ``ids`` that stored feedback names but whose run is not stored yet.

    Such feedback is rare, and its NULL copies let DuckDB skip every row group without
    any on their statistics: reading all of it is cheaper than matching the batch's ids
    against the whole run_id column.
    """
    settled = _none_waiting.setdefault(cur, set())
    if tenant_id in settled:
        return set()
    rows = cur.execute(
        """SELECT DISTINCT run_id FROM feedback
           WHERE tenant_id = ? AND run_is_root IS NULL AND run_id IS NOT NULL LIMIT ?""",
        [tenant_id, WAITING_READ_LIMIT + 1],
    ).fetchall()
    if not rows:
        settled.add(tenant_id)
    if len(rows) > WAITING_READ_LIMIT:
        rows = cur.execute(
            """SELECT DISTINCT run_id FROM feedback
               WHERE tenant_id = ? AND run_is_root IS NULL
                 AND run_id IN (SELECT unnest(?::UUID[]))""",
            [tenant_id, sorted(ids)],
        ).fetchall()
    return {str(row[0]) for row in rows} & ids


def copy_run_fields(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, runs: list[Row]) -> None:
    """Write the given runs' session, example and root flag onto all their feedback."""
    if not runs:
        return
    columns = ["id", *(column for _, column in RUN_COPIES)]
    cur.register("_run_copies", rows_table(columns, runs))
    try:
        sets = ", ".join(f"{name} = c.{column}" for name, column in RUN_COPIES)
        cur.execute(
            f"""UPDATE feedback SET {sets}
                FROM _run_copies c
                WHERE feedback.tenant_id = ? AND feedback.run_id = c.id""",
            [tenant_id],
        )
    finally:
        cur.unregister("_run_copies")


def write_feedback_update(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, feedback_id: UUID, changes: Row
) -> None:
    """Replace the given fields of one feedback (score, value, comment, correction, config)."""
    rows = fetch_rows(
        cur, "SELECT * FROM feedback WHERE tenant_id = ? AND id = ?", [tenant_id, feedback_id]
    )
    if not rows:
        raise NotFound(f"Feedback {feedback_id} not found")
    row = rows[0]
    row.update(changes)
    row["modified_at"] = datetime.now(UTC)
    insert_feedback(cur, tenant_id, [row])
