"""The ClickHouse dialect of the filter compiler (see :class:`evaldelta.store.dialect.Dialect`).

JSON documents are stored as ``String`` columns and read with the ``JSONExtract*``
functions; ``tags`` is a JSON array (NULL when a run has none, as in DuckDB).  The
compiler's correlated ``EXISTS`` subqueries need ClickHouse 25.8 or newer (chDB 3.6+).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

import orjson

from evaldelta.store.dialect import Dialect


class ClickHouseDialect:
    """ClickHouse: ``JSONExtract*`` over ``String`` columns, ``arrayExists`` over tags."""

    def json_member(self, doc: str, key: str) -> str:
        return f"JSONExtractRaw({doc}, '{key}')"

    def object_entries(self, doc: str, alias: str) -> str:
        # Entries of anything but an object are none: JSONExtractKeysAndValuesRaw gives [].
        return (
            f"(SELECT kv.1 AS key, kv.2 AS value FROM"
            f" (SELECT arrayJoin(JSONExtractKeysAndValuesRaw(ifNull({doc}, ''))) AS kv)) AS {alias}"
        )

    def json_text(self, value: str) -> str:
        return (
            f"multiIf(JSONType({value}) = 'String', JSONExtractString({value}),"
            f" JSONType({value}) = 'Null', NULL, {value})"
        )

    def json_number(self, value: str) -> str:
        return (
            f"if(JSONType({value}) IN ('Int64', 'UInt64', 'Double'),"
            f" toNullable(JSONExtractFloat({value})), NULL)"
        )

    def json_bool(self, value: str) -> str:
        return f"if(JSONType({value}) = 'Bool', toNullable(JSONExtractBool({value}) = 1), NULL)"

    def json_is_null(self, value: str) -> str:
        return f"(JSONType({value}) = 'Null')"

    def document_text(self, doc: str) -> str:
        return doc

    def list_has(self, items: str) -> str:
        return f"has(JSONExtract(coalesce({items}, '[]'), 'Array(String)'), ?)"

    def list_any(self, items: str, alias: str, cond: Callable[[str], str]) -> str:
        return (
            f"arrayExists({alias} -> {cond(alias)},"
            f" JSONExtract(coalesce({items}, '[]'), 'Array(String)'))"
        )

    def like(self, text: str) -> str:
        # ClickHouse's LIKE takes backslash escapes, as the compiler writes them.
        return f"({text} LIKE ?)"

    def contains_ci(self, text: str) -> str:
        return f"(positionUTF8(lowerUTF8({text}), lowerUTF8(?)) > 0)"

    def seconds_between(self, start: str, end: str) -> str:
        return f"(dateDiff('microsecond', {start}, {end}) / 1000000)"

    def in_ids(self, column: str) -> str:
        return f"{column} IN ?"

    def in_texts(self, column: str) -> str:
        return f"{column} IN ?"

    def uuid_params(self, values: Iterable[Any]) -> list[Any]:
        return [v if isinstance(v, UUID) else UUID(str(v)) for v in values]

    def id_order(self, column: str) -> str:
        # ClickHouse compares UUIDs by their two 64-bit halves, DuckDB and Python by their
        # text, and the delta endpoint pages examples in the text order.
        return f"toString({column})"

    def id_order_value(self, value: Any) -> Any:
        return str(value)

    def splits_any(self, column: str) -> str:
        return (
            f"hasAny(if({column} IS NULL, ['base'],"
            f" JSONExtract(assumeNotNull({column}), 'Array(String)')), ?)"
        )

    def json_member_equals(self, doc: str, key: str, value: Any) -> tuple[str, list[Any]]:
        return f"JSONExtractRaw({doc}, ?) = ?", [key, orjson.dumps(value).decode()]

    def json_member_exists(self, doc: str, key: str) -> tuple[str, list[Any]]:
        return f"JSONHas(ifNull({doc}, ''), ?)", [key]

    def json_member_contains(self, doc: str, key: str, value: Any) -> tuple[str, list[Any]]:
        return (
            f"has(JSONExtractArrayRaw(ifNull({doc}, ''), ?), ?)",
            [key, orjson.dumps(value).decode()],
        )

    def json_is_string(self, value: str) -> str:
        return f"JSONType({value}) = 'String'"

    def count_if(self, cond: str) -> str:
        return f"countIf({cond})"

    def avg_if(self, expr: str, cond: str) -> str:
        # Nullable, so that no row gives NULL (as in SQL) rather than NaN.
        return f"avgIf(toNullable({expr}), {cond})"

    def quantile_if(self, q: float, expr: str, cond: str) -> str:
        return f"quantileExactInclusiveIf({q})({expr}, {cond})"

    def stddev_pop(self, expr: str) -> str:
        return f"stddevPop({expr})"

    def epoch_seconds_between(self, start: str, end: str) -> str:
        return self.seconds_between(start, end)


CLICKHOUSE: Dialect = ClickHouseDialect()
