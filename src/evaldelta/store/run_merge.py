"""The store-neutral rules that turn a run's posts and patches into one stored row.

Runs arrive as posts and patches in any order, merged or split, and sometimes twice.  The
merge rule: a patch's fields win over a post's, whatever the order they arrive in, so a
late post (``outputs: {}``) never erases a patch's outputs.  ``patched_fields`` remembers
which fields came from a patch, so a later batch keeps honouring them.  Both stores (and
the ClickHouse bulk path) build their run rows with these functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from evaldelta.store.base import Row, RunOp
from evaldelta.store.sqlrows import dump_json
from evaldelta.store.threads import thread_id_of

RUN_COLUMNS = [
    "tenant_id",
    "id",
    "session_id",
    "name",
    "run_type",
    "status",
    "start_time",
    "end_time",
    "trace_id",
    "dotted_order",
    "parent_run_id",
    "is_root",
    "reference_example_id",
    "inputs",
    "outputs",
    "extra",
    "error",
    "events",
    "tags",
    "serialized",
    "total_tokens",
    "prompt_tokens",
    "completion_tokens",
    "total_cost",
    "prompt_cost",
    "completion_cost",
    "first_token_time",
    "patched_fields",
    "thread_id",
]
RUN_JSON = {"inputs", "outputs", "extra", "events", "serialized"}


def now() -> datetime:
    """The server's clock, timezone-aware (UTC)."""
    return datetime.now(UTC)


def merge_op(state: Row, op: RunOp, patched: set[str]) -> None:
    """Merge one post or patch into ``state``; ``patched`` collects the patched field names.

    A patch always overwrites; a post only fills fields no patch has set.
    """
    for name, value in op.fields.items():
        if op.kind == "patch":
            state[name] = value
            patched.add(name)
        elif name not in patched:
            state[name] = value


def finish_run(tenant_id: UUID, state: Row, patched: set[str]) -> Row:
    """Fill defaults and derived columns of a merged run; JSON columns come back as text."""
    run_id = state["id"]
    state["tenant_id"] = tenant_id
    state.setdefault("name", "Unnamed")
    state.setdefault("run_type", "chain")
    state.setdefault("start_time", state.get("end_time") or now())
    state.setdefault("trace_id", run_id if state.get("parent_run_id") is None else None)
    if state.get("trace_id") is None:
        state["trace_id"] = run_id
    state.setdefault("dotted_order", "")
    state["is_root"] = state.get("parent_run_id") is None
    if state.get("error"):
        state["status"] = "error"
    elif state.get("end_time"):
        state["status"] = "success"
    else:
        state["status"] = "pending"
    state["patched_fields"] = sorted(patched)
    # Derived on every write: a patch that sets the metadata moves the run to its thread.
    state["thread_id"] = thread_id_of(state.get("extra"))
    return {c: (dump_json(state.get(c)) if c in RUN_JSON else state.get(c)) for c in RUN_COLUMNS}
