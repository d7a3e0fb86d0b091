"""Run filters: the parser's errors, and the SQL's answers checked on a real DuckDB.

Every filter is run twice: as the compiled SQL over the real schema, and through a small
pure-Python evaluator of the syntax tree (``Reference`` below) over the same rows.  The two
must select the same runs, for the documented examples and for random filters.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaldelta.delta.filter_parser import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    Arg,
    Attr,
    Call,
    ListLit,
    Literal,
)
from evaldelta.delta.filters import (
    MAX_SUBQUERIES,
    FilterError,
    compile_filter,
    filter_to_sql,
    parse_filter,
)
from evaldelta.store.duckdb_schema import MIGRATIONS

TENANT, OTHER_TENANT = uuid.UUID(int=1), uuid.UUID(int=2)
SESSION = uuid.UUID(int=3)
T0 = datetime(2023, 7, 15, 12, 0, tzinfo=UTC)
IDS = {
    label: uuid.UUID(int=100 + i)
    for i, label in enumerate(["R1", "R2", "R3", "R4", "R5", "R6", "R7"])
}
LABELS = {v: k for k, v in IDS.items()}


def _run(label: str, **fields: Any) -> dict[str, Any]:
    seconds = fields.pop("latency", None)
    start = fields.pop("start", T0)
    row: dict[str, Any] = {
        "id": IDS[label],
        "name": "run",
        "run_type": "chain",
        "status": "success",
        "start_time": start,
        "end_time": None if seconds is None else start + timedelta(seconds=seconds),
        "trace_id": IDS[label],
        "parent_run_id": None,
        "is_root": True,
        "reference_example_id": None,
        "inputs": None,
        "outputs": None,
        "extra": None,
        "error": None,
        "tags": None,
        "total_tokens": None,
        "prompt_tokens": None,
        "completion_tokens": None,
    }
    row.update(fields)
    return row


RUNS = [
    _run(
        "R1",
        name="extractor",
        start=T0 + timedelta(hours=1),
        latency=12,
        total_tokens=6000,
        prompt_tokens=4000,
        completion_tokens=2000,
        tags=["production", "2aa1cf4"],
        extra={
            "metadata": {
                "model": "gpt-4",
                "environment": "production",
                "tenant_id": "acme",
                "foo": "bar",
                "n": 5,
            }
        },
        inputs={"question": "What is the Capital of France?", "messages": [{"content": "hi"}]},
        outputs={"answer": "Paris", "confidence": 3},
    ),
    _run(
        "R2",
        name="ChatOpenAI",
        run_type="llm",
        status="error",
        start=T0 + timedelta(hours=1, seconds=1),
        latency=1.5,
        total_tokens=100,
        error="RateLimitError: Too Many Requests",
        tags=["beta"],
        is_root=False,
        parent_run_id=IDS["R1"],
        trace_id=IDS["R1"],
        extra={"metadata": {"model": "gpt-3.5", "environment": "staging"}},
        inputs={"prompt": "capital?"},
    ),
    _run(
        "R3",
        name="search_tool",
        run_type="tool",
        status="pending",
        start=datetime(2023, 7, 16, tzinfo=UTC),
        inputs={"x": 1},
    ),
    _run(
        "R4",
        name="extractor",
        start=datetime(2023, 7, 14, 9, tzinfo=UTC),
        latency=3,
        total_tokens=5001,
        tags=["experimental"],
        reference_example_id=uuid.UUID(int=900),
        extra={"metadata": {"conversation_id": "a", "flag": True, "foo": "baz"}},
        inputs={"question": "capital of Spain?"},
        outputs={"answer": "Madrid"},
    ),
    _run(
        "R5",
        name="retriever",
        run_type="retriever",
        latency=0.5,
        total_tokens=0,
        tags=["production", "beta"],
        extra={
            "metadata": {
                "environment": "production",
                "thread_id": "t1",
                "conversation_id": "b",
                "n": "5",
            }
        },
        inputs={"query": "50% off"},
        outputs={"docs": ["a", "b"]},
    ),
    _run(
        "R6",
        name="formatter",
        run_type="parser",
        status="error",
        start=T0 + timedelta(hours=2),
        latency=2,
        error="ValueError",
        tags=[],
        extra={"metadata": {"other": "a"}},
        inputs={"messages.content": "x_y"},
        outputs={"ok": True},
    ),
    # Odd shapes: metadata and inputs that are not objects, an empty error, a capital tag.
    _run(
        "R7",
        name="Weird",
        start=datetime(2023, 7, 10, tzinfo=UTC),
        latency=0,
        error="",
        tags=["Production"],
        extra={"metadata": ["x"]},
        inputs=["a"],
        outputs={"nested": {"k": None}},
    ),
]

FEEDBACK = [
    (TENANT, "R1", "star", 5.0, None),
    (TENANT, "R1", "Correctness", 0.0, None),
    (TENANT, "R1", "user_score", 1.0, None),
    (TENANT, "R2", "star", 3.0, None),
    (TENANT, "R4", "star", 2.0, None),
    (TENANT, "R4", "helpfulness", 5.0, None),
    (TENANT, "R5", "label", None, "good"),
    (TENANT, "R5", "Correctness", 1.0, None),
    (TENANT, "R6", "user_score", 0.0, {"reason": "bad"}),
    # Another tenant's feedback on a run id this tenant also uses must never count.
    (OTHER_TENANT, "R4", "star", 5.0, None),
]


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    db = duckdb.connect()
    db.execute(MIGRATIONS[0])
    for r in RUNS:
        db.execute(
            """INSERT INTO runs (tenant_id, id, session_id, name, run_type, status, start_time,
                 end_time, trace_id, dotted_order, parent_run_id, is_root, reference_example_id,
                 inputs, outputs, extra, error, tags, total_tokens, prompt_tokens,
                 completion_tokens)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'x', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [
                TENANT,
                r["id"],
                SESSION,
                r["name"],
                r["run_type"],
                r["status"],
                r["start_time"],
                r["end_time"],
                r["trace_id"],
                r["parent_run_id"],
                r["is_root"],
                r["reference_example_id"],
                _dump(r["inputs"]),
                _dump(r["outputs"]),
                _dump(r["extra"]),
                r["error"],
                r["tags"],
                r["total_tokens"],
                r["prompt_tokens"],
                r["completion_tokens"],
            ],
        )
    for n, (tenant, label, key, score, value) in enumerate(FEEDBACK):
        db.execute(
            """INSERT INTO feedback (tenant_id, id, run_id, key, score, score_is_bool, value,
                 created_at, modified_at) VALUES (?, ?, ?, ?, ?, false, ?, ?, ?)""",
            [tenant, uuid.UUID(int=500 + n), IDS[label], key, score, _dump(value), T0, T0],
        )
    yield db
    db.close()


