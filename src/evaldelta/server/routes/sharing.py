"""Sharing datasets and runs: ``PUT``/``GET``/``DELETE`` ``/datasets/{id}/share`` and
``/runs/{id}/share``, as the SDK's ``share_dataset``, ``read_dataset_shared_schema``,
``unshare_dataset``, ``share_run``, ``run_is_shared`` and ``unshare_run`` call them.

A share token is read without a key by the public routes (``routes/public.py``); see
docs/sharing.md.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Depends

from evaldelta.errors import Invalid, NotFound
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.query import declared_query_only
from evaldelta.server.schemas.sharing import (
    DatasetShareRequest,
    DatasetShareSchema,
    RunShareRequest,
    RunShareSchema,
)
from evaldelta.store.base import Row, Store

router = APIRouter(tags=["sharing"], dependencies=[Depends(declared_query_only)])

UNSHARED = {"message": "unshared"}


def _same_id(given: UUID | None, path_id: UUID, field: str) -> None:
    if given is not None and given != path_id:
        raise Invalid(f"{field} must be the {field.split('_')[0]} of the path", loc=["body", field])


def _dataset_share(row: Row) -> dict[str, Any]:
    return {"dataset_id": row["target_id"], "share_token": row["share_token"]}


def _run_share(row: Row) -> dict[str, Any]:
    return {"run_id": row["target_id"], "share_token": row["share_token"]}


@router.put("/datasets/{dataset_id}/share", response_model=DatasetShareSchema)
async def share_dataset(
    dataset_id: UUID,
    tenant: Tenant,
    writer: WriterDep,
    body: DatasetShareRequest | None = None,
    share_projects: bool = False,
) -> Any:
    """Share the dataset: anyone with the answer's ``share_token`` reads it, its examples
    and, with ``share_projects``, its experiments and their deltas, without a key.  A
    dataset already shared keeps its token (``share_projects`` is set as now asked)."""
    _same_id(body.dataset_id if body else None, dataset_id, "dataset_id")

    def apply(store: Store) -> Row:
        if not store.has_dataset(tenant, dataset_id):
            raise NotFound(f"Dataset {dataset_id} not found")
        return store.write_share(
            tenant, "dataset", dataset_id, token=uuid4(), share_projects=share_projects
        )

    return _dataset_share(await writer.call(apply))


@router.get("/datasets/{dataset_id}/share", response_model=DatasetShareSchema | None)
def read_dataset_share(dataset_id: UUID, tenant: Tenant, store: StoreDep) -> Any:
    """The dataset's share token, or null when it is not shared."""
    if not store.has_dataset(tenant, dataset_id):
        raise NotFound(f"Dataset {dataset_id} not found")
    found = store.get_share(tenant, "dataset", dataset_id)
    return None if found is None else _dataset_share(found)


@router.delete("/datasets/{dataset_id}/share")
async def unshare_dataset(dataset_id: UUID, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    """Stop sharing the dataset: its token reads nothing from now on (a dataset that is
    not shared is left as it is)."""

    def apply(store: Store) -> None:
        if not store.has_dataset(tenant, dataset_id):
            raise NotFound(f"Dataset {dataset_id} not found")
        store.write_unshare(tenant, "dataset", dataset_id)

    await writer.call(apply)
    return UNSHARED


@router.put("/runs/{run_id}/share", response_model=RunShareSchema)
async def share_run(
    run_id: UUID, tenant: Tenant, writer: WriterDep, body: RunShareRequest | None = None
) -> Any:
    """Share the run and the runs below it in its trace.  A run not yet shared takes the
    body's ``share_token`` (a random, version 4 UUID, as the SDK makes) or a new one; a
    run already shared keeps its token."""
    _same_id(body.run_id if body else None, run_id, "run_id")
    token = body.share_token if body and body.share_token else uuid4()
    if token.version != 4:
        raise Invalid("share_token must be a random (version 4) UUID", loc=["body", "share_token"])

    def apply(store: Store) -> Row:
        if store.get_run(tenant, run_id) is None:
            raise NotFound(f"Run {run_id} not found")
        return store.write_share(tenant, "run", run_id, token=token, share_projects=False)

    return _run_share(await writer.call(apply))


@router.get("/runs/{run_id}/share", response_model=RunShareSchema | None)
def read_run_share(run_id: UUID, tenant: Tenant, store: StoreDep) -> Any:
    """The run's share token, or null when it is not shared."""
    if store.get_run(tenant, run_id) is None:
        raise NotFound(f"Run {run_id} not found")
    found = store.get_share(tenant, "run", run_id)
    return None if found is None else _run_share(found)


@router.delete("/runs/{run_id}/share")
async def unshare_run(run_id: UUID, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    """Stop sharing the run: its token reads nothing from now on."""

    def apply(store: Store) -> None:
        if store.get_run(tenant, run_id) is None:
            raise NotFound(f"Run {run_id} not found")
        store.write_unshare(tenant, "run", run_id)

    await writer.call(apply)
    return UNSHARED
