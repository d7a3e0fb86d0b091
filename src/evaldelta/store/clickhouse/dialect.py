"""The ClickHouse dialect of the filter compiler (see :class:`evaldelta.store.dialect.Dialect`).

JSON documents are stored as ``String`` columns and read with the ``JSONExtract*``
functions; ``tags`` is a JSON array (NULL when a run has none, as in DuckDB).  The
compiler's correlated ``EXISTS`` subqueries need ClickHouse 25.8 or newer (chDB 3.6+).
"""

from __future__ import annotations

from collections.abc import Callable

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


CLICKHOUSE: Dialect = ClickHouseDialect()