def _dump(value: Any) -> str | None:
    # As the store writes JSON columns (sqlrows.dump_json).
    return None if value is None else orjson.dumps(value).decode()


def sql_labels(con: duckdb.DuckDBPyConnection, text: str) -> set[str]:
    sql, params = filter_to_sql(text)
    assert "{" not in sql and "}" not in sql  # callers wrap fragments with str.format
    rows = con.execute(
        f"SELECT r.id FROM runs r WHERE r.tenant_id = ? AND ({sql})", [TENANT, *params]
    ).fetchall()
    return {LABELS[row[0]] for row in rows}


# --- the reference evaluator ------------------------------------------------------------

MISSING = object()
FAMILIES = {
    "metadata_key": "metadata",
    "metadata_value": "metadata",
    "input_key": "inputs",
    "input_value": "inputs",
    "output_key": "outputs",
    "output_value": "outputs",
    "feedback_key": "feedback",
    "feedback_score": "feedback",
    "feedback_value": "feedback",
}
ORDER = {
    "eq": lambda a, b: a == b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def like(pattern: str, text: str) -> bool:
    regex = re.sub(
        r"\\(.)|(%)|(_)|(.)",
        lambda m: (
            re.escape(m.group(1))
            if m.group(1) is not None
            else ".*"
            if m.group(2)
            else "."
            if m.group(3)
            else re.escape(m.group(4))
        ),
        pattern,
        flags=re.S,
    )
    return re.fullmatch(regex, text, flags=re.S) is not None


def text_op(op: str, lit: str, text: str | None) -> bool:
    if text is None:
        return False
    if op == "like":
        return like(lit, text)
    if op == "search":
        return lit.lower() in text.lower()
    return bool(ORDER[op](text, lit))


def json_text(value: Any) -> str | None:
    if value is MISSING or value is None:
        return None
    if isinstance(value, str):
        return value
    return orjson.dumps(value).decode()


class Reference:
    """What each filter means, written over Python rows instead of SQL."""

    def __init__(self, run: dict[str, Any]) -> None:
        self.run = run
        meta = (run["extra"] or {}).get("metadata") if isinstance(run["extra"], dict) else None
        self.entries = {
            "metadata": [{"key": k, "value": v} for k, v in meta.items()]
            if isinstance(meta, dict)
            else [],
            "inputs": [{"key": k, "value": v} for k, v in run["inputs"].items()]
            if isinstance(run["inputs"], dict)
            else [],
            "outputs": [{"key": k, "value": v} for k, v in run["outputs"].items()]
            if isinstance(run["outputs"], dict)
            else [],
            "feedback": [
                {"key": key, "score": score, "value": MISSING if value is None else value}
                for tenant, label, key, score, value in FEEDBACK
                if tenant == TENANT and IDS[label] == run["id"]
            ],
        }

    def eval(self, node: Arg) -> bool:
        assert isinstance(node, Call)
        args = node.args
        if node.name == "and":
            return self.conjunction(args)
        if node.name == "or":
            return any(self.eval(a) for a in args)
        if node.name == "not":
            return not self.eval(args[0])
        if node.name == "search" and len(args) == 1:
            assert isinstance(args[0], Literal) and isinstance(args[0].value, str)
            r = self.run
            texts = [r["name"], json_text(r["inputs"]), json_text(r["outputs"]), r["error"]]
            return any(text_op("search", args[0].value, t) for t in texts)
        if isinstance(args[0], Attr) and args[0].name == "metadata":
            assert isinstance(args[1], Literal) and isinstance(args[1].value, str)
            entries = self.entries["metadata"]
            if node.name == "exists":
                return any(e["key"] == args[1].value for e in entries)
            pairs = json.loads(args[1].value).items()
            return all(
                any(e["key"] == k and self.value_eq("eq", v, e["value"]) for e in entries)
                for k, v in pairs
            )
        assert isinstance(args[0], Attr)
        if args[0].name in FAMILIES:
            return self.group([node])
        return self.scalar(node.name, args[0].name, args[1])

    def conjunction(self, args: tuple[Arg, ...]) -> bool:
        groups: dict[str, list[Call]] = {}
        result = True
        for a in args:
            assert isinstance(a, Call)
            first = a.args[0] if a.args else None
            if isinstance(first, Attr) and first.name in FAMILIES and len(a.args) == 2:
                groups.setdefault(FAMILIES[first.name], []).append(a)
            else:
                result = self.eval(a) and result
        return result and all(self.group(g) for g in groups.values())

    def group(self, calls: list[Call]) -> bool:
        entries = self.entries[FAMILIES[_attr(calls[0])]]
        if any(c.name != "neq" for c in calls):
            return any(all(self.entry(c.name, c, e) for c in calls) for e in entries)
        return all(not any(self.entry("eq", c, e) for e in entries) for c in calls)

    def entry(self, op: str, call: Call, e: dict[str, Any]) -> bool:
        lit = call.args[1]
        if op == "neq":
            return not self.entry("eq", call, e)
        if op == "in":
            assert isinstance(lit, ListLit)
            return any(self.entry("eq", Call("eq", (call.args[0], i), 0), e) for i in lit.items)
        assert isinstance(lit, Literal)
        part = _attr(call).rsplit("_", 1)[1]
        if part == "key":
            assert isinstance(lit.value, str)
            return text_op(op, lit.value, e["key"])
        if part == "score":
            return e["score"] is not None and bool(ORDER[op](e["score"], lit.value))
        return self.value_eq(op, lit.value, e["value"])

    @staticmethod
    def value_eq(op: str, lit: Any, value: Any) -> bool:
        if lit is None:
            return value is None
        if isinstance(lit, bool):
            return isinstance(value, bool) and value == lit
        if isinstance(lit, int | float):
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            return is_number and bool(ORDER[op](float(value), lit))
        return text_op(op, lit, json_text(value))

    def scalar(self, op: str, attr: str, lit: Arg) -> bool:
        if op == "neq":
            return not self.scalar("eq", attr, lit)
        if op == "in":
            assert isinstance(lit, ListLit)
            return any(self.scalar("eq", attr, item) for item in lit.items)
        assert isinstance(lit, Literal)
        value: Any = lit.value
        r = self.run
        if attr == "tags":
            tags = r["tags"] or []
            if op in ("eq", "has"):
                return value in tags
            assert isinstance(value, str)
            return any(text_op(op, value, t) for t in tags)
        if attr == "execution_order":
            return bool(r["is_root"])
        if attr == "error" and isinstance(value, bool):
            return (r["error"] is not None) == value
        if attr == "latency":
            actual: Any = (
                None if r["end_time"] is None else (r["end_time"] - r["start_time"]).total_seconds()
            )
            value = _duration(value)
        elif attr in ("start_time", "end_time"):
            actual = r[attr]
            if isinstance(value, str):
                stamp = datetime.fromisoformat(value)
                value = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
        elif attr in ("id", "trace_id", "parent_run_id", "reference_example_id"):
            actual = r[attr]
            value = None if value is None else uuid.UUID(str(value))
        elif attr == "session_id":
            actual, value = SESSION, uuid.UUID(str(value))
        else:
            actual = r[attr]
        if value is None:
            return actual is None
        if actual is None:
            return False
        if op in ("like", "search"):
            assert isinstance(value, str)
            return text_op(op, value, actual)
        return bool(ORDER[op](actual, value))


def _attr(call: Call) -> str:
    assert isinstance(call.args[0], Attr)
    return call.args[0].name


def _duration(value: Any) -> float:
    if isinstance(value, str):
        match = re.fullmatch(r"(\d+(?:\.\d+)?)(ms|s|m)", value)
        assert match
        return float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(2)]
    return float(value)


