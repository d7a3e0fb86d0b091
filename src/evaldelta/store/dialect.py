"""The SQL that differs between the store backends: one small protocol, one class per backend.

The filter compiler (``delta/filters``) writes run filters through it, and the shared list
queries (``store/listing.py``) their filters and statistics.  Each backend's dialect lives
beside it: ``store/duckdb/dialect.py`` and ``store/clickhouse/dialect.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol


class Dialect(Protocol):
    """The SQL that differs between engines.  Every method returns an SQL expression;
    the ones documented as taking a parameter contain exactly one ``?``."""

    def json_member(self, doc: str, key: str) -> str:
        """Member ``key`` (a constant, never user input) of JSON object ``doc``."""

    def object_entries(self, doc: str, alias: str) -> str:
        """A FROM item over the entries of JSON object ``doc`` (nothing if it is not an
        object), with text column ``{alias}.key`` and JSON column ``{alias}.value``."""

    def json_text(self, value: str) -> str:
        """A JSON value as text: strings unquoted, others as JSON, JSON null as NULL."""

    def json_number(self, value: str) -> str:
        """A JSON number as a double; NULL for any other JSON type."""

    def json_bool(self, value: str) -> str:
        """A JSON boolean as a boolean; NULL for any other JSON type."""

    def json_is_null(self, value: str) -> str:
        """Whether a JSON value is JSON ``null``."""

    def document_text(self, doc: str) -> str:
        """A whole JSON document as text, for full-text search."""

    def list_has(self, items: str) -> str:
        """Whether the text list ``items`` contains the parameter."""

    def list_any(self, items: str, alias: str, cond: Callable[[str], str]) -> str:
        """Whether some element of ``items`` (named ``alias``) satisfies ``cond(elem)``."""

    def like(self, text: str) -> str:
        """``text`` matches the LIKE pattern parameter (backslash escapes)."""

    def contains_ci(self, text: str) -> str:
        """``text`` contains the parameter, ignoring case."""

    def seconds_between(self, start: str, end: str) -> str:
        """Seconds from timestamp ``start`` to ``end``, as a double."""

    # --- for the list queries (``store/listing.py``) ---------------------------------

    def in_ids(self, column: str) -> str:
        """``column`` is one of the UUIDs in the parameter (a list from ``uuid_params``)."""

    def in_texts(self, column: str) -> str:
        """``column`` is one of the strings in the parameter (a list)."""

    def uuid_params(self, values: Iterable[Any]) -> list[Any]:
        """UUIDs (or their text) as the parameter of ``in_ids``."""

    def id_order(self, column: str) -> str:
        """An id column as a sort key: every store orders ids by their text, as Python does."""

    def id_order_value(self, value: Any) -> Any:
        """A UUID as a parameter compared with ``id_order``."""

    def splits_any(self, column: str) -> str:
        """The example's splits (a JSON list, no list meaning ``["base"]``) share one with
        the text list parameter."""

    def json_member_equals(self, doc: str, key: str, value: Any) -> tuple[str, list[Any]]:
        """Member ``key`` (user input: passed as a parameter) of JSON object ``doc`` equals
        ``value``, compared as JSON; the condition and its parameters."""

    def json_is_string(self, value: str) -> str:
        """Whether a JSON value is a string."""

    def json_member_exists(self, doc: str, key: str) -> tuple[str, list[Any]]:
        """JSON object ``doc`` has member ``key`` (user input, a parameter), even a null
        one; false when ``doc`` is NULL or not an object."""

    def json_member_contains(self, doc: str, key: str, value: Any) -> tuple[str, list[Any]]:
        """Member ``key`` (a parameter) of JSON object ``doc`` is an array holding
        ``value`` (compared as JSON); false otherwise."""

    def count_if(self, cond: str) -> str:
        """How many rows of the group satisfy ``cond``."""

    def avg_if(self, expr: str, cond: str) -> str:
        """The mean of ``expr`` over the rows satisfying ``cond`` (NULL if none do)."""

    def quantile_if(self, q: float, expr: str, cond: str) -> str:
        """The ``q`` quantile (interpolated) of ``expr`` over the rows satisfying ``cond``."""

    def stddev_pop(self, expr: str) -> str:
        """The population standard deviation of ``expr``."""

    def epoch_seconds_between(self, start: str, end: str) -> str:
        """Seconds from ``start`` to ``end`` as the session statistics compute latency."""
