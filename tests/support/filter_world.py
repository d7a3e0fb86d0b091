"""The runs and feedback the filter tests select from, and the documented filter examples
with the runs each selects (by label).  Shared by the DuckDB and ClickHouse filter tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

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


# The documented examples, each with the runs it selects.
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
    # A run's thread: the first of session_id, thread_id, conversation_id it has.
    ('eq(thread_id, "t1")', {"R5"}),
    ('in(thread_id, ["a", "b"])', {"R4"}),
    ("neq(thread_id, null)", {"R4", "R5"}),
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