def reference_labels(text: str) -> set[str]:
    expr = parse_filter(text)
    return {LABELS[r["id"]] for r in RUNS if Reference(r).eval(expr)}


# --- documented examples ----------------------------------------------------------------

EXAMPLES = [
    ('and(eq(run_type, "chain"), gt(latency, 2))', {"R1", "R4"}),
    ("and(eq(run_type, 'chain'), gt(latency, 10), gt(total_tokens, 5000))", {"R1"}),
    ('has(tags, "production")', {"R1", "R5"}),
    ('has(tags, "2aa1cf4")', {"R1"}),
    ('eq(tags, "beta")', {"R2", "R5"}),
    ('and(eq(feedback_key, "star"), gt(feedback_score, 4))', {"R1"}),
    ('and(eq(feedback_key, "star"), lt(feedback_score, 4))', {"R2", "R4"}),
    ('neq(feedback_key, "star")', {"R3", "R5", "R6", "R7"}),
    ("and(eq(metadata_key, 'model'), eq(metadata_value, 'gpt-4'))", {"R1"}),
    ("and(eq(is_root, true), and(eq(metadata_key, 'model'), eq(metadata_value, 'gpt-4')))", {"R1"}),
    ("neq(error, null)", {"R2", "R6", "R7"}),
    ("eq(error, null)", {"R1", "R3", "R4", "R5"}),
    ("eq(error, true)", {"R2", "R6", "R7"}),
    ("eq(error, false)", {"R1", "R3", "R4", "R5"}),
    ('in(metadata_key, ["conversation_id", "thread_id"])', {"R4", "R5"}),
    ('like(input_value, "%Capital%")', {"R1"}),
    ('like(input_key, "messages.%")', {"R6"}),
    ('like(input_value, "%50\\\\%%")', {"R5"}),
    ('exists(metadata, "tenant_id")', {"R1"}),
    ("""has(metadata, '{"foo": "bar"}')""", {"R1"}),
    ("""has(metadata, '{"flag": true, "conversation_id": "a"}')""", {"R4"}),
    ("""and(not(has(metadata, '{"foo": "bar"}')), exists(metadata, "foo"))""", {"R4"}),
    ('search("paris")', {"R1"}),
    ('search("ratelimit")', {"R2"}),
    ('search(name, "EXTRACT")', {"R1", "R4"}),
    ("not(eq(is_root, true))", {"R2"}),
    ("eq(execution_order, 1)", {"R1", "R3", "R4", "R5", "R6", "R7"}),
    ('or(has(tags, "experimental"), has(tags, "beta"))', {"R2", "R4", "R5"}),
    ('and(or(has(tags, "experimental"), has(tags, "beta")), gt(latency, 2))', {"R4"}),
    ("gt(total_tokens, 5000)", {"R1", "R4"}),
    ('gt(start_time, "2023-07-15T12:34:56Z")', {"R1", "R2", "R3", "R6"}),
    (
        'and(gt(start_time, "2023-07-15T12:34:56Z"), or(neq(error, null), '
        'and(eq(feedback_key, "Correctness"), eq(feedback_score, 0.0))))',
        {"R1", "R2", "R6"},
    ),
    ('eq(status, "error")', {"R2", "R6"}),
    ('eq(name, "extractor")', {"R1", "R4"}),
    ('in(run_type, ["llm", "tool"])', {"R2", "R3"}),
    # LangSmith's four negative key/value combinations.
    ("and(neq(metadata_key, 'conversation_id'))", {"R1", "R2", "R3", "R6", "R7"}),
    ("and(eq(metadata_key, 'conversation_id'), neq(metadata_value, 'a'))", {"R5"}),
    (
        "and(neq(metadata_key, 'conversation_id'), neq(metadata_value, 'a'))",
        {"R1", "R2", "R3", "R7"},
    ),
    ("and(neq(metadata_key, 'conversation_id'), eq(metadata_value, 'a'))", {"R6"}),
    ('lt(latency, "1s")', {"R5", "R7"}),
    ('not(lt(latency, "1s"))', {"R1", "R2", "R3", "R4", "R6"}),
    ('gte(latency, "1500ms")', {"R1", "R2", "R4", "R6"}),
    ('eq(feedback_value, "good")', {"R5"}),
    ("eq(feedback_value, null)", set()),  # no feedback value is a JSON null
    ('like(feedback_value, "%bad%")', {"R6"}),
    ("gt(metadata_value, 4)", {"R1"}),  # R5's "5" is a string
    ('eq(metadata_value, "5")', {"R1", "R5"}),  # as text, 5 and "5" look the same
    ('eq(input_key, "0")', set()),  # R7's inputs are a list, not entries
    ('exists(metadata, "0")', set()),
    ("eq(output_value, true)", {"R6"}),
    ("gt(output_value, 2)", {"R1"}),
    ("eq(output_value, '{\"k\":null}')", {"R7"}),
    ('eq(parent_run_id, "00000000-0000-0000-0000-000000000064")', {"R2"}),
    ('eq(id, "00000000000000000000000000000066")', {"R3"}),
    ("neq(reference_example_id, null)", {"R4"}),
    ('eq(session_id, "00000000-0000-0000-0000-000000000003")', set(IDS)),
    # Pairing is per and(...): two keys in one and() must be one feedback row.
    ('and(eq(feedback_key, "star"), eq(feedback_key, "helpfulness"))', set()),
    ('and(and(eq(feedback_key, "star")), and(eq(feedback_key, "helpfulness")))', {"R4"}),
    ('and(eq(feedback_key, "star"), neq(feedback_score, 5))', {"R2", "R4"}),
]


