"""Run filters (LangSmith's filter language) checked and compiled to parameterised SQL.

:func:`parse_filter` gives the syntax tree; :func:`compile_filter` checks it against the
attributes below and returns ``(sql, params)``: a boolean expression over ``runs`` (aliased
``run_alias``) with ``?`` placeholders.  Everything not listed here is a :class:`FilterError`.

Meaning, where LangSmith's docs leave room:

* Every comparison is two-valued: a missing value (NULL) never matches ``eq``/``gt``/...,
  and ``neq(a, v)`` is exactly ``not(eq(a, v))``.
* ``metadata_key``/``metadata_value`` range over the entries of ``extra.metadata``;
  ``input_*``/``output_*`` over the top-level entries of ``inputs``/``outputs``;
  ``feedback_key``/``feedback_score``/``feedback_value`` over the run's feedback rows.
  Alone, such a comparison means "some entry matches" (``neq``: "no entry equals").
  Among the direct arguments of one ``and(...)``, the comparisons on one family describe
  ONE entry: ``and(eq(feedback_key, "a"), gt(feedback_score, 4))`` needs a single "a"
  feedback scoring above 4.  In such a group ``neq`` constrains that same entry, and a group
  made only of ``neq`` means "no entry equals" for each of them.
* Entry values compare as text when the literal is a string (strings unquoted, other JSON
  as JSON text), numerically against JSON numbers, booleanly against JSON booleans, and
  ``null`` matches a JSON null.  ``has(metadata, '{"k": v}')`` is the same as
  ``and(eq(metadata_key, "k"), eq(metadata_value, v))`` for every pair.
* ``search`` is a case-insensitive substring match; ``like`` is SQL ``LIKE`` (``%``, ``_``,
  backslash escapes), case-sensitive.  ``latency`` is in seconds.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum, auto

from evaldelta.delta.filters.parser import (
    Arg,
    Attr,
    Call,
    Expr,
    FilterError,
    ListLit,
    Literal,
    Scalar,
    parse_filter,
)
from evaldelta.store.dialect import Dialect
from evaldelta.store.duckdb.dialect import DUCKDB

__all__ = [
    "Expr",
    "FilterError",
    "compile_filter",
    "filter_to_sql",
    "parse_filter",
]

Fragment = tuple[str, list[object]]


class _Type(Enum):
    ID = auto()
    TEXT = auto()
    ERROR = auto()  # text, plus eq(error, true/false) for "has an error"
    NUMBER = auto()
    TIMESTAMP = auto()
    LATENCY = auto()
    BOOL = auto()
    EXEC_ORDER = auto()  # only eq/neq(execution_order, 1), i.e. is_root
    TAGS = auto()
    KEY = auto()
    VALUE = auto()
    SCORE = auto()


_EQ = frozenset({"eq", "neq", "in"})
_ORDER = frozenset({"gt", "gte", "lt", "lte"})
_MATCH = frozenset({"like", "search"})
_OPS: dict[_Type, frozenset[str]] = {
    _Type.ID: _EQ,
    _Type.TEXT: _EQ | _MATCH,
    _Type.ERROR: _EQ | _MATCH,
    _Type.NUMBER: _EQ | _ORDER,
    _Type.TIMESTAMP: _EQ | _ORDER,
    _Type.LATENCY: _EQ | _ORDER,
    _Type.BOOL: _EQ,
    _Type.EXEC_ORDER: frozenset({"eq", "neq"}),
    _Type.TAGS: _EQ | _MATCH | {"has"},
    _Type.KEY: _EQ | _MATCH,
    _Type.VALUE: _EQ | _ORDER | _MATCH,
    _Type.SCORE: _EQ | _ORDER,
}
_SQL_OPS = {"eq": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_COMPARATORS = frozenset(_SQL_OPS) | {"neq", "in", "like", "search", "has", "exists"}
_FUNCTIONS = "and, or, not, eq, neq, gt, gte, lt, lte, has, search, in, like, exists"


@dataclass(frozen=True)
class _AttrSpec:
    name: str
    type: _Type
    column: str  # a ``runs`` column, or the entry column when ``family`` is set
    nullable: bool = False
    family: str | None = None  # "metadata", "inputs", "outputs" or "feedback"


def _specs() -> dict[str, _AttrSpec]:
    t = _Type
    specs = [
        _AttrSpec("id", t.ID, "id"),
        _AttrSpec("trace_id", t.ID, "trace_id"),
        _AttrSpec("session_id", t.ID, "session_id"),
        _AttrSpec("parent_run_id", t.ID, "parent_run_id", nullable=True),
        _AttrSpec("reference_example_id", t.ID, "reference_example_id", nullable=True),
        _AttrSpec("name", t.TEXT, "name"),
        _AttrSpec("run_type", t.TEXT, "run_type"),
        _AttrSpec("status", t.TEXT, "status"),
        # Derived from the metadata at write time (``store/threads.py``).
        _AttrSpec("thread_id", t.TEXT, "thread_id", nullable=True),
        _AttrSpec("error", t.ERROR, "error", nullable=True),
        _AttrSpec("start_time", t.TIMESTAMP, "start_time"),
        _AttrSpec("end_time", t.TIMESTAMP, "end_time", nullable=True),
        _AttrSpec("latency", t.LATENCY, "latency", nullable=True),
        _AttrSpec("total_tokens", t.NUMBER, "total_tokens", nullable=True),
        _AttrSpec("prompt_tokens", t.NUMBER, "prompt_tokens", nullable=True),
        _AttrSpec("completion_tokens", t.NUMBER, "completion_tokens", nullable=True),
        _AttrSpec("is_root", t.BOOL, "is_root"),
        _AttrSpec("execution_order", t.EXEC_ORDER, "is_root"),
        _AttrSpec("tags", t.TAGS, "tags", nullable=True),
        _AttrSpec("feedback_key", t.KEY, "key", family="feedback"),
        _AttrSpec("feedback_score", t.SCORE, "score", family="feedback"),
        _AttrSpec("feedback_value", t.VALUE, "value", family="feedback"),
    ]
    for prefix, family in (("metadata", "metadata"), ("input", "inputs"), ("output", "outputs")):
        specs.append(_AttrSpec(f"{prefix}_key", t.KEY, "key", family=family))
        specs.append(_AttrSpec(f"{prefix}_value", t.VALUE, "value", family=family))
    return {s.name: s for s in specs}


_ATTRS = _specs()
_ATTR_NAMES = ", ".join(sorted([*_ATTRS, "metadata"]))


@dataclass(frozen=True)
class _Leaf:
    """One checked comparison; ``value`` is a tuple for ``in``."""

    op: str
    spec: _AttrSpec
    value: object
    pos: int


def _check_leaf(call: Call) -> _Leaf:
    """Check a comparator call against the attribute table and convert its literal."""
    op = call.name
    if op not in _COMPARATORS:
        raise FilterError(f"unknown function {op!r}; expected one of {_FUNCTIONS}", call.pos)
    if len(call.args) != 2:
        count = "1 or 2 arguments" if op == "search" else "2 arguments"
        raise FilterError(
            f"{op}() takes {count} (an attribute and a value), got {len(call.args)}", call.pos
        )
    attr, arg = call.args
    if not isinstance(attr, Attr):
        raise FilterError(f"expected an attribute name as the first argument of {op}()", attr.pos)
    spec = _ATTRS.get(attr.name)
    if spec is None:
        hint = (
            "use has() or exists()" if attr.name == "metadata" else f"expected one of {_ATTR_NAMES}"
        )
        raise FilterError(f"unknown attribute {attr.name!r} for {op}(); {hint}", attr.pos)
    if op not in _OPS[spec.type]:
        allowed = ", ".join(sorted(_OPS[spec.type]))
        raise FilterError(f"{op}() does not apply to {spec.name}; use one of {allowed}", call.pos)
    if op == "in":
        if not isinstance(arg, ListLit):
            raise FilterError(
                'expected a list such as ["a", "b"] as the second argument of in()', arg.pos
            )
        values = tuple(_convert(spec, "eq", item) for item in arg.items)
        return _Leaf(op, spec, values, call.pos)
    if not isinstance(arg, Literal):
        raise FilterError(f"expected a literal value as the second argument of {op}()", arg.pos)
    if spec.type is _Type.EXEC_ORDER:
        # Execution order is not stored; position 1 is the root, which is.
        if arg.value != 1 or isinstance(arg.value, bool):
            raise FilterError("only execution_order 1 (the root run) can be compared", arg.pos)
        return _Leaf(op, _ATTRS["is_root"], True, call.pos)
    return _Leaf("eq" if op == "has" else op, spec, _convert(spec, op, arg), call.pos)


_DURATION = re.compile(r"\s*(-?\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*", re.ASCII)
_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def _convert(spec: _AttrSpec, op: str, lit: Literal) -> object:
    """The SQL parameter for ``lit`` compared with ``op`` to ``spec``, or FilterError."""
    value, t = lit.value, spec.type
    if value is None:
        if op in _EQ and (spec.nullable or t is _Type.VALUE):
            return None
        raise FilterError(f"null cannot be used with {op}({spec.name}, ...)", lit.pos)
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    if op in _MATCH or t in (_Type.TEXT, _Type.ERROR, _Type.KEY, _Type.TAGS):
        if isinstance(value, bool) and t is _Type.ERROR and op in _EQ:
            return value  # eq(error, true): the run has an error
        if not isinstance(value, str):
            raise FilterError(f"expected a string to compare with {spec.name}", lit.pos)
        if op == "like":
            _check_like_pattern(value, lit.pos)
        return value
    if t is _Type.ID:
        if isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
        raise FilterError(f"expected a UUID string to compare with {spec.name}", lit.pos)
    if t in (_Type.NUMBER, _Type.SCORE) and is_number:
        return value
    if t is _Type.BOOL and isinstance(value, bool):
        return value
    if t is _Type.TIMESTAMP and isinstance(value, str):
        return _timestamp(value, lit.pos)
    if t is _Type.LATENCY:
        return _seconds(value, lit.pos)
    if t is _Type.VALUE and (is_number or (isinstance(value, str | bool) and op in _EQ)):
        return value
    expected = {
        _Type.NUMBER: "a number",
        _Type.SCORE: "a number",
        _Type.BOOL: "true or false",
        _Type.TIMESTAMP: "an ISO-8601 timestamp string",
        _Type.VALUE: "a number",
    }.get(t, "another literal")
    raise FilterError(f"expected {expected} to compare with {op}({spec.name}, ...)", lit.pos)


def _check_like_pattern(pattern: str, pos: int) -> None:
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            if i + 1 == len(pattern):
                raise FilterError("like() pattern must not end with an unescaped backslash", pos)
            i += 1
        i += 1


def _timestamp(text: str, pos: int) -> datetime:
    try:
        stamp = datetime.fromisoformat(text)
        # Naive timestamps are UTC, as everywhere in the API.
        return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).astimezone(UTC)
    except (ValueError, OverflowError):
        raise FilterError(f"expected an ISO-8601 timestamp, got {text[:40]!r}", pos) from None


def _seconds(value: Scalar, pos: int) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    match = _DURATION.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise FilterError(
            'expected seconds or a duration such as "5s", "500ms" or "2m" to compare with latency',
            pos,
        )
    seconds = float(match.group(1)) * _SECONDS[match.group(2) or "s"]
    if not math.isfinite(seconds):
        raise FilterError("duration out of range", pos)
    return seconds


# Enough for any hand-written filter; more makes DuckDB plan for seconds.
MAX_SUBQUERIES = 64
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def compile_filter(
    expr: Expr, *, dialect: Dialect = DUCKDB, run_alias: str = "r"
) -> tuple[str, list[object]]:
    """Compile a parsed filter to ``(sql, params)``: a boolean SQL expression over the
    ``runs`` row aliased ``run_alias``, with one ``?`` per parameter, in order.

    Raises :class:`FilterError` for anything the filter language here does not support.
    """
    if not _IDENT.fullmatch(run_alias):
        raise ValueError(f"run_alias must be an SQL identifier, got {run_alias!r}")
    return _Compiler(dialect, run_alias).node(expr)


def filter_to_sql(
    text: str, *, dialect: Dialect = DUCKDB, run_alias: str = "r"
) -> tuple[str, list[object]]:
    """Parse and compile filter text in one step (see :func:`compile_filter`)."""
    return compile_filter(parse_filter(text), dialect=dialect, run_alias=run_alias)


def _join(sep: str, parts: list[Fragment]) -> Fragment:
    if len(parts) == 1:
        return parts[0]
    params: list[object] = []
    for _, p in parts:
        params += p
    return "(" + sep.join(sql for sql, _ in parts) + ")", params


class _Compiler:
    def __init__(self, dialect: Dialect, alias: str) -> None:
        self.d = dialect
        self.a = alias
        self.subqueries = 0

    def node(self, arg: Arg) -> Fragment:
        if not isinstance(arg, Call):
            raise FilterError('expected a filter such as eq(name, "x")', arg.pos)
        if arg.name in ("and", "or", "not"):
            if arg.name == "not" and len(arg.args) != 1:
                raise FilterError(f"not() takes 1 filter, got {len(arg.args)}", arg.pos)
            if not arg.args:
                raise FilterError(f"{arg.name}() needs at least one filter", arg.pos)
            if arg.name == "and":
                return self._and(arg.args)
            parts = [self.node(a) for a in arg.args]
            if arg.name == "or":
                return _join(" OR ", parts)
            return f"(NOT {parts[0][0]})", parts[0][1]
        special = self._special(arg)
        if special is not None:
            return special
        return self._group([_check_leaf(arg)])

    def _and(self, args: tuple[Arg, ...]) -> Fragment:
        # Family comparisons are gathered into one group per family, compiled at the place
        # of the family's first comparison, so that they match the same entry.
        parts: list[Fragment | str] = []
        groups: dict[str, list[_Leaf]] = {}
        for arg in args:
            is_leaf = isinstance(arg, Call) and arg.name in _COMPARATORS
            special = self._special(arg) if isinstance(arg, Call) else None
            if special is not None or not is_leaf:
                parts.append(special or self.node(arg))
                continue
            assert isinstance(arg, Call)
            leaf = _check_leaf(arg)
            family = leaf.spec.family
            if family is None:
                parts.append(self._group([leaf]))
            elif family in groups:
                groups[family].append(leaf)
            else:
                groups[family] = [leaf]
                parts.append(family)
        return _join(" AND ", [self._group(groups[p]) if isinstance(p, str) else p for p in parts])

    def _special(self, call: Call) -> Fragment | None:
        """The forms that are not ``op(attribute, literal)``, or None for a comparison."""
        args = call.args
        if call.name == "search" and len(args) == 1:
            term = args[0]
            if not (isinstance(term, Literal) and isinstance(term.value, str)):
                raise FilterError("expected a string to search for", term.pos)
            a = self.a
            texts = [
                f"{a}.name",
                self.d.document_text(f"{a}.inputs"),
                self.d.document_text(f"{a}.outputs"),
                f"{a}.error",
            ]
            sql = " OR ".join(f"COALESCE({self.d.contains_ci(t)}, FALSE)" for t in texts)
            return f"({sql})", [term.value] * len(texts)
        is_metadata = len(args) == 2 and isinstance(args[0], Attr) and args[0].name == "metadata"
        if call.name == "exists":
            if not is_metadata:
                raise FilterError(
                    'exists() takes metadata and a key: exists(metadata, "key")', call.pos
                )
            key = args[1]
            if not (isinstance(key, Literal) and isinstance(key.value, str)):
                raise FilterError("expected a metadata key string", key.pos)
            return self._group([_Leaf("eq", _ATTRS["metadata_key"], key.value, call.pos)])
        if call.name == "has" and is_metadata:
            return self._metadata_has(call)
        return None

    def _metadata_has(self, call: Call) -> Fragment:
        pairs = _json_object(call.args[1])
        key, value, pos = _ATTRS["metadata_key"], _ATTRS["metadata_value"], call.pos
        groups = [
            self._group([_Leaf("eq", key, k, pos), _Leaf("eq", value, v, pos)]) for k, v in pairs
        ]
        return _join(" AND ", groups) if groups else ("TRUE", [])

    def _count_subqueries(self, count: int, pos: int) -> None:
        # DuckDB's planning time grows steeply with the number of correlated subqueries.
        self.subqueries += count
        if self.subqueries > MAX_SUBQUERIES:
            raise FilterError(
                f"filter needs more than {MAX_SUBQUERIES} subqueries (matches on "
                "tags patterns, metadata, inputs, outputs or feedback)",
                pos,
            )

    def _group(self, leaves: list[_Leaf]) -> Fragment:
        family = leaves[0].spec.family
        positive = any(leaf.op != "neq" for leaf in leaves)
        if family is not None:
            self._count_subqueries(1 if positive else len(leaves), leaves[0].pos)
        elif leaves[0].spec.type is _Type.TAGS and leaves[0].op in _MATCH:
            self._count_subqueries(1, leaves[0].pos)
        if family is None:
            (leaf,) = leaves
            sql, params = self._compare(leaf.op, leaf.spec, leaf.value, self._column(leaf.spec))
            if leaf.spec.nullable and leaf.op != "neq":
                sql = f"COALESCE({sql}, FALSE)"
            return sql, params
        source, alias, where = self._source(family)

        def exists(conds: list[Fragment]) -> Fragment:
            sql, params = _join(" AND ", [*where, *conds])
            return f"EXISTS (SELECT 1 FROM {source} WHERE {sql})", params

        def cond(leaf: _Leaf, op: str) -> Fragment:
            return self._compare(op, leaf.spec, leaf.value, f"{alias}.{leaf.spec.column}")

        if positive:
            return exists([cond(leaf, leaf.op) for leaf in leaves])
        negated = [exists([cond(leaf, "eq")]) for leaf in leaves]
        return _join(" AND ", [(f"NOT {sql}", p) for sql, p in negated])

    def _source(self, family: str) -> tuple[str, str, list[Fragment]]:
        a = self.a
        if family == "feedback":
            f = f"{a}_fb"
            join = f"{f}.tenant_id = {a}.tenant_id AND {f}.run_id = {a}.id"
            return f"feedback AS {f}", f, [(join, [])]
        doc = {
            "metadata": self.d.json_member(f"{a}.extra", "metadata"),
            "inputs": f"{a}.inputs",
            "outputs": f"{a}.outputs",
        }[family]
        return self.d.object_entries(doc, f"{a}_kv"), f"{a}_kv", []

    def _column(self, spec: _AttrSpec) -> str:
        if spec.type is _Type.LATENCY:
            return self.d.seconds_between(f"{self.a}.start_time", f"{self.a}.end_time")
        return f"{self.a}.{spec.column}"

    def _compare(self, op: str, spec: _AttrSpec, value: object, target: str) -> Fragment:
        """``target op value`` for one checked comparison (NULL where a value is missing)."""
        d = self.d
        if op == "in":
            assert isinstance(value, tuple)
            parts = [self._compare("eq", spec, v, target) for v in value]
            return _join(" OR ", parts) if parts else ("FALSE", [])
        if op == "neq":
            sql, params = self._compare("eq", spec, value, target)
            return f"(NOT COALESCE({sql}, FALSE))", params
        if spec.type is _Type.TAGS:
            if op == "eq":
                return d.list_has(target), [value]
            match = d.like if op == "like" else d.contains_ci
            return d.list_any(target, f"{self.a}_tag", match), [value]
        if spec.type is _Type.VALUE:
            if value is None:
                return d.json_is_null(target), []
            if isinstance(value, bool):
                return f"({d.json_bool(target)} = ?)", [value]
            if isinstance(value, int | float):
                return f"({d.json_number(target)} {_SQL_OPS[op]} ?)", [value]
            target = d.json_text(target)
        if value is None:
            return f"({target} IS NULL)", []
        if isinstance(value, bool) and spec.type is _Type.ERROR:
            return f"({target} IS {'NOT ' if value else ''}NULL)", []
        if op == "like":
            return d.like(target), [value]
        if op == "search":
            return d.contains_ci(target), [value]
        return f"({target} {_SQL_OPS[op]} ?)", [value]


def _json_object(arg: Arg) -> list[tuple[str, Scalar]]:
    """The pairs of the JSON object text in ``has(metadata, '...')``."""
    if not (isinstance(arg, Literal) and isinstance(arg.value, str)):
        raise FilterError("""expected a JSON object string such as '{"key": "value"}'""", arg.pos)

    def reject_constant(name: str) -> None:
        raise ValueError(f"{name} is not a JSON number")

    try:
        parsed = json.loads(arg.value, parse_constant=reject_constant)
    except (ValueError, RecursionError) as err:
        raise FilterError(f"invalid JSON in has(metadata, ...): {err}", arg.pos) from None
    if not isinstance(parsed, dict):
        raise FilterError("has(metadata, ...) takes a JSON object", arg.pos)
    pairs: list[tuple[str, Scalar]] = []
    for key, value in parsed.items():
        scalar = (
            isinstance(value, str | bool)
            or value is None
            or (isinstance(value, float) and math.isfinite(value))
        )
        if not scalar and not (isinstance(value, int) and -(2**63) <= value < 2**63):
            raise FilterError(
                f"metadata value for {key!r} must be a string, number, boolean or null", arg.pos
            )
        pairs.append((key, value))
    return pairs
