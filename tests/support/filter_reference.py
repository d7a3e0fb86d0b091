"""A small pure-Python evaluator of a parsed filter over the rows of ``filter_world``: what
the compiled SQL of either store must select."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from evaldelta.delta.filters.compiler import parse_filter
from evaldelta.delta.filters.parser import Arg, Attr, Call, ListLit, Literal
from tests.support.filter_world import FEEDBACK, IDS, LABELS, RUNS, SESSION, TENANT

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
        elif attr == "thread_id":
            actual = _thread(r["extra"])
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


def _thread(extra: Any) -> str | None:
    """LangSmith's rule, written again: the first of these metadata keys with a value."""
    meta = extra.get("metadata") if isinstance(extra, dict) else None
    for key in ("session_id", "thread_id", "conversation_id"):
        if isinstance(meta, dict) and meta.get(key) not in (None, ""):
            return json_text(meta[key])
    return None


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
