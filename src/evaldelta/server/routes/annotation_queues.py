"""Annotation queues: queues of runs for people to review, with a rubric.

The SDK's ``create_annotation_queue``, ``list_annotation_queues``,
``read_annotation_queue``, ``update_annotation_queue`` and ``delete_annotation_queue`` call
these routes; their runs are in ``annotation_queue_runs`` (docs/annotation-queues.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query

from evaldelta.errors import Invalid, NotFound
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.query import declared_query_only
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.server.schemas.annotation_queues import (
    AnnotationQueueWithRubric,
    AnnotationQueueWithSize,
    QueueCreate,
    QueueFields,
    QueueUpdate,
    stored_rubric,
)
from evaldelta.store.base import Page, QueueWhere, Row, Store

router = APIRouter(tags=["annotation queues"], dependencies=[Depends(declared_query_only)])


def _refuse_unsupported(body: QueueFields, session_ids: list[UUID] | None = None) -> None:
    """Settings of LangSmith's queues that this server does not serve: a 422 naming each."""
    refused = {
        "enable_reservations": body.enable_reservations is True,
        "reservation_minutes": body.reservation_minutes is not None,
        "reviewer_access_mode": body.reviewer_access_mode == "assigned",
        "session_ids": bool(session_ids),
    }
    for name, given in refused.items():
        if given:
            raise Invalid(f"{name} is not supported by this server", loc=["body", name])
    for i, item in enumerate(body.rubric_items or []):
        if item.feedback_config_id is not None:
            loc: list[str | int] = ["body", "rubric_items", i, "feedback_config_id"]
            raise Invalid("feedback_config_id is not supported (a key has one config)", loc=loc)


def _fields(body: QueueFields, *, unset_as_none: bool) -> Row:
    """The stored fields a body gives."""
    row = body.model_dump(exclude={"rubric_items", "session_ids"})
    row["rubric_items"] = stored_rubric(body.rubric_items)
    return row if unset_as_none else {k: v for k, v in row.items() if v is not None}


def _with_configs(store: Store, tenant: UUID, queue: Row) -> Row:
    """The queue with each rubric item's feedback config (its key's), as LangSmith reads it."""
    items = queue.get("rubric_items") or []
    keys = [i["feedback_key"] for i in items]
    configs = {
        c["feedback_key"]: {**c, "tenant_id": tenant}
        for c in (store.list_feedback_configs(tenant, keys, Page(0, len(keys))) if keys else [])
    }
    rubric = [{**i, "feedback_config": configs.get(i["feedback_key"])} for i in items]
    return {**queue, "rubric_items": rubric if queue.get("rubric_items") is not None else None}


QueueId = Annotated[UUID, Path()]


# --- queues -----------------------------------------------------------------------------


@router.get("/annotation-queues", response_model=list[AnnotationQueueWithSize])
def list_annotation_queues(
    tenant: Tenant,
    store: StoreDep,
    ids: Annotated[list[UUID] | None, Query()] = None,
    name: str | None = None,
    name_contains: str | None = None,
    dataset_id: UUID | None = None,
    queue_type: Literal["single", "pairwise"] | None = None,
    sort_by: Literal["name", "created_at", "updated_at"] = "created_at",
    sort_by_desc: bool = True,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """The caller's queues, newest first, each with its number of runs; ``dataset_id``
    keeps the queues whose ``default_dataset`` it is."""
    where = QueueWhere(ids, name, name_contains, dataset_id, queue_type, sort_by, sort_by_desc)
    return store.list_annotation_queues(tenant, where, Page(offset, limit))


@router.post("/annotation-queues", response_model=AnnotationQueueWithRubric)
async def create_annotation_queue(
    body: QueueCreate, tenant: Tenant, store: StoreDep, writer: WriterDep
) -> Any:
    """A new queue (its rubric: the feedback keys a reviewer scores)."""
    _refuse_unsupported(body, body.session_ids)
    row = {**_fields(body, unset_as_none=True), "name": body.name, "id": body.id}
    row |= {"created_at": body.created_at, "updated_at": body.updated_at}
    out = await writer.call(lambda s: s.write_annotation_queue(tenant, row))
    return _with_configs(store, tenant, out)


@router.delete("/annotation-queues")
async def delete_annotation_queues(
    tenant: Tenant,
    writer: WriterDep,
    queue_ids: Annotated[list[UUID], Query(min_length=1, max_length=100)],
) -> dict[str, str]:
    """Delete several queues (each must be the caller's: a 404 names the first that is not,
    and then none is deleted)."""

    def work(s: Store) -> None:
        for queue_id in queue_ids:
            if s.get_annotation_queue(tenant, queue_id) is None:
                raise NotFound(f"Annotation queue {queue_id} not found")
        for queue_id in dict.fromkeys(queue_ids):
            s.write_annotation_queue_delete(tenant, queue_id)

    await writer.call(work)
    return {"message": "deleted"}


@router.get("/annotation-queues/{queue_id}", response_model=AnnotationQueueWithRubric)
def read_annotation_queue(queue_id: QueueId, tenant: Tenant, store: StoreDep) -> Any:
    found = store.get_annotation_queue(tenant, queue_id)
    if found is None:
        raise NotFound(f"Annotation queue {queue_id} not found")
    return _with_configs(store, tenant, found)


@router.patch("/annotation-queues/{queue_id}", response_model=AnnotationQueueWithRubric)
async def update_annotation_queue(
    queue_id: QueueId, body: QueueUpdate, tenant: Tenant, store: StoreDep, writer: WriterDep
) -> Any:
    """Change the fields given; ``rubric_items`` replaces the rubric."""
    _refuse_unsupported(body)
    changes = {**_fields(body, unset_as_none=False), "name": body.name}
    out = await writer.call(lambda s: s.write_annotation_queue_update(tenant, queue_id, changes))
    return _with_configs(store, tenant, out)


@router.delete("/annotation-queues/{queue_id}")
async def delete_annotation_queue(
    queue_id: QueueId, tenant: Tenant, writer: WriterDep
) -> dict[str, str]:
    """Delete a queue and its items (the runs and their feedback stay)."""
    await writer.call(lambda s: s.write_annotation_queue_delete(tenant, queue_id))
    return {"message": "deleted"}
