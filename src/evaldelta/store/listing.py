"""The list queries of both stores, written once over a ``rows(sql, params)`` callable.

Datasets, examples, sessions (with their statistics), runs, feedback and feedback configs
are listed with the same SQL on DuckDB and ClickHouse; where the two engines spell a thing
differently the :class:`~evaldelta.store.dialect.Dialect` says it.  Lists are ordered
stably (a tie-break on the id's text) so that offset paging never skips or repeats.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from evaldelta.store.base import (
    ComparativeWhere,
    DatasetWhere,
    ExampleWhere,
    FeedbackWhere,
    Page,
    Row,
    RunWhere,
    SessionWhere,
)
from evaldelta.store.cursors import decode_cursor, encode_cursor
from evaldelta.store.dialect import Dialect
from evaldelta.store.splits import as_listed, stored_splits

Rows = Callable[[str, Sequence[Any]], list[Row]]

# The stored columns of ``examples``, on both stores; ``example_history`` repeats them
# (with ``is_deleted``).
EXAMPLE_COLUMNS = (
    "tenant_id",
    "id",
    "dataset_id",
    "inputs",
    "outputs",
    "metadata",
    "split",
    "source_run_id",
    "created_at",
    "modified_at",
    "attachments",  # name -> {mime_type, size, digest} (store/attachments.py)
)
HISTORY_COLUMNS = ", ".join(EXAMPLE_COLUMNS)

# The run fields every feedback row carries a copy of, as (feedback column, runs column):
# the delta reads feedback alone.  Internal: never part of a listed row.
RUN_COPIES = (
    ("run_session_id", "session_id"),
    ("run_example_id", "reference_example_id"),
    ("run_is_root", "is_root"),
)
RUN_COPY_COLUMNS = tuple(name for name, _ in RUN_COPIES)


class Query:
    """An SQL statement built clause by clause, with its parameters."""

    def __init__(self, sql: str, params: Sequence[Any] = ()) -> None:
        self.sql = [sql]
        self.params = list(params)

    def add(self, sql: str, *params: Any) -> None:
        self.sql.append(sql)
        self.params += params

    def text(self) -> str:
        return " ".join(self.sql)


@dataclass(frozen=True)
class Listing:
    """The list queries of one store: how it runs SQL, and its dialect."""

    rows: Rows
    dialect: Dialect

    def _in_ids(self, q: Query, column: str, ids: Sequence[Any] | None) -> None:
        if ids:
            q.add(f"AND {self.dialect.in_ids(column)}", self.dialect.uuid_params(ids))

    def _in_texts(self, q: Query, column: str, values: Sequence[str] | None) -> None:
        if values:
            q.add(f"AND {self.dialect.in_texts(column)}", list(values))

    def _page(self, q: Query, order: str, id_column: str, page: Page) -> list[Row]:
        q.add(f"ORDER BY {order}, {self.dialect.id_order(id_column)} LIMIT ? OFFSET ?")
        q.params += [page.limit, page.offset]
        return self.rows(q.text(), q.params)

    # --- datasets -------------------------------------------------------------------

    def datasets(
        self, select: str, params: list[Any], where: DatasetWhere, page: Page
    ) -> list[Row]:
        """Datasets, newest first.  ``select`` is the store's dataset query (``datasets``
        aliased ``d``, with their counts) up to and including ``WHERE d.tenant_id = ?``."""
        q = Query(select, params)
        self._in_ids(q, "d.id", where.ids)
        if where.name is not None:
            q.add("AND d.name = ?", where.name)
        if where.name_contains:
            q.add(f"AND {self.dialect.contains_ci('d.name')}", where.name_contains)
        self._in_texts(q, "d.data_type", where.data_type)
        return self._page(q, "d.created_at DESC", "d.id", page)

    # --- examples -------------------------------------------------------------------

    def examples(self, tenant_id: UUID, where: ExampleWhere, page: Page) -> list[Row]:
        """Examples in creation order (then id), the order the delta endpoint pages in too."""
        q = self._example_source(tenant_id, where)
        if where.dataset_id:
            q.add("AND dataset_id = ?", where.dataset_id)
        self._in_ids(q, "id", where.ids)
        if where.splits:
            q.add(f"AND {self.dialect.splits_any('split')}", list(where.splits))
        for key, value in (where.metadata or {}).items():
            sql, params = self.dialect.json_member_equals("metadata", key, value)
            q.add(f"AND {sql}", *params)
        if where.filter_sql is not None:
            q.add(f"AND ({where.filter_sql[0]})", *where.filter_sql[1])
        rows = self._page(q, "created_at", "id", page)
        for row in rows:
            row.pop("tenant_id", None)
            row["name"] = f"#{str(row['id'])[:4]}"
            row["inputs"] = row.get("inputs") or {}
            as_listed(row)
        return rows

    def _example_source(self, tenant_id: UUID, where: ExampleWhere) -> Query:
        """``SELECT`` of the tenant's examples, up to a ``WHERE`` clause: today's, or with
        ``as_of`` each example's latest state at or before then (if not a deletion)."""
        if where.as_of is None:
            return Query("SELECT * FROM examples WHERE tenant_id = ?", [tenant_id])
        inner = Query(
            f"""SELECT {HISTORY_COLUMNS}, is_deleted, row_number() OVER (
                    PARTITION BY id ORDER BY modified_at DESC, is_deleted DESC) AS rn
                FROM example_history WHERE tenant_id = ? AND modified_at <= ?""",
            [tenant_id, where.as_of],
        )
        if where.dataset_id:
            # Every example that was ever in the dataset: one moved out since is in it then.
            inner.add(
                "AND id IN (SELECT id FROM example_history WHERE tenant_id = ? AND dataset_id = ?)",
                tenant_id,
                where.dataset_id,
            )
        self._in_ids(inner, "id", where.ids)
        return Query(
            f"""SELECT {HISTORY_COLUMNS} FROM ({inner.text()}) AS h
                WHERE rn = 1 AND NOT is_deleted AND tenant_id = ?""",
            [*inner.params, tenant_id],
        )

    def splits(self, tenant_id: UUID, dataset_id: UUID, as_of: datetime | None) -> list[str]:
        """The split names of a dataset's examples (as of a time), sorted."""
        q = self._example_source(tenant_id, ExampleWhere(dataset_id=dataset_id, as_of=as_of))
        q.add("AND dataset_id = ?", dataset_id)
        rows = self.rows(f"SELECT DISTINCT split FROM ({q.text()}) AS e", q.params)
        return sorted({name for r in rows for name in stored_splits(r)})

    def example_stamps(
        self, tenant_id: UUID, dataset_id: UUID, as_of: datetime | None
    ) -> dict[UUID, datetime]:
        """Example id -> time of its last change, of a dataset's examples (as of a time)."""
        q = self._example_source(tenant_id, ExampleWhere(dataset_id=dataset_id, as_of=as_of))
        q.add("AND dataset_id = ?", dataset_id)
        rows = self.rows(f"SELECT id, modified_at FROM ({q.text()}) AS e", q.params)
        return {UUID(str(r["id"])): r["modified_at"] for r in rows}

    # --- sessions -------------------------------------------------------------------

    def sessions(
        self, tenant_id: UUID, where: SessionWhere, page: Page, *, stats: bool
    ) -> list[Row]:
        """Sessions, newest first; with ``stats``, run and feedback statistics attached."""
        q = Query("SELECT * FROM sessions WHERE tenant_id = ?", [tenant_id])
        self._in_ids(q, "id", where.ids)
        if where.name is not None:
            q.add("AND name = ?", where.name)
        if where.name_contains:
            q.add(f"AND {self.dialect.contains_ci('name')}", where.name_contains)
        self._in_ids(q, "reference_dataset_id", where.reference_dataset)
        if where.reference_free is not None:
            q.add("AND reference_dataset_id IS " + ("NULL" if where.reference_free else "NOT NULL"))
        column = "name" if where.sort_by == "name" else "start_time"
        rows = self._page(q, f"{column} {'DESC' if where.sort_desc else 'ASC'}", "id", page)
        for row in rows:
            row["tenant_id"] = tenant_id
        if stats and rows:
            self._attach_session_stats(tenant_id, rows)
        return rows

    def _attach_session_stats(self, tenant_id: UUID, rows: list[Row]) -> None:
        d = self.dialect
        ids = d.uuid_params(r["id"] for r in rows)
        latency = d.epoch_seconds_between("start_time", "end_time")
        run_stats = {
            str(r["session_id"]): r
            for r in self.rows(
                f"""SELECT session_id,
                    {d.count_if("is_root")} AS run_count,
                    {d.quantile_if(0.5, latency, "is_root")} AS latency_p50,
                    {d.quantile_if(0.99, latency, "is_root")} AS latency_p99,
                    coalesce(sum(total_tokens), 0) AS total_tokens,
                    coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
                    coalesce(sum(completion_tokens), 0) AS completion_tokens,
                    {d.avg_if("CASE WHEN error IS NOT NULL THEN 1.0 ELSE 0.0 END", "is_root")}
                        AS error_rate,
                    max(start_time) AS last_run_start_time
                   FROM runs WHERE tenant_id = ? AND {d.in_ids("session_id")}
                   GROUP BY session_id""",
                [tenant_id, ids],
            )
        }
        # The experiment's own evaluations: a pairwise experiment's preferences are its
        # comparative experiment's statistics (as in the deltas, the two never mix).
        run_level = self.feedback_stats(
            f"""FROM feedback AS f WHERE f.tenant_id = ? AND f.run_is_root
                AND f.comparative_experiment_id IS NULL
                AND {d.in_ids("f.run_session_id")}""",
            "f.run_session_id",
            [tenant_id, ids],
        )
        session_level = self.feedback_stats(
            f"""FROM feedback AS f WHERE f.tenant_id = ? AND f.run_id IS NULL
                AND {d.in_ids("f.session_id")}""",
            "f.session_id",
            [tenant_id, ids],
        )
        for row in rows:
            sid = str(row["id"])
            found = run_stats.get(sid, {"run_count": 0})
            for name, value in found.items():
                if name != "session_id":
                    row[name] = value
            row["feedback_stats"] = run_level.get(sid, {})
            row["session_feedback_stats"] = session_level.get(sid, {})

    def feedback_stats(
        self, from_where: str, group: str, params: list[Any]
    ) -> dict[str, dict[str, Row]]:
        """Per group and key: ``n`` (feedback that is not an error), ``avg`` and ``stdev``
        of the scores (population), ``errors`` (evaluator errors) and ``values`` (counts of
        categorical values)."""
        d = self.dialect
        out: dict[str, dict[str, Row]] = {}
        for r in self.rows(
            f"""SELECT {group} AS grp, f.key AS key,
                    {d.count_if("NOT coalesce(f.error, false)")} AS n,
                    avg(f.score) AS avg, {d.stddev_pop("f.score")} AS stdev,
                    {d.count_if("coalesce(f.error, false)")} AS errors
                {from_where} GROUP BY grp, key""",
            params,
        ):
            out.setdefault(str(r["grp"]), {})[r["key"]] = {
                "n": r["n"],
                "avg": r["avg"],
                "stdev": r["stdev"],
                "errors": r["errors"],
                "values": {},
            }
        for r in self.rows(
            f"""SELECT {group} AS grp, f.key AS key, {d.json_text("f.value")} AS v, count(*) AS c
                {from_where} AND {d.json_is_string("f.value")} GROUP BY grp, key, v""",
            params,
        ):
            entry = out.setdefault(str(r["grp"]), {}).setdefault(
                r["key"], {"n": 0, "avg": None, "stdev": None, "errors": 0, "values": {}}
            )
            entry["values"][r["v"]] = r["c"]
        return out

    # --- runs -----------------------------------------------------------------------

    def runs(
        self,
        tenant_id: UUID,
        where: RunWhere,
        filter_sql: tuple[str, list[Any]] | None,
        cursor: str | None,
        limit: int,
        order: str,
    ) -> tuple[list[Row], str | None]:
        """One page of runs by start time (then id); the cursor is the last row's position."""
        d = self.dialect
        q = Query("SELECT r.* FROM runs AS r WHERE r.tenant_id = ?", [tenant_id])
        self._in_ids(q, "r.id", where.ids)
        self._in_ids(q, "r.session_id", where.session)
        self._in_ids(q, "r.reference_example_id", where.reference_example)
        for column, value in (
            ("trace_id", where.trace),
            ("parent_run_id", where.parent_run),
            ("run_type", where.run_type),
            ("is_root", where.is_root),
        ):
            if value is not None:
                q.add(f"AND r.{column} = ?", value)
        if where.error is not None:
            q.add("AND r.error IS " + ("NOT NULL" if where.error else "NULL"))
        if where.start_time is not None:
            q.add("AND r.start_time >= ?", where.start_time)
        if where.end_time is not None:
            q.add("AND r.end_time <= ?", where.end_time)
        if filter_sql is not None:
            q.add(f"AND ({filter_sql[0]})", *filter_sql[1])
        desc = order == "desc"
        run_order = d.id_order("r.id")
        if cursor:
            stamp, run_id = decode_cursor(cursor)
            op = "<" if desc else ">"
            q.add(
                f"AND (r.start_time {op} ? OR (r.start_time = ? AND {run_order} {op} ?))",
                stamp,
                stamp,
                d.id_order_value(run_id),
            )
        direction = "DESC" if desc else "ASC"
        q.add(f"ORDER BY r.start_time {direction}, {run_order} {direction} LIMIT ?", limit + 1)
        rows = self.rows(q.text(), q.params)
        more = len(rows) > limit
        rows = rows[:limit]
        if rows:
            stats = self.feedback_stats(
                f"FROM feedback AS f WHERE f.tenant_id = ? AND {d.in_ids('f.run_id')}",
                "f.run_id",
                [tenant_id, d.uuid_params(r["id"] for r in rows)],
            )
            for row in rows:
                row.pop("tenant_id", None)
                row.pop("patched_fields", None)
                row.pop("is_root", None)
                row["feedback_stats"] = stats.get(str(row["id"]), {})
                for name in ("total_tokens", "prompt_tokens", "completion_tokens"):
                    row[name] = row[name] or 0
                for name in ("total_cost", "prompt_cost", "completion_cost"):
                    row[name] = None if row[name] is None else str(row[name])
                row["app_path"] = f"/projects/p/{row['session_id']}/r/{row['id']}"
        next_cursor = encode_cursor(rows[-1]["start_time"], rows[-1]["id"]) if more else None
        return rows, next_cursor

    # --- feedback -------------------------------------------------------------------

    def feedback(self, tenant_id: UUID, where: FeedbackWhere, page: Page) -> list[Row]:
        """Feedback in creation order (then id), with the run's root flag."""
        d = self.dialect
        q = Query(
            # The run's root flag and session are copied onto feedback: no join to runs.
            """SELECT f.*, coalesce(f.run_is_root, false) AS is_root
               FROM feedback AS f WHERE f.tenant_id = ?""",
            [tenant_id],
        )
        self._in_ids(q, "f.id", where.ids)
        self._in_ids(q, "f.run_id", where.run)
        if where.comparative_experiment_id:
            self._in_ids(q, "f.comparative_experiment_id", [where.comparative_experiment_id])
        # Where the run is known, its session; otherwise the feedback's own.
        self._in_ids(q, "coalesce(f.run_session_id, f.session_id)", where.session)
        self._in_texts(q, "f.key", where.key)
        self._in_texts(q, d.json_text(d.json_member("f.feedback_source", "type")), where.source)
        if where.has_comment is not None:
            q.add("AND f.comment IS " + ("NOT NULL" if where.has_comment else "NULL"))
        if where.has_score is not None:
            q.add("AND f.score IS " + ("NOT NULL" if where.has_score else "NULL"))
        if where.level == "run":
            q.add("AND f.run_id IS NOT NULL")
        elif where.level == "session":
            q.add("AND f.run_id IS NULL")
        rows = self._page(q, "f.created_at", "f.id", page)
        for row in rows:
            row.pop("tenant_id", None)
            # Feedback on a run is in the run's session, whether or not the client said so
            # (SDKs before 0.4 do not); ClickHouse writes a nil id while the run is unknown.
            copied = row.get("run_session_id")
            if row["session_id"] is None and copied is not None and UUID(str(copied)).int:
                row["session_id"] = copied
            for name in RUN_COPY_COLUMNS:
                row.pop(name, None)
            if row.pop("score_is_bool") and row["score"] is not None:
                row["score"] = bool(row["score"])
        return rows

    # --- feedback configs -----------------------------------------------------------

    def feedback_configs(self, tenant_id: UUID, keys: list[str] | None, page: Page) -> list[Row]:
        """Feedback configs, most recently changed first."""
        q = Query("SELECT * FROM feedback_configs WHERE tenant_id = ?", [tenant_id])
        self._in_texts(q, "feedback_key", keys)
        q.add("ORDER BY modified_at DESC, feedback_key LIMIT ? OFFSET ?", page.limit, page.offset)
        return self.rows(q.text(), q.params)

    def lower_is_better(self, tenant_id: UUID, keys: Sequence[str]) -> set[str]:
        """Those of ``keys`` configured as lower-is-better."""
        rows = self.rows(
            f"""SELECT feedback_key FROM feedback_configs WHERE tenant_id = ?
                AND is_lower_score_better AND {self.dialect.in_texts("feedback_key")}""",
            [tenant_id, list(keys)],
        )
        return {r["feedback_key"] for r in rows}

    # --- comparative experiments ----------------------------------------------------

    def comparative_experiments(
        self, tenant_id: UUID, where: ComparativeWhere, page: Page, *, details: bool = True
    ) -> list[Row]:
        """Comparative experiments; with ``details``, their experiments' names (those not
        deleted) and the statistics of the feedback that names them."""
        d = self.dialect
        q = Query("SELECT * FROM comparative_experiments WHERE tenant_id = ?", [tenant_id])
        if where.dataset_id is not None:
            q.add("AND reference_dataset_id = ?", where.dataset_id)
        self._in_ids(q, "id", where.ids)
        if where.name is not None:
            q.add("AND name = ?", where.name)
        if where.name_contains:
            q.add(f"AND {d.contains_ci('name')}", where.name_contains)
        column = "name" if where.sort_by == "name" else "created_at"
        rows = self._page(q, f"{column} {'DESC' if where.sort_desc else 'ASC'}", "id", page)
        if not rows or not details:
            return rows
        session_ids = {str(s) for r in rows for s in r["experiment_ids"]}
        names = {
            str(s["id"]): s["name"]
            for s in self.rows(
                f"SELECT id, name FROM sessions WHERE tenant_id = ? AND {d.in_ids('id')}",
                [tenant_id, d.uuid_params(session_ids)],
            )
        }
        stats = self.feedback_stats(
            f"""FROM feedback AS f WHERE f.tenant_id = ?
                AND {d.in_ids("f.comparative_experiment_id")}""",
            "f.comparative_experiment_id",
            [tenant_id, d.uuid_params(r["id"] for r in rows)],
        )
        for row in rows:
            row["experiments_info"] = [
                {"id": s, "name": names[str(s)]} for s in row["experiment_ids"] if str(s) in names
            ]
            row["feedback_stats"] = stats.get(str(row["id"]), {})
        return rows
