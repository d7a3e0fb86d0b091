"""The DuckDB dialect (see :class:`evaldelta.store.dialect.Dialect`)."""

from __future__ import annotations

from collections.abc import Callable

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


DUCKDB: Dialect = DuckDBDialect()
