"""Sessions (LangSmith's tracing projects; an experiment is one with a reference dataset)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from evaldelta.errors import NotFound
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.models import Session, SessionCreate, SessionUpdate
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.store.base import Page, SessionWhere

router = APIRouter(tags=["sessions"])


@router.post("/sessions", response_model=Session)
async def create_session(
    body: SessionCreate, tenant: Tenant, writer: WriterDep, upsert: bool = False
) -> Any:
    row = body.model_dump()
    return await writer.call(lambda s: s.write_session(tenant, row, upsert=upsert))


@router.get("/sessions", response_model=list[Session])
def list_sessions(
    tenant: Tenant,
    store: StoreDep,
    id: Annotated[list[UUID] | None, Query()] = None,
    name: str | None = None,
    name_contains: str | None = None,
    reference_dataset: Annotated[list[UUID] | None, Query()] = None,
    reference_free: bool | None = None,
    sort_by: Literal["name", "start_time"] = "start_time",
    sort_by_desc: bool = True,
    include_stats: bool = False,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    where = SessionWhere(
        ids=id,
        name=name,
        name_contains=name_contains,
        reference_dataset=reference_dataset,
        reference_free=reference_free,
        sort_by=sort_by,
        sort_desc=sort_by_desc,
    )
    return store.list_sessions(tenant, where, Page(offset, limit), stats=include_stats)


@router.get("/sessions/{session_id}", response_model=Session)
def read_session(
    session_id: UUID, tenant: Tenant, store: StoreDep, include_stats: bool = False
) -> Any:
    found = store.get_session(tenant, session_id, stats=include_stats)
    if found is None:
        raise NotFound(f"Session {session_id} not found")
    return found


@router.patch("/sessions/{session_id}", response_model=Session)
async def update_session(
    session_id: UUID, body: SessionUpdate, tenant: Tenant, writer: WriterDep
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    return await writer.call(lambda s: s.write_session_update(tenant, session_id, changes))


@router.delete("/sessions/{session_id}")
async def delete_session(session_id: UUID, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    await writer.call(lambda s: s.write_session_delete(tenant, session_id))
    return {"message": "deleted"}
