"""Dataset versions: list them, read one by time or tag, tag one, and diff two.

Every change to a dataset's examples is a version named by its time; see
``store/dataset_versions.py``.  ``as_of`` on the example routes reads the examples of one.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query
from fastapi.openapi.models import Example

from evaldelta.errors import Invalid
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.models import DatasetDiff, DatasetTagUpdate, DatasetVersion
from evaldelta.server.query import declared_query_only
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.store.base import Page

_LATEST: dict[str, Example] = {"latest": {"summary": "today's version", "value": "latest"}}

router = APIRouter(tags=["datasets"], dependencies=[Depends(declared_query_only)])


@router.get("/datasets/{dataset_id}/versions", response_model=list[DatasetVersion])
def list_versions(
    dataset_id: UUID,
    tenant: Tenant,
    store: StoreDep,
    search: str | None = None,
    offset: Offset = 0,
    limit: Limit = 100,
) -> Any:
    """Newest first; ``search`` keeps the versions with a tag containing it."""
    return store.list_dataset_versions(tenant, dataset_id, search, Page(offset, limit))


@router.get("/datasets/{dataset_id}/version", response_model=DatasetVersion)
def read_version(
    dataset_id: UUID,
    tenant: Tenant,
    store: StoreDep,
    as_of: str | None = None,
    tag: str | None = None,
) -> Any:
    """The version in force at ``as_of`` (a time), or the one ``tag`` names; today's if
    neither is given."""
    if as_of is not None and tag is not None:
        raise Invalid("give as_of or tag, not both", loc=["query", "tag"])
    return store.read_dataset_version(tenant, dataset_id, as_of, tag)


@router.put("/datasets/{dataset_id}/tags", response_model=DatasetVersion)
async def tag_version(
    dataset_id: UUID, body: DatasetTagUpdate, tenant: Tenant, writer: WriterDep
) -> Any:
    """Point ``tag`` at the version in force at ``as_of`` (moving it if it named another)."""
    return await writer.call(
        lambda s: s.write_dataset_tag(tenant, dataset_id, body.as_of, body.tag)
    )


@router.get("/datasets/{dataset_id}/versions/diff", response_model=DatasetDiff)
def diff_versions(
    dataset_id: UUID,
    tenant: Tenant,
    store: StoreDep,
    from_version: Annotated[str, Query(openapi_examples=_LATEST)],
    to_version: Annotated[str, Query(openapi_examples=_LATEST)],
) -> Any:
    """The examples added, removed and modified from one version (a time or a tag) to
    another."""
    return store.diff_dataset_versions(tenant, dataset_id, from_version, to_version)
