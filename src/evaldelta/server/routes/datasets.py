"""Datasets: create, list, read, update, delete."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from evaldelta.errors import NotFound
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.models import Dataset, DatasetCreate, DatasetUpdate
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.store.base import DatasetWhere, Page

router = APIRouter(tags=["datasets"])


@router.post("/datasets", response_model=Dataset)
async def create_dataset(body: DatasetCreate, tenant: Tenant, writer: WriterDep) -> Any:
    row = body.model_dump()
    return await writer.call(lambda s: s.write_dataset(tenant, row))


@router.get("/datasets", response_model=list[Dataset])
def list_datasets(
    tenant: Tenant,
    store: StoreDep,
    id: Annotated[list[UUID] | None, Query()] = None,
    name: str | None = None,
    name_contains: str | None = None,
    data_type: Annotated[list[str] | None, Query()] = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    where = DatasetWhere(ids=id, name=name, name_contains=name_contains, data_type=data_type)
    return store.list_datasets(tenant, where, Page(offset, limit))


@router.get("/datasets/{dataset_id}", response_model=Dataset)
def read_dataset(dataset_id: UUID, tenant: Tenant, store: StoreDep) -> Any:
    found = store.get_dataset(tenant, dataset_id)
    if found is None:
        raise NotFound(f"Dataset {dataset_id} not found")
    return found


@router.patch("/datasets/{dataset_id}", response_model=Dataset)
async def update_dataset(
    dataset_id: UUID, body: DatasetUpdate, tenant: Tenant, writer: WriterDep
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    return await writer.call(lambda s: s.write_dataset_update(tenant, dataset_id, changes))


@router.delete("/datasets/{dataset_id}")
async def delete_dataset(dataset_id: UUID, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    await writer.call(lambda s: s.write_dataset_delete(tenant, dataset_id))
    return {"message": "deleted"}


async def require_dataset(store: StoreDep, tenant: UUID, dataset_id: UUID) -> dict[str, Any]:
    """The dataset, or 404 (also when it belongs to another tenant)."""
    found = await run_in_threadpool(store.get_dataset, tenant, dataset_id)
    if found is None:
        raise NotFound(f"Dataset {dataset_id} not found")
    return found
