"""Feedback and feedback configs."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response

from evaldelta.errors import Invalid, NotFound
from evaldelta.ingest.records import feedback_rows, score_columns
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.feedback_categories import changed_categories
from evaldelta.server.models import (
    Feedback,
    FeedbackConfigCreate,
    FeedbackConfigOut,
    FeedbackConfigUpdate,
    FeedbackCreate,
    FeedbackUpdate,
)
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.store.base import FeedbackWhere, IngestBatch, Page, Row, Store

router = APIRouter(tags=["feedback"])


@router.post("/feedback", response_model=Feedback)
async def create_feedback(body: FeedbackCreate, tenant: Tenant, writer: WriterDep) -> Any:
    """Store feedback, whether or not its run has arrived yet (it counts once it does)."""
    row = feedback_rows([body.model_dump()], loc=["body"])[0]
    await writer.ingest(IngestBatch(tenant, feedback=[row]))
    out = dict(row)
    if out.pop("score_is_bool") and out["score"] is not None:
        out["score"] = bool(out["score"])
    return out


@router.get("/feedback", response_model=list[Feedback])
def list_feedback(
    tenant: Tenant,
    store: StoreDep,
    run: Annotated[list[UUID] | None, Query()] = None,
    key: Annotated[list[str] | None, Query()] = None,
    session: Annotated[list[UUID] | None, Query()] = None,
    source: Annotated[list[Literal["api", "model", "app", "auto_eval"]] | None, Query()] = None,
    has_comment: bool | None = None,
    has_score: bool | None = None,
    level: Literal["run", "session"] | None = None,
    comparative_experiment_id: UUID | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    where = FeedbackWhere(
        run=run,
        key=key,
        session=session,
        source=source,
        has_comment=has_comment,
        has_score=has_score,
        level=level,
        comparative_experiment_id=comparative_experiment_id,
    )
    return store.list_feedback(tenant, where, Page(offset, limit))


@router.get("/feedback/{feedback_id}", response_model=Feedback)
def read_feedback(feedback_id: UUID, tenant: Tenant, store: StoreDep) -> Any:
    found = store.get_feedback(tenant, feedback_id)
    if found is None:
        raise NotFound(f"Feedback {feedback_id} not found")
    return found


@router.patch("/feedback/{feedback_id}", response_model=Feedback)
async def update_feedback(
    feedback_id: UUID, body: FeedbackUpdate, tenant: Tenant, writer: WriterDep
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    if "score" in changes:
        changes.update(score_columns(body.score))
    return await writer.call(lambda s: s.write_feedback_update(tenant, feedback_id, changes))


@router.delete("/feedback/{feedback_id}")
async def delete_feedback(feedback_id: UUID, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    await writer.call(lambda s: s.write_feedback_delete(tenant, feedback_id))
    return {"message": "deleted"}


@router.get("/feedback-configs", response_model=list[FeedbackConfigOut])
def list_feedback_configs(
    tenant: Tenant,
    store: StoreDep,
    key: Annotated[list[str] | None, Query(max_length=50)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    rows = store.list_feedback_configs(tenant, key, Page(offset, limit))
    return [{**r, "tenant_id": tenant} for r in rows]


@router.post("/feedback-configs", response_model=FeedbackConfigOut)
async def create_feedback_config(
    body: FeedbackConfigCreate, tenant: Tenant, writer: WriterDep
) -> Any:
    """Create or replace the config of a key, e.g. to say lower scores are better."""
    row = body.model_dump()
    out = await writer.call(lambda s: s.write_feedback_config(tenant, row))
    return {**out, "tenant_id": tenant}


@router.patch("/feedback-configs", response_model=FeedbackConfigOut)
async def update_feedback_config(
    body: FeedbackConfigUpdate, tenant: Tenant, writer: WriterDep
) -> Any:
    if body.id is not None:
        raise Invalid("a key has one config: address it by feedback_key", loc=["body", "id"])
    row = body.model_dump(exclude={"add_categories", "remove_categories", "id"})
    add = [c.model_dump() for c in body.add_categories or []]
    remove = body.remove_categories or []

    def apply(store: Store) -> Row:
        if add or remove:
            found = store.list_feedback_configs(tenant, [body.feedback_key], Page(0, 1))
            if not found:
                raise NotFound(f"Feedback config {body.feedback_key!r} not found")
            config = row["feedback_config"] or found[0]["feedback_config"]
            row["feedback_config"] = changed_categories(config, add, remove)
        return store.write_feedback_config(tenant, row)

    out = await writer.call(apply)
    return {**out, "tenant_id": tenant}


@router.delete("/feedback-configs", status_code=204)
async def delete_feedback_config(feedback_key: str, tenant: Tenant, writer: WriterDep) -> Response:
    await writer.call(lambda s: s.write_feedback_config_delete(tenant, feedback_key))
    return Response(status_code=204)
