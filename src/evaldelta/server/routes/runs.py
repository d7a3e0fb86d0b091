"""Runs: the SDK's ingest paths (multipart, batch, single) and the reads around them."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Request

from evaldelta.delta.filters.compiler import FilterError, compile_filter, parse_filter
from evaldelta.errors import Invalid, NotFound
from evaldelta.ingest.multipart import group_run_parts, parse_multipart
from evaldelta.ingest.records import feedback_rows, run_ops
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.models import Run, RunsPage, RunsQuery
from evaldelta.server.routes.body import read_body
from evaldelta.store.base import IngestBatch, RunWhere
from evaldelta.store.dialect import Dialect

router = APIRouter(tags=["runs"])

ACCEPTED = {"message": "Runs batch ingested"}


def _body_doc(media_type: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI request body for a route that reads its raw body itself (to decompress
    it, or to parse it faster than a model would)."""
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


RUN = {"type": "object", "description": "A run's fields, as the SDK sends them."}
MULTIPART_RUNS = _body_doc(
    "multipart/form-data",
    {
        "type": "object",
        "description": (
            "Parts named post.<run id> and patch.<run id> (a JSON object of the run's fields),"
            " post.<run id>.<field> and patch.<run id>.<field> for inputs, outputs, events,"
            " extra, error and serialized (JSON), and feedback.<feedback id> (a JSON object);"
            " optionally compressed as a whole (Content-Encoding zstd or gzip)."
        ),
        "additionalProperties": {"type": "string", "format": "binary"},
    },
)
BATCH_RUNS = _body_doc(
    "application/json",
    {
        "type": "object",
        "properties": {
            "post": {"type": ["array", "null"], "items": RUN},
            "patch": {"type": ["array", "null"], "items": RUN},
        },
    },
)
ONE_RUN = _body_doc("application/json", RUN)


