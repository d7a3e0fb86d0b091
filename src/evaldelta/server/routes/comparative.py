"""Comparative (pairwise) experiments: create, list (and read by ``id``), delete.

``evaluate((experiment_a, experiment_b), evaluators=[pairwise])`` creates one, then writes
each side's scores as feedback naming it; ``/runs/delta`` and its stream count that
feedback when given its id (docs/pairwise.md).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query

from evaldelta.errors import NotFound
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.models import (
    ComparativeExperiment,
    ComparativeExperimentBase,
    ComparativeExperimentCreate,
)
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.store.base import ComparativeWhere, Page
from evaldelta.store.comparative import public

router = APIRouter(tags=["comparative experiments"])


@router.post("/datasets/comparative", response_model=ComparativeExperimentBase)
async def create_comparative_experiment(
    body: ComparativeExperimentCreate, tenant: Tenant, writer: WriterDep
) -> Any:
    """Two or more experiments of one dataset, compared side by side.  Every experiment
    must be the caller's and run on the dataset (404 otherwise); without
    ``reference_dataset_id``, the first experiment's dataset."""
    row = body.model_dump()
    out = await writer.call(lambda s: s.write_comparative_experiment(tenant, row))
    return {**public(out), "tenant_id": tenant}


@router.get("/datasets/{dataset_id}/comparative", response_model=list[ComparativeExperiment])
def list_comparative_experiments(
    dataset_id: UUID,
    tenant: Tenant,
    store: StoreDep,
    name: str | None = None,
    name_contains: str | None = None,
    id: Annotated[list[UUID] | None, Query()] = None,
    sort_by: Literal["name", "created_at"] = "created_at",
    sort_by_desc: bool = True,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    if not store.has_dataset(tenant, dataset_id):
        raise NotFound(f"Dataset {dataset_id} not found")
    where = ComparativeWhere(
        dataset_id=dataset_id,
        ids=id,
        name=name,
        name_contains=name_contains,
        sort_by=sort_by,
        sort_desc=sort_by_desc,
    )
    rows = store.list_comparative_experiments(tenant, where, Page(offset, limit))
    return [{**public(r), "tenant_id": tenant} for r in rows]


@router.delete("/datasets/comparative/{comparative_experiment_id}")
async def delete_comparative_experiment(
    comparative_experiment_id: UUID, tenant: Tenant, writer: WriterDep
) -> dict[str, str]:
    await writer.call(
        lambda s: s.write_comparative_experiment_delete(tenant, comparative_experiment_id)
    )
    return {"message": "deleted"}
