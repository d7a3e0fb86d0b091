"""Random filters for property tests: leaves over every attribute with values that hit and
miss the rows of ``filter_world``, combined with ``and``, ``or`` and ``not``."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

from tests.support.filter_world import IDS


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
    leaf("thread_id", TEXT, ["a", "b", "t1", "T1", "t%", "_", ""]),
    leaf("thread_id", EQ, [None, "t1"]),
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