@router.post("/runs/multipart", status_code=202, openapi_extra=MULTIPART_RUNS)
async def ingest_multipart(request: Request, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    """Runs and feedback as ``post.<id>``, ``patch.<id>``, ``feedback.<id>`` parts,
    optionally zstd- or gzip-compressed as a whole."""
    body = await read_body(request)
    content_type = request.headers.get("content-type", "")
    # Parsing a big body holds the GIL for tens of milliseconds: in a worker thread it
    # costs the same CPU, but the event loop gets its turns in between (the GIL switches
    # every few milliseconds) and other requests are not stalled behind it.  The writer
    # meanwhile knows the request is coming and can commit it with others.
    await writer.ingest_parsed(lambda: multipart_batch(tenant, body, content_type))
    return ACCEPTED


def multipart_batch(tenant: UUID, body: bytes, content_type: str) -> IngestBatch:
    """The validated runs and feedback of a decoded ``/runs/multipart`` body."""
    grouped = group_run_parts(parse_multipart(body, content_type))
    batch = IngestBatch(tenant)
    batch.run_ops += run_ops("post", grouped.posts, loc=["body", "post"])
    batch.run_ops += run_ops("patch", grouped.patches, loc=["body", "patch"])
    batch.feedback += feedback_rows(grouped.feedback, loc=["body", "feedback"])
    return batch


def _loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise Invalid(f"body is not valid JSON: {err}", loc=["body"]) from err


async def _json_body(request: Request) -> Any:
    return _loads(await read_body(request))


@router.post("/runs/batch", status_code=202, openapi_extra=BATCH_RUNS)
async def ingest_batch(request: Request, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    """``{"post": [...], "patch": [...]}`` as JSON (the SDK's non-multipart path)."""
    body = await read_body(request)
    await writer.ingest_parsed(lambda: json_batch(tenant, body))
    return ACCEPTED


def json_batch(tenant: UUID, body: bytes) -> IngestBatch:
    """The validated runs of a decoded ``/runs/batch`` body."""
    data = _loads(body)
    if not isinstance(data, dict):
        raise Invalid("body must be an object with 'post' and/or 'patch' lists", loc=["body"])
    batch = IngestBatch(tenant)
    for kind in ("post", "patch"):
        items = data.get(kind)
        if items is None:
            continue
        if not isinstance(items, list):
            raise Invalid(f"'{kind}' must be a list", loc=["body", kind])
        batch.run_ops += run_ops(kind, items, loc=["body", kind])
    return batch


@router.post("/runs", status_code=202, openapi_extra=ONE_RUN)
async def create_run(request: Request, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    data = await _json_body(request)
    await writer.ingest(IngestBatch(tenant, run_ops=run_ops("post", [data], loc=["body"])))
    return {"message": "Run created"}


@router.patch("/runs/{run_id}", status_code=202, openapi_extra=ONE_RUN)
async def update_run(
    run_id: UUID, request: Request, tenant: Tenant, writer: WriterDep
) -> dict[str, str]:
    data = await _json_body(request)
    if not isinstance(data, dict):
        raise Invalid("body must be a JSON object", loc=["body"])
    data["id"] = str(run_id)
    await writer.ingest(IngestBatch(tenant, run_ops=run_ops("patch", [data], loc=["body"])))
    return {"message": "Run updated"}


@router.get("/runs/{run_id}", response_model=Run)
def read_run(run_id: UUID, tenant: Tenant, store: StoreDep) -> Any:
    found = store.get_run(tenant, run_id)
    if found is None:
        raise NotFound(f"Run {run_id} not found")
    return found


def _compile(
    text: str | None, field: str, wrap: str | None, dialect: Dialect
) -> tuple[str, list[Any]] | None:
    if not text:
        return None
    try:
        expr = parse_filter(text)
        sql, params = compile_filter(expr, dialect=dialect, run_alias="r" if wrap is None else "t")
    except FilterError as err:
        raise Invalid(f"invalid {field}: {err}", loc=["body", field]) from err
    if wrap is None:
        return sql, params
    return wrap.format(sql), params


# trace_filter: the trace's root run must match; tree_filter: some run of the trace must.
TRACE_WRAP = (
    "EXISTS (SELECT 1 FROM runs t WHERE t.tenant_id = r.tenant_id AND t.id = r.trace_id AND ({}))"
)
TREE_WRAP = (
    "EXISTS (SELECT 1 FROM runs t WHERE t.tenant_id = r.tenant_id"
    " AND t.trace_id = r.trace_id AND ({}))"
)


@router.post("/runs/query", response_model=RunsPage)
def query_runs(body: RunsQuery, tenant: Tenant, store: StoreDep) -> Any:
    """Runs matching the body's fields and filters, one page at a time (``cursors.next``)."""
    compiled = [
        c
        for c in (
            _compile(body.filter, "filter", None, store.filter_dialect),
            _compile(body.trace_filter, "trace_filter", TRACE_WRAP, store.filter_dialect),
            _compile(body.tree_filter, "tree_filter", TREE_WRAP, store.filter_dialect),
        )
        if c is not None
    ]
    filter_sql = None
    if compiled:
        filter_sql = (
            " AND ".join(f"({sql})" for sql, _ in compiled),
            [p for _, params in compiled for p in params],
        )
    where = RunWhere(
        ids=body.id,
        session=body.session,
        reference_example=body.reference_example,
        trace=body.trace,
        parent_run=body.parent_run,
        run_type=body.run_type,
        is_root=True if body.execution_order == 1 else body.is_root,
        error=body.error,
        start_time=body.start_time,
        end_time=body.end_time,
    )
    runs, next_cursor = store.query_runs(
        tenant, where, filter_sql, body.cursor, body.limit, body.order
    )
    if body.select is not None:
        runs = [selected(run, body.select) for run in runs]
    return {"runs": runs, "cursors": {"next": next_cursor}}


# What every run of a page carries, selected or not: the fields the SDK's run requires.
ALWAYS = frozenset(
    ("id", "name", "run_type", "start_time", "status", "trace_id", "dotted_order", "session_id")
)


def selected(run: dict[str, Any], select: list[str]) -> dict[str, Any]:
    """``select``: the run with only the fields named (and those always sent); the others
    come back empty.  Names of fields evaldelta does not keep select nothing."""
    keep = ALWAYS | set(select)
    return {name: value for name, value in run.items() if name in keep}
