"""Reads on the DuckDB store: examples, sessions with their statistics, runs, feedback.

Lists are ordered stably (a tie-break on id) so that offset paging never skips or repeats.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import duckdb

from evaldelta.store.base import Page, Row
from evaldelta.store.cursors import decode_cursor, encode_cursor
from evaldelta.store.sqlrows import fetch_rows


def _uuids(values: Any) -> list[str]:
    return [str(v) for v in values]


# --- examples ---------------------------------------------------------------------------


def list_examples(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, where: Row, page: Page
) -> list[Row]:
    """Examples in creation order (then id), the order the delta endpoint pages in too."""
    sql: list[str] = ["SELECT * FROM examples WHERE tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if where.get("dataset_id"):
        sql.append("AND dataset_id = ?")
        params.append(where["dataset_id"])
    if where.get("ids"):
        sql.append("AND id IN (SELECT unnest(?::UUID[]))")
        params.append(_uuids(where["ids"]))
    if where.get("splits"):
        sql.append("AND list_has_any(coalesce(CAST(split AS VARCHAR[]), ['base']), ?::VARCHAR[])")
        params.append(list(where["splits"]))
    for key, value in (where.get("metadata") or {}).items():
        sql.append("AND json_extract(metadata, ?) = ?::JSON")
        params += [f"$.{_json_path_key(key)}", _json_text(value)]
    sql.append("ORDER BY created_at, id LIMIT ? OFFSET ?")
    params += [page.limit, page.offset]
    rows = fetch_rows(cur, " ".join(sql), params)
    for row in rows:
        row.pop("tenant_id", None)
        row["name"] = f"#{str(row['id'])[:4]}"
        row["inputs"] = row.get("inputs") or {}
    return rows


def _json_path_key(key: str) -> str:
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _json_text(value: Any) -> str:
    import orjson

    return orjson.dumps(value).decode()


# --- sessions ---------------------------------------------------------------------------


def list_sessions(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, where: Row, page: Page, *, stats: bool
) -> list[Row]:
    """Sessions, newest first; with ``stats``, run and feedback statistics attached."""
    sql: list[str] = ["SELECT * FROM sessions WHERE tenant_id = ?"]
    params: list[Any] = [tenant_id]
    if where.get("ids"):
        sql.append("AND id IN (SELECT unnest(?::UUID[]))")
        params.append(_uuids(where["ids"]))
    if where.get("name") is not None:
        sql.append("AND name = ?")
        params.append(where["name"])
    if where.get("name_contains"):
        sql.append("AND contains(lower(name), lower(?))")
        params.append(where["name_contains"])
    if where.get("reference_dataset"):
        sql.append("AND reference_dataset_id IN (SELECT unnest(?::UUID[]))")
        params.append(_uuids(where["reference_dataset"]))
    if where.get("reference_free") is not None:
        sql.append(
            "AND reference_dataset_id IS " + ("NULL" if where["reference_free"] else "NOT NULL")
        )
    order = "DESC" if where.get("sort_desc", True) else "ASC"
    column = "name" if where.get("sort_by") == "name" else "start_time"
    sql.append(f"ORDER BY {column} {order}, id LIMIT ? OFFSET ?")
    params += [page.limit, page.offset]
    rows = fetch_rows(cur, " ".join(sql), params)
    for row in rows:
        row.pop("tenant_id", None)
        row["tenant_id"] = tenant_id
    if stats and rows:
        _attach_session_stats(cur, tenant_id, rows)
    return rows


def _attach_session_stats(cur: duckdb.DuckDBPyConnection, tenant_id: UUID, rows: list[Row]) -> None:
    ids = _uuids(r["id"] for r in rows)
    run_stats = {
        str(r["session_id"]): r
        for r in fetch_rows(
            cur,
            """SELECT session_id,
                count(*) FILTER (WHERE is_root) AS run_count,
                quantile_cont(epoch(end_time) - epoch(start_time), 0.5) FILTER (WHERE is_root)
                    AS latency_p50,
                quantile_cont(epoch(end_time) - epoch(start_time), 0.99) FILTER (WHERE is_root)
                    AS latency_p99,
                coalesce(sum(total_tokens), 0) AS total_tokens,
                coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
                coalesce(sum(completion_tokens), 0) AS completion_tokens,
                avg(CASE WHEN error IS NOT NULL THEN 1.0 ELSE 0.0 END) FILTER (WHERE is_root)
                    AS error_rate,
                max(start_time) AS last_run_start_time
               FROM runs WHERE tenant_id = ? AND session_id IN (SELECT unnest(?::UUID[]))
               GROUP BY session_id""",
            [tenant_id, ids],
        )
    }
    run_level = feedback_stats(
        cur,
        """FROM feedback f WHERE f.tenant_id = ? AND f.run_is_root
           AND f.run_session_id IN (SELECT unnest(?::UUID[]))""",
        "f.run_session_id",
        [tenant_id, ids],
    )
    session_level = feedback_stats(
        cur,
        """FROM feedback f WHERE f.tenant_id = ? AND f.run_id IS NULL
           AND f.session_id IN (SELECT unnest(?::UUID[]))""",
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
    cur: duckdb.DuckDBPyConnection, from_where: str, group: str, params: list[Any]
) -> dict[str, dict[str, Row]]:
    """Per group and key: ``n`` (feedback that is not an error), ``avg`` and ``stdev`` of the
    scores (population), ``errors`` (evaluator errors) and ``values`` (counts of categorical
    values)."""
    out: dict[str, dict[str, Row]] = {}
    for r in fetch_rows(
        cur,
        f"""SELECT {group} AS grp, f.key AS key,
                count(*) FILTER (WHERE NOT coalesce(f.error, false)) AS n,
                avg(f.score) AS avg, stddev_pop(f.score) AS stdev,
                count(*) FILTER (WHERE coalesce(f.error, false)) AS errors
            {from_where} GROUP BY 1, 2""",
        params,
    ):
        out.setdefault(str(r["grp"]), {})[r["key"]] = {
            "n": r["n"],
            "avg": r["avg"],
            "stdev": r["stdev"],
            "errors": r["errors"],
            "values": {},
        }
    for r in fetch_rows(
        cur,
        f"""SELECT {group} AS grp, f.key AS key, f.value ->> '$' AS v, count(*) AS c
            {from_where} AND json_type(f.value) = 'VARCHAR' GROUP BY 1, 2, 3""",
        params,
    ):
        entry = out.setdefault(str(r["grp"]), {}).setdefault(
            r["key"], {"n": 0, "avg": None, "stdev": None, "errors": 0, "values": {}}
        )
        entry["values"][r["v"]] = r["c"]
    return out


# --- runs -------------------------------------------------------------------------------


def query_runs(
    cur: duckdb.DuckDBPyConnection,
    tenant_id: UUID,
    where: Row,
    filter_sql: tuple[str, list[Any]] | None,
    cursor: str | None,
    limit: int,
    order: str,
) -> tuple[list[Row], str | None]:
    """One page of runs by start time (then id); the cursor is the last row's position."""
    sql: list[str] = ["SELECT r.* FROM runs r WHERE r.tenant_id = ?"]
    params: list[Any] = [tenant_id]
    for key, column in (
        ("ids", "id"),
        ("session", "session_id"),
        ("reference_example", "reference_example_id"),
    ):
        if where.get(key):
            sql.append(f"AND r.{column} IN (SELECT unnest(?::UUID[]))")
            params.append(_uuids(where[key]))
    for key, column in (
        ("trace", "trace_id"),
        ("parent_run", "parent_run_id"),
        ("run_type", "run_type"),
    ):
        if where.get(key) is not None:
            sql.append(f"AND r.{column} = ?")
            params.append(where[key])
    if where.get("is_root") is not None:
        sql.append("AND r.is_root = ?")
        params.append(where["is_root"])
    if where.get("error") is not None:
        sql.append("AND r.error IS " + ("NOT NULL" if where["error"] else "NULL"))
    if where.get("start_time") is not None:
        sql.append("AND r.start_time >= ?")
        params.append(where["start_time"])
    if where.get("end_time") is not None:
        sql.append("AND r.end_time <= ?")
        params.append(where["end_time"])
    if filter_sql is not None:
        sql.append(f"AND ({filter_sql[0]})")
        params += filter_sql[1]
    desc = order == "desc"
    if cursor:
        stamp, run_id = decode_cursor(cursor)
        op = "<" if desc else ">"
        sql.append(f"AND (r.start_time {op} ? OR (r.start_time = ? AND r.id {op} ?))")
        params += [stamp, stamp, run_id]
    direction = "DESC" if desc else "ASC"
    sql.append(f"ORDER BY r.start_time {direction}, r.id {direction} LIMIT ?")
    params.append(limit + 1)
    rows = fetch_rows(cur, " ".join(sql), params)
    more = len(rows) > limit
    rows = rows[:limit]
    if rows:
        stats = feedback_stats(
            cur,
            "FROM feedback f WHERE f.tenant_id = ? AND f.run_id IN (SELECT unnest(?::UUID[]))",
            "f.run_id",
            [tenant_id, _uuids(r["id"] for r in rows)],
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


# --- feedback ---------------------------------------------------------------------------


def list_feedback(
    cur: duckdb.DuckDBPyConnection, tenant_id: UUID, where: Row, page: Page
) -> list[Row]:
    """Feedback in creation order (then id), with the run's root flag."""
    sql = [
        # The run's root flag and session are copied onto feedback: no join to runs.
        """SELECT f.* EXCLUDE (run_session_id, run_example_id, run_is_root),
                coalesce(f.run_is_root, false) AS is_root
              FROM feedback f WHERE f.tenant_id = ?"""
    ]
    params: list[Any] = [tenant_id]
    for key, column in (
        ("ids", "f.id"),
        ("run", "f.run_id"),
        ("comparative_experiment_id", "f.comparative_experiment_id"),
    ):
        if where.get(key):
            values = where[key] if isinstance(where[key], list) else [where[key]]
            sql.append(f"AND {column} IN (SELECT unnest(?::UUID[]))")
            params.append(_uuids(values))
    if where.get("session"):
        sql.append("AND coalesce(f.run_session_id, f.session_id) IN (SELECT unnest(?::UUID[]))")
        params.append(_uuids(where["session"]))
    if where.get("key"):
        sql.append("AND f.key IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(where["key"]))
    if where.get("source"):
        sql.append("AND (f.feedback_source ->> '$.type') IN (SELECT unnest(?::VARCHAR[]))")
        params.append(list(where["source"]))
    if where.get("has_comment") is not None:
        sql.append("AND f.comment IS " + ("NOT NULL" if where["has_comment"] else "NULL"))
    if where.get("has_score") is not None:
        sql.append("AND f.score IS " + ("NOT NULL" if where["has_score"] else "NULL"))
    if where.get("level") == "run":
        sql.append("AND f.run_id IS NOT NULL")
    elif where.get("level") == "session":
        sql.append("AND f.run_id IS NULL")
    sql.append("ORDER BY f.created_at, f.id LIMIT ? OFFSET ?")
    params += [page.limit, page.offset]
    rows = fetch_rows(cur, " ".join(sql), params)
    for row in rows:
        row.pop("tenant_id", None)
        if row.pop("score_is_bool") and row["score"] is not None:
            row["score"] = bool(row["score"])
    return rows