@pytest.mark.parametrize(("text", "expected"), EXAMPLES)
def test_documented_examples(con: duckdb.DuckDBPyConnection, text: str, expected: set[str]) -> None:
    assert sql_labels(con, text) == expected
    assert reference_labels(text) == expected


def test_run_alias_and_dialect_seam(con: duckdb.DuckDBPyConnection) -> None:
    sql, params = compile_filter(
        parse_filter('and(eq(feedback_key, "star"), has(tags, "beta"))'), run_alias="t"
    )
    assert "r." not in sql
    rows = con.execute(f"SELECT t.id FROM runs t WHERE {sql}", params).fetchall()
    assert {LABELS[r[0]] for r in rows} == {"R2"}
    with pytest.raises(ValueError):
        compile_filter(parse_filter('eq(name, "x")'), run_alias="r; DROP TABLE runs")


def test_user_values_never_reach_the_sql_text() -> None:
    hostile = "x') OR 1=1 --"
    sql, params = filter_to_sql(f"and(eq(name, {json.dumps(hostile)}), like(tags, 'a%'))")
    assert hostile not in sql and "a%" not in sql
    assert params == [hostile, "a%"]


# --- parser and checker errors ----------------------------------------------------------


def error_of(text: str) -> FilterError:
    with pytest.raises(FilterError) as info:
        filter_to_sql(text)
    assert isinstance(info.value, ValueError)
    return info.value


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ('eq(name "x")', "expected ',' or ')', found string \"x\"", 8),
        ('and(eq(run_type, "chain") gt(latency, 2))', "expected ',' or ')'", 26),
        ('eq(name, "x"', "expected ',' or ')', found end of input", 12),
        ('eq(name, "x"))', "expected end of input, found ')'", 13),
        ('eq(name, "abc', "unterminated string starting at position 9", 13),
        ('eq(name, "a\\qb")', "invalid escape sequence", 11),
        ('eq(name, "\\u12")', "expected four hex digits", 10),
        ('eq(name, "\\ud800")', "unpaired surrogate", 10),
        ("eq(name, #)", "unexpected character '#'", 9),
        ("eq(total_tokens, 1.)", "expected a digit after '.'", 19),
        ("eq(total_tokens, 1e)", "expected a digit in the exponent", 19),
        ("eq(total_tokens, 99999999999999999999)", "integer out of range", 17),
        ("gt(total_tokens, 1e999)", "number out of range", 17),
        ("eq name", "expected '(' after eq", 3),
        ('"x"', "expected a function call", 0),
        ("", "expected a function call", 0),
        ("in(tags, [1, [2]])", "expected a literal, found '['", 13),
        ("eq(, 1)", "expected a filter, an attribute name, a literal or a list", 3),
        # semantic checks
        ('foo(name, "x")', "unknown function 'foo'", 0),
        ('and(eq(name, "x"), bar(name, "x"))', "unknown function 'bar'", 19),
        ('eq(nmae, "x")', "unknown attribute 'nmae'", 3),
        ('eq(metadata, "x")', "unknown attribute 'metadata' for eq(); use has() or exists()", 3),
        ("eq(name)", "eq() takes 2 arguments", 0),
        ('eq(name, "a", "b")', "eq() takes 2 arguments", 0),
        ("search()", "search() takes 1 or 2 arguments", 0),
        ('not(eq(name, "a"), eq(name, "b"))', "not() takes 1 filter, got 2", 0),
        ("and()", "and() needs at least one filter", 0),
        ("or()", "or() needs at least one filter", 0),
        ("and(name)", "expected a filter", 4),
        ('eq("name", "x")', "expected an attribute name as the first argument of eq()", 3),
        ("eq(name, run_type)", "expected a literal value", 9),
        ('eq(name, ["x"])', "expected a literal value", 9),
        ('in(name, "x")', "expected a list", 9),
        ("gt(tags, 1)", "gt() does not apply to tags", 0),
        ('like(total_tokens, "1%")', "like() does not apply to total_tokens", 0),
        ('has(name, "x")', "has() does not apply to name", 0),
        ("eq(name, 1)", "expected a string to compare with name", 9),
        ("eq(name, null)", "null cannot be used with eq(name, ...)", 9),
        ('in(run_type, ["llm", 2])', "expected a string", 21),
        ('gt(total_tokens, "5")', "expected a number", 17),
        ('eq(is_root, "true")', "expected true or false", 12),
        ('gt(start_time, "yesterday")', "expected an ISO-8601 timestamp", 15),
        ("gt(start_time, 5)", "expected an ISO-8601 timestamp", 15),
        ('gt(latency, "5 parsecs")', "expected seconds or a duration", 12),
        ('eq(id, "not-a-uuid")', "expected a UUID string", 7),
        ("eq(execution_order, 2)", "only execution_order 1", 20),
        ("gt(execution_order, 1)", "gt() does not apply to execution_order", 0),
        ('gt(metadata_value, "a")', "expected a number", 19),
        ("gt(feedback_score, null)", "null cannot be used", 19),
        ('like(name, "abc\\\\")', "must not end with an unescaped backslash", 11),
        ("search(name, 5)", "expected a string", 13),
        ("search(5)", "expected a string to search for", 7),
        ('exists(tags, "x")', "exists() takes metadata and a key", 0),
        ("exists(metadata, 1)", "expected a metadata key string", 17),
        ("has(metadata, '[1]')", "takes a JSON object", 14),
        ("has(metadata, '{bad')", "invalid JSON", 14),
        ("""has(metadata, '{"a": NaN}')""", "invalid JSON", 14),
        ("""has(metadata, '{"a": {"b": 1}}')""", "must be a string, number, boolean or null", 14),
    ],
)
def test_errors_say_what_and_where(text: str, message: str, position: int) -> None:
    err = error_of(text)
    assert message in err.message
    assert err.position == position
    assert str(err).endswith(f" at position {position}")


