"""Feedback deltas: ``/datasets/{id}/runs/delta`` (one key, paged) and its stream."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from evaldelta.delta.engine import compute_key, plain_lists, prepare, stream_deltas
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep
from evaldelta.server.event_stream import EventStreamResponse
from evaldelta.server.models import DeltaQueryBody, DeltaStreamQuery, SessionFeedbackDelta
from evaldelta.server.stream_limits import StreamRegistry, StreamsDep
from evaldelta.store.base import Page, Store

router = APIRouter(tags=["datasets"])


@router.post(
    "/datasets/{dataset_id}/runs/delta",
    response_model=SessionFeedbackDelta,
    response_model_exclude_unset=True,  # without include_stats, exactly LangSmith's shape
)
def read_delta(dataset_id: UUID, body: DeltaQueryBody, tenant: Tenant, store: StoreDep) -> Any:
    """Improved and regressed examples for one key. ``offset``/``limit`` page over the
    dataset's examples in creation order (then id): a page's lists hold the examples of
    that window that improved or regressed."""
    return delta_page(store, tenant, dataset_id, body)


def delta_page(store: Store, tenant: UUID, dataset_id: UUID, body: DeltaQueryBody) -> Any:
    """One key's delta over a page of the dataset's examples: what ``/runs/delta`` and its
    public twin (``routes/public.py``) answer."""
    query = prepare(
        store,
        tenant,
        dataset_id,
        body.baseline_session_id,
        body.comparison_session_ids,
        [body.feedback_key],
        body.filters,
        body.comparative_experiment_id,
    )
    lower = body.feedback_key in store.lower_is_better(tenant, [body.feedback_key])
    deltas = compute_key(
        store,
        query,
        body.feedback_key,
        lower,
        Page(body.offset, body.limit),
        include_stats=body.include_stats,
    )
    return {"feedback_deltas": plain_lists(deltas)}


TOO_MANY_STREAMS = {
    "description": "The tenant holds its limit of open delta streams: retry after the"
    " Retry-After header's seconds",
    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
        }
    },
}


@router.post(
    "/datasets/{dataset_id}/runs/delta/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, 429: TOO_MANY_STREAMS},
)
async def read_delta_stream(
    dataset_id: UUID, body: DeltaStreamQuery, tenant: Tenant, store: StoreDep, streams: StreamsDep
) -> StreamingResponse:
    """Server-Sent Events: one ``data`` event per feedback key as it is computed, each
    ``{"feedback_deltas": {key: {session: {improved_examples, regressed_examples}}},
    "errors": null}``, then one ``end`` event.  A tenant may hold a limited number of
    streams at once (429 with ``Retry-After`` beyond it); a stream that runs too long or
    is open when the server shuts down ends early, the keys not sent named in band."""
    return await delta_stream(store, streams, tenant, dataset_id, body)


async def delta_stream(
    store: Store, streams: StreamRegistry, tenant: UUID, dataset_id: UUID, body: DeltaStreamQuery
) -> StreamingResponse:
    """The delta stream of ``/runs/delta/stream`` and of its public twin: everything is
    checked (a 404, a 422, the tenant's 429) before the response, and so before its first
    byte."""
    query = await run_in_threadpool(
        prepare,
        store,
        tenant,
        dataset_id,
        body.baseline_session_id,
        body.comparison_session_ids,
        body.feedback_keys,
        body.filters,
        body.comparative_experiment_id,
    )
    slot = streams.acquire(tenant)  # the 429, if any, before the first byte
    try:
        events = stream_deltas(
            store, query, include_stats=body.include_stats, run=streams.cutoff().run
        )
        return EventStreamResponse(
            events, slot=slot, stall_seconds=streams.limits.stream_stall_seconds
        )
    except BaseException:
        slot.release()
        raise
