"""The DuckDB dialect (see :class:`evaldelta.store.dialect.Dialect`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import orjson

from evaldelta.store.dialect import Dialect


class DuckDBDialect:
    """DuckDB: JSON columns, ``json_each``, ``VARCHAR[]`` tags."""

    def json_member(self, doc: str, key: str) -> str:
        return f"({doc} -> '$.{key}')"

    def object_entries(self, doc: str, alias: str) -> str:
        return f"json_each(CASE WHEN json_type({doc}) = 'OBJECT' THEN {doc} END) AS {alias}"

    def json_text(self, value: str) -> str:
        return f"({value} ->> '$')"

    def json_number(self, value: str) -> str:
        return (
            f"(CASE WHEN json_type({value}) IN ('BIGINT', 'UBIGINT', 'DOUBLE')"
            f" THEN TRY_CAST({value} ->> '$' AS DOUBLE) END)"
        )

    def json_bool(self, value: str) -> str:
        return f"(CASE WHEN json_type({value}) = 'BOOLEAN' THEN ({value} ->> '$') = 'true' END)"

    def json_is_null(self, value: str) -> str:
        return f"(json_type({value}) = 'NULL')"

    def document_text(self, doc: str) -> str:
        return f"CAST({doc} AS VARCHAR)"

    def list_has(self, items: str) -> str:
        return f"list_contains({items}, ?)"

    def list_any(self, items: str, alias: str, cond: Callable[[str], str]) -> str:
        where = cond(f"{alias}.item")
        return f"EXISTS (SELECT 1 FROM unnest({items}) AS {alias}(item) WHERE {where})"

    def like(self, text: str) -> str:
        return f"({text} LIKE ? ESCAPE '\\')"

    def contains_ci(self, text: str) -> str:
        return f"contains(lower({text}), lower(?))"

    def seconds_between(self, start: str, end: str) -> str:
        # Whole microseconds, then divide: epoch() differences lose precision.
        return f"(date_diff('microsecond', {start}, {end}) / 1000000)"

    def in_ids(self, column: str) -> str:
        return f"{column} IN (SELECT unnest(?::UUID[]))"

    def in_texts(self, column: str) -> str:
        return f"{column} IN (SELECT unnest(?::VARCHAR[]))"

    def uuid_params(self, values: Iterable[Any]) -> list[Any]:
        return [str(v) for v in values]

    def id_order(self, column: str) -> str:
        return column  # DuckDB orders UUIDs as their text

    def id_order_value(self, value: Any) -> Any:
        return value

    def splits_any(self, column: str) -> str:
        return f"list_has_any(coalesce(CAST({column} AS VARCHAR[]), ['base']), ?::VARCHAR[])"

    def json_member_equals(self, doc: str, key: str, value: Any) -> tuple[str, list[Any]]:
        return f"json_extract({doc}, ?) = ?::JSON", [_path(key), orjson.dumps(value).decode()]

    def json_member_exists(self, doc: str, key: str) -> tuple[str, list[Any]]:
        return f"coalesce(json_exists({doc}, ?), false)", [_path(key)]

    def json_member_contains(self, doc: str, key: str, value: Any) -> tuple[str, list[Any]]:
        member = f"json_extract({doc}, ?)"
        array = f"CAST(CASE WHEN json_type({member}) = 'ARRAY' THEN {member} END AS JSON[])"
        path = _path(key)
        return (
            f"coalesce(list_contains({array}, ?::JSON), false)",
            [path, path, orjson.dumps(value).decode()],
        )

    def json_is_string(self, value: str) -> str:
        return f"json_type({value}) = 'VARCHAR'"

    def count_if(self, cond: str) -> str:
        return f"count(*) FILTER (WHERE {cond})"

    def avg_if(self, expr: str, cond: str) -> str:
        return f"avg({expr}) FILTER (WHERE {cond})"

    def quantile_if(self, q: float, expr: str, cond: str) -> str:
        return f"quantile_cont({expr}, {q}) FILTER (WHERE {cond})"

    def stddev_pop(self, expr: str) -> str:
        return f"stddev_pop({expr})"

    def epoch_seconds_between(self, start: str, end: str) -> str:
        return f"epoch({end}) - epoch({start})"


DUCKDB: Dialect = DuckDBDialect()


def _path(key: str) -> str:
    """The JSON path of member ``key`` of the document."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'