def test_error_message_format() -> None:
    assert str(error_of('and(eq(name, "a") eq(name, "b"))')) == (
        "expected ',' or ')', found identifier eq at position 18"
    )


def test_nesting_limit() -> None:
    def nested(depth: int) -> str:
        return "not(" * (depth - 1) + 'eq(name, "x")' + ")" * (depth - 1)

    expr = parse_filter(nested(MAX_DEPTH))
    assert filter_to_sql(nested(MAX_DEPTH))[1] == ["x"]
    assert isinstance(expr, Call)
    err = error_of(nested(MAX_DEPTH + 1))
    assert f"nested more than {MAX_DEPTH} levels" in err.message
    assert err.position == 4 * MAX_DEPTH
    # Far deeper than Python's recursion limit: still a FilterError, not a RecursionError.
    assert "nested more than" in error_of("and(" * 2400).message


def test_length_limit() -> None:
    body = 'eq(name, "' + "x" * (MAX_FILTER_LENGTH - 12) + '")'
    assert len(body) == MAX_FILTER_LENGTH
    parse_filter(body)
    err = error_of(body + " ")
    assert "longer than" in err.message


def test_subquery_limit(con: duckdb.DuckDBPyConnection) -> None:
    """Correlated subqueries make DuckDB's planning time grow steeply: they are capped."""

    def pairs(n: int) -> str:
        return f"has(metadata, {json.dumps(json.dumps({f'k{i}': i for i in range(n)}))})"

    assert sql_labels(con, pairs(MAX_SUBQUERIES)) == set()
    assert "more than 64 subqueries" in error_of(pairs(MAX_SUBQUERIES + 1)).message
    grouped = "and(" + ", ".join(["gt(feedback_score, 1)"] * 200) + ")"  # one subquery
    assert sql_labels(con, grouped) == {"R1", "R2", "R4"}
    spread = "or(" + ", ".join(['like(tags, "a%")'] * (MAX_SUBQUERIES + 1)) + ")"
    assert error_of(spread).position == 3 + 18 * MAX_SUBQUERIES


