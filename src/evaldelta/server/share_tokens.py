"""Share tokens on public requests: the token in the path, resolved to what it shares.

Public routes (``/public/{share_token}/…``) take no API key: the token is the capability,
and a key sent along is ignored (it neither widens nor narrows what the token reads).
Every way a token can fail to read something (unknown, never a token, unshared a moment
ago, a run's token used for a dataset, a dataset shared without its experiments, an object
outside what it shares) answers the same 404, so a failed guess learns nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends
from fastapi.concurrency import run_in_threadpool

from evaldelta.errors import NotFound
from evaldelta.server.deps import StoreDep
from evaldelta.store.base import Row

NOT_SHARED = "Not found, or not shared with this token"


def not_shared() -> NotFound:
    """The one 404 of every public route."""
    return NotFound(NOT_SHARED)


@dataclass(frozen=True)
class SharedDataset:
    """A dataset read through its share token."""

    tenant_id: UUID
    dataset_id: UUID
    share_projects: bool


@dataclass(frozen=True)
class SharedRun:
    """A run read through its share token: the run, and its tenant."""

    tenant_id: UUID
    run: Row


async def shared_dataset(share_token: UUID, store: StoreDep) -> SharedDataset:
    """The dataset ``share_token`` shares (read afresh on every request), or the 404."""
    row = await run_in_threadpool(store.share_by_token, share_token)
    if row is None or row["kind"] != "dataset":
        raise not_shared()
    tenant_id, dataset_id = row["tenant_id"], row["target_id"]
    if not await run_in_threadpool(store.has_dataset, tenant_id, dataset_id):
        raise not_shared()
    return SharedDataset(tenant_id, dataset_id, bool(row["share_projects"]))


async def shared_run(share_token: UUID, store: StoreDep) -> SharedRun:
    """The run ``share_token`` shares (read afresh on every request), or the 404."""
    row = await run_in_threadpool(store.share_by_token, share_token)
    if row is None or row["kind"] != "run":
        raise not_shared()
    run = await run_in_threadpool(store.get_run, row["tenant_id"], row["target_id"])
    if run is None:
        raise not_shared()
    return SharedRun(row["tenant_id"], run)


def in_shared_trace(shared: Row, run: Row) -> bool:
    """Whether ``run`` is the shared run or below it in its trace (a shared run shows its
    own subtree: sharing a root shares the whole trace, a child never its parents)."""
    prefix = str(shared["dotted_order"])
    order = str(run["dotted_order"])
    return run["trace_id"] == shared["trace_id"] and (
        order == prefix or order.startswith(prefix + ".")
    )


SharedDatasetDep = Annotated[SharedDataset, Depends(shared_dataset)]
SharedRunDep = Annotated[SharedRun, Depends(shared_run)]
