"""The runs of annotation queues: added by id or by key, listed with the caller's review
status, read at an index, marked reviewed, taken out; and who reviewed what.

A reviewer marks an item done with ``PATCH .../runs/{queue_run_id}`` (``last_reviewed_time``)
or ``POST /annotation-queues/status/{queue_run_id}``; ``GET .../reviews`` (evaldelta's own)
says who reviewed which run, with the feedback it has on the rubric's keys
(docs/annotation-queues.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Path
from pydantic import Field

from evaldelta.errors import NotFound
from evaldelta.server.auth import Reviewer, Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.query import declared_query_only
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.server.schemas.annotation_queues import (
    AddRun,
    AddRunByKey,
    AnnotationQueueWithSize,
    QueueReview,
    QueueRun,
    QueueRunStatus,
    QueueRunUpdate,
    QueueSize,
    RunWithQueueInfo,
)
from evaldelta.store.base import Page, Row

router = APIRouter(tags=["annotation queues"], dependencies=[Depends(declared_query_only)])

QueueId = Annotated[UUID, Path()]
Status = Literal["needs_my_review", "needs_others_review", "completed"]
MAX_RUNS = 1000  # runs per add request
RunIds = Annotated[list[UUID], Field(max_length=MAX_RUNS)]
RunRefs = Annotated[list[AddRun], Field(max_length=MAX_RUNS)]
RunKeys = Annotated[list[AddRunByKey], Field(max_length=MAX_RUNS)]


def _run_rows(runs: list[UUID] | list[AddRun] | list[AddRunByKey]) -> list[Row]:
    return [{"run_id": r} if isinstance(r, UUID) else r.model_dump() for r in runs]


@router.post("/annotation-queues/status/{annotation_queue_run_id}", response_model=QueueRun)
async def set_queue_run_status(
    annotation_queue_run_id: UUID,
    body: QueueRunStatus,
    tenant: Tenant,
    reviewer: Reviewer,
    writer: WriterDep,
) -> Any:
    """The caller's status on a queue item: ``completed`` marks it reviewed by them."""
    return await writer.call(
        lambda s: s.write_annotation_queue_status(
            tenant, annotation_queue_run_id, body.status, body.override_added_at, reviewer
        )
    )


@router.post("/annotation-queues/{queue_id}/runs", response_model=list[QueueRun])
async def add_runs_to_annotation_queue(
    queue_id: QueueId,
    tenant: Tenant,
    writer: WriterDep,
    runs: Annotated[RunIds | RunRefs, Body()],
) -> Any:
    """Add runs by id, in order; a run already in the queue keeps its item.  A run that is
    not the caller's (unknown, or another tenant's) is a 404 and nothing is added."""
    rows = _run_rows(runs)
    return await writer.call(lambda s: s.write_annotation_queue_runs(tenant, queue_id, rows))


@router.post("/annotation-queues/{queue_id}/runs/by-key", response_model=list[QueueRun])
async def add_runs_to_annotation_queue_by_key(
    queue_id: QueueId,
    tenant: Tenant,
    writer: WriterDep,
    runs: Annotated[RunKeys, Body()],
) -> Any:
    """Add runs by their full key (id, session, start time), which must be the run's."""
    rows = _run_rows(runs)
    return await writer.call(lambda s: s.write_annotation_queue_runs(tenant, queue_id, rows))


@router.get("/annotation-queues/{queue_id}/runs", response_model=list[RunWithQueueInfo])
def list_runs_from_annotation_queue(
    queue_id: QueueId,
    tenant: Tenant,
    reviewer: Reviewer,
    store: StoreDep,
    status: Status | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """The queue's runs in the order they were added; ``status`` as the caller sees it."""
    return store.list_annotation_queue_runs(tenant, queue_id, reviewer, status, Page(offset, limit))


@router.get("/annotation-queues/{queue_id}/run/{index}", response_model=RunWithQueueInfo)
def get_run_from_annotation_queue(
    queue_id: QueueId,
    index: Annotated[int, Path(ge=0, le=2**63 - 1)],
    tenant: Tenant,
    reviewer: Reviewer,
    store: StoreDep,
    include_extra: bool = False,
) -> Any:
    """The queue's run at ``index`` (from 0, in the order runs were added); 404 past the
    end.  Its ``extra`` only with ``include_extra``."""
    found = store.list_annotation_queue_runs(
        tenant, queue_id, reviewer, None, Page(index, 1), include_extra=include_extra
    )
    if not found:
        raise NotFound(f"No run at index {index} of annotation queue {queue_id}")
    return found[0]


@router.get("/annotation-queues/{queue_id}/size", response_model=QueueSize)
def annotation_queue_size(
    queue_id: QueueId,
    tenant: Tenant,
    reviewer: Reviewer,
    store: StoreDep,
    status: Status | None = None,
) -> Any:
    return {"size": store.annotation_queue_size(tenant, queue_id, reviewer, status)}


@router.patch("/annotation-queues/{queue_id}/runs/{queue_run_id}", response_model=QueueRun)
async def update_run_in_annotation_queue(
    queue_id: QueueId,
    queue_run_id: UUID,
    body: QueueRunUpdate,
    tenant: Tenant,
    reviewer: Reviewer,
    writer: WriterDep,
) -> Any:
    """Mark an item reviewed (``last_reviewed_time``: by the caller, then) or move it
    (``added_at``).  The item is named by its id or by its run's id."""
    changes = body.model_dump(exclude_unset=True)
    return await writer.call(
        lambda s: s.write_annotation_queue_run_update(
            tenant, queue_id, queue_run_id, changes, reviewer
        )
    )


@router.delete("/annotation-queues/{queue_id}/runs/{queue_run_id}")
async def delete_run_from_annotation_queue(
    queue_id: QueueId, queue_run_id: UUID, tenant: Tenant, writer: WriterDep
) -> dict[str, str]:
    """Take one item out of the queue, named by its id or by its run's id (the SDK's
    ``delete_run_from_annotation_queue`` sends the run's); the run stays."""
    await writer.call(lambda s: s.write_annotation_queue_run_delete(tenant, queue_id, queue_run_id))
    return {"message": "deleted"}


@router.get("/annotation-queues/{queue_id}/reviews", response_model=list[QueueReview])
def list_annotation_queue_reviews(
    queue_id: QueueId,
    tenant: Tenant,
    store: StoreDep,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """Who reviewed what, newest first: each review's reviewer (their API key's prefix),
    status and time, with the feedback its run has on the queue's rubric keys."""
    return store.list_annotation_queue_reviews(tenant, queue_id, Page(offset, limit))


@router.get("/annotation-queues/{run_id}/queues", response_model=list[AnnotationQueueWithSize])
def annotation_queues_of_run(run_id: UUID, tenant: Tenant, store: StoreDep) -> Any:
    """The queues a run is in (a 404 if the run is not the caller's)."""
    return store.annotation_queues_of_run(tenant, run_id)