@pytest.mark.parametrize(
    "text",
    [
        '"' * MAX_FILTER_LENGTH,
        "(" * MAX_FILTER_LENGTH,
        "in(tags, " + "[" * (MAX_FILTER_LENGTH - 9),
        "eq(n, " + "9" * (MAX_FILTER_LENGTH - 7) + ")",
        "eq(n, 1." + "5" * (MAX_FILTER_LENGTH - 9) + ")",
        'eq(name, "' + "\\u" * ((MAX_FILTER_LENGTH - 10) // 3),
        "or(" + 'eq(name, "a"),' * ((MAX_FILTER_LENGTH - 20) // 14) + 'eq(name, "a"))',
        "has(metadata, '" + "[" * (MAX_FILTER_LENGTH - 17) + "')",
    ],
)
def test_hostile_input_is_cheap(text: str) -> None:
    assert len(text) <= MAX_FILTER_LENGTH
    started = time.perf_counter()
    with contextlib.suppress(FilterError):
        filter_to_sql(text)
    assert time.perf_counter() - started < 2


def test_surrogates_are_refused() -> None:
    assert error_of('eq(name, "a\ud800")').message == "invalid character in string"
    assert error_of("eq(name\ud800, 1)").message == "unexpected character '\\ud800'"


def test_syntax_tree_shape() -> None:
    expr = parse_filter(""" and( in(tags, ['a', "b\\n", -1.5e2, true, null]) , eq(x,-3) )""")
    assert expr == Call(
        "and",
        (
            Call(
                "in",
                (
                    Attr("tags", 9),
                    ListLit(
                        (
                            Literal("a", 16),
                            Literal("b\n", 21),
                            Literal(-150.0, 28),
                            Literal(True, 36),
                            Literal(None, 42),
                        ),
                        15,
                    ),
                ),
                6,
            ),
            Call("eq", (Attr("x", 54), Literal(-3, 56)), 51),
        ),
        1,
    )


def test_literals() -> None:
    lit = parse_filter('eq(name, "\\"q\\" \\\\ \\/ \\u00e9 \\ud83d\\ude00 \'")').args[1]
    assert lit == Literal('"q" \\ / é 😀 \'', 9)
    assert parse_filter("eq(name, 'it\\'s')").args[1] == Literal("it's", 9)
    assert parse_filter("eq(n, 0)").args[1] == Literal(0, 6)
    assert parse_filter("eq(n, -0.25)").args[1] == Literal(-0.25, 6)
    assert parse_filter("eq(n, 9223372036854775807)").args[1] == Literal(2**63 - 1, 6)
    assert parse_filter("eq(n,false)").args[1] == Literal(False, 5)


@pytest.mark.parametrize(
    "text",
    [
        'eq(name, "x")',
        'neq(name, "x")',
        "gt(total_tokens, 1)",
        "gte(total_tokens, 1)",
        "lt(total_tokens, 1)",
        "lte(total_tokens, 1)",
        'has(tags, "x")',
        'search("x")',
        'search(name, "x")',
        'in(name, ["x", "y"])',
        "in(name, [])",
        'like(name, "x%")',
        'exists(metadata, "x")',
        """has(metadata, '{"x": 1}')""",
        """has(metadata, '{}')""",
        'and(eq(name, "x"))',
        'or(eq(name, "x"), eq(name, "y"))',
        'not(eq(name, "x"))',
    ],
)
def test_every_function_compiles_and_runs(con: duckdb.DuckDBPyConnection, text: str) -> None:
    assert sql_labels(con, text) == reference_labels(text)


# --- property tests ---------------------------------------------------------------------


def lit(value: Any) -> str:
    return "null" if value is None else json.dumps(value)


def leaf(
    attr: str, ops: list[str], values: list[Any], *, with_in: bool = True
) -> st.SearchStrategy[str]:
    value = st.sampled_from(values)
    single = st.builds(lambda op, v: f"{op}({attr}, {lit(v)})", st.sampled_from(ops), value)
    if "eq" not in ops or not with_in:
        return single
    many = st.lists(value, max_size=3).map(lambda vs: f"in({attr}, [{', '.join(map(lit, vs))}])")
    return single | many


EQ, ORD, TEXT = (
    ["eq", "neq"],
    ["eq", "neq", "gt", "gte", "lt", "lte"],
    ["eq", "neq", "like", "search"],
)
WORDS = ["a", "b", "gpt-4", "production", "5", "x_y", "%", "%a%", "_", "Paris", "pAR", ""]
LEAVES = st.one_of(
    leaf("name", TEXT, ["extractor", "Weird", "weird", "%tract%", "ext%", "_hat%", "zzz"]),
    leaf("run_type", TEXT, ["chain", "llm", "tool", "c%"]),
    leaf("status", EQ, ["success", "error", "pending"]),
    leaf("error", TEXT, ["ValueError", "", "rate", "%Error%"]),
    leaf("error", EQ, [None, True, False]),
    leaf("latency", ORD, [0, 0.5, 1.5, 2, 3, 12, "2s", "500ms", "1m"]),
    leaf("total_tokens", ORD, [0, 100, 5000, 5001, 6000]),
    leaf("total_tokens", EQ, [None, 100]),
    leaf(
        "start_time",
        ORD,
        ["2023-07-15T12:00:00Z", "2023-07-15T12:34:56Z", "2023-07-16", "2023-07-15T14:00:00+02:00"],
    ),
    leaf("end_time", EQ, [None]),
    leaf("tags", ["has", *TEXT], ["production", "beta", "Production", "exp%", "PROD", "nope"]),
    leaf("is_root", EQ, [True, False]),
    leaf("execution_order", EQ, [1], with_in=False),
    leaf("id", EQ, [str(IDS["R1"]), str(IDS["R5"])]),
    leaf("parent_run_id", EQ, [None, str(IDS["R1"])]),
    leaf("metadata_key", TEXT, ["model", "conversation_id", "n", "foo", "flag", "0", "%o%"]),
    leaf("metadata_value", EQ, ["gpt-4", "a", "5", 5, True, False, None, "bar", "production"]),
    leaf("metadata_value", ORD, [4, 5, 5.5]),
    leaf("metadata_value", ["like", "search"], WORDS),
    leaf("input_key", TEXT, ["question", "messages", "messages.content", "x", "0", "%s%"]),
    leaf("input_value", TEXT, [*WORDS, "%Capital%", "capital?"]),
    leaf("input_value", ORD, [1, 0]),
    leaf("output_key", EQ, ["answer", "ok", "docs"]),
    leaf("output_value", EQ, [True, 3, "Paris", '["a","b"]', None]),
    leaf(
        "feedback_key", TEXT, ["star", "Correctness", "helpfulness", "label", "user_score", "%e%"]
    ),
    leaf("feedback_score", ORD, [0, 0.0, 1, 2, 3, 4, 5, 4.5]),
    leaf("feedback_value", [*EQ, "like", "search"], ["good", "bad", "%a%"]),
    leaf("feedback_value", EQ, [1, None, True]),
    st.sampled_from([*WORDS, "RATE", "madrid"]).map(lambda w: f"search({lit(w)})"),
    st.sampled_from(["model", "foo", "tenant_id", "0"]).map(
        lambda k: f"exists(metadata, {lit(k)})"
    ),
    st.dictionaries(
        st.sampled_from(["foo", "model", "flag", "n"]),
        st.sampled_from(["bar", "gpt-4", True, 5, "5", None]),
        max_size=2,
    ).map(lambda d: f"has(metadata, {lit(json.dumps(d))})"),
)


def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    group = st.lists(children, min_size=1, max_size=4).map(", ".join)
    return (
        group.map(lambda s: f"and({s})")
        | group.map(lambda s: f"or({s})")
        | children.map(lambda s: f"not({s})")
    )


FILTERS = st.recursive(LEAVES, combine, max_leaves=10)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=FILTERS)
def test_sql_agrees_with_reference(con: duckdb.DuckDBPyConnection, text: str) -> None:
    assert sql_labels(con, text) == reference_labels(text)


@settings(max_examples=500, deadline=1000)
@given(text=st.text(max_size=200))
def test_arbitrary_text_only_raises_filter_error(text: str) -> None:
    with contextlib.suppress(FilterError):
        filter_to_sql(text)


TOKENS = [
    "eq",
    "neq",
    "gt",
    "in",
    "has",
    "and",
    "or",
    "not",
    "search",
    "exists",
    "like",
    "(",
    "(",
    ")",
    ")",
    ",",
    ",",
    "[",
    "]",
    "name",
    "tags",
    "metadata",
    "latency",
    "metadata_value",
    "feedback_score",
    "start_time",
    "id",
    "error",
    '"x"',
    "'y%'",
    '"\\\\"',
    "1",
    "-2.5",
    "1e3",
    "null",
    "true",
    " ",
    '"5s"',
    '"2023-07-15"',
    """'{"a": 1}'""",
    '"\\u00e9"',
    "@",
    '"unterminated',
]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(TOKENS), max_size=40))
def test_token_soup_is_rejected_cleanly_or_runs(
    con: duckdb.DuckDBPyConnection, parts: list[str]
) -> None:
    """Near-miss filters: FilterError, or SQL that DuckDB runs without complaint."""
    text = "".join(parts)
    try:
        sql, params = filter_to_sql(text)
    except FilterError:
        return
    con.execute(f"SELECT count(*) FROM runs r WHERE ({sql})", params).fetchall()
