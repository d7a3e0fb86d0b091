"""Dataset splits: list them, and move examples in and out of one (both routes the SDK's
``update_dataset_splits`` uses: LangSmith's bulk metadata route, then its older one)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends

from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.models import ExamplesMetadataUpdate, ExamplesUpdated, SplitsUpdate
from evaldelta.server.query import declared_query_only
from evaldelta.store.splits import SPLIT_KEY

router = APIRouter(tags=["examples"], dependencies=[Depends(declared_query_only)])
platform = APIRouter(tags=["examples"], dependencies=[Depends(declared_query_only)])


@router.get("/datasets/{dataset_id}/splits", response_model=list[str])
def list_splits(dataset_id: UUID, tenant: Tenant, store: StoreDep, as_of: str | None = None) -> Any:
    """The dataset's split names; ``as_of`` (a time or a tag) as of a version."""
    return store.list_splits(tenant, dataset_id, as_of)


@router.put("/datasets/{dataset_id}/splits", response_model=list[UUID])
async def update_splits(
    dataset_id: UUID, body: SplitsUpdate, tenant: Tenant, writer: WriterDep
) -> Any:
    operation = {
        "key": SPLIT_KEY,
        "operation": "array_remove" if body.remove else "array_add",
        "values": [body.split_name],
    }
    ids = body.examples
    return await writer.call(
        lambda s: s.write_examples_metadata(tenant, dataset_id, ids, [operation])
    )


@platform.patch("/platform/datasets/{dataset_id}/examples/metadata", response_model=ExamplesUpdated)
async def update_examples_metadata(
    dataset_id: UUID, body: ExamplesMetadataUpdate, tenant: Tenant, writer: WriterDep
) -> Any:
    ids = body.example_ids
    operations = [op.model_dump() for op in body.operations]
    updated = await writer.call(
        lambda s: s.write_examples_metadata(tenant, dataset_id, ids, operations)
    )
    return {"example_ids": updated, "count": len(updated)}
