"""Run filters: the parser's errors, and the SQL's answers checked on a real DuckDB.

Every filter is run twice: as the compiled SQL over the real schema, and through a small
pure-Python evaluator of the syntax tree (``filter_reference``) over the same rows.  The two
must select the same runs, for the documented examples and for random filters.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import duckdb
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaldelta.delta.filters.compiler import (
    MAX_SUBQUERIES,
    FilterError,
    compile_filter,
    filter_to_sql,
    parse_filter,
)
from evaldelta.delta.filters.parser import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    Attr,
    Call,
    ListLit,
    Literal,
)
from evaldelta.store.duckdb.schema import MIGRATIONS
from tests.support.filter_reference import reference_labels
from tests.support.filter_strategies import FILTERS
from tests.support.filter_world import (
    EXAMPLES,
    FEEDBACK,
    IDS,
    LABELS,
    RUNS,
    SESSION,
    T0,
    TENANT,
)


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
    # The later migrations, as on a real upgrade: they fill in what they add (the feedback's
    # copies of run fields, each run's thread id).
    for sql in MIGRATIONS[1:]:
        db.execute(sql)
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
