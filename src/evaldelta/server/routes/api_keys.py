"""API keys of the caller's tenant: create (the key is answered once), list, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request

from evaldelta.errors import Invalid
from evaldelta.server.auth import KeyCache, Tenant, add_key
from evaldelta.server.deps import StoreDep, WriterDep
from evaldelta.server.query import declared_query_only
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.server.schemas.api_keys import ApiKey, ApiKeyCreate, ApiKeyCreated
from evaldelta.store.base import Page, Row, Store

router = APIRouter(tags=["api-key"], dependencies=[Depends(declared_query_only)])

_UNSUPPORTED = ("workspaces", "role_id", "org_role_id", "default_workspace_id")


def _refuse_unsupported(body: ApiKeyCreate) -> None:
    if body.read_only:
        raise Invalid("read-only keys are not supported", loc=["body", "read_only"])
    for name in _UNSUPPORTED:
        if getattr(body, name) is not None:
            raise Invalid(
                f"{name} is not supported: a key reaches its whole tenant", loc=["body", name]
            )
    if body.expires_at is not None:
        at = body.expires_at
        at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
        if at <= datetime.now(UTC):
            raise Invalid("the key would expire before it is made", loc=["body", "expires_at"])


@router.post("/api-key", response_model=ApiKeyCreated)
async def create_api_key(
    tenant: Tenant, writer: WriterDep, body: ApiKeyCreate | None = None
) -> Any:
    """A new key of the caller's tenant, usable at once; the key itself is in this answer only."""
    body = body or ApiKeyCreate()
    _refuse_unsupported(body)

    def apply(store: Store) -> tuple[Row, str]:
        return add_key(store, tenant, body.description, body.expires_at)

    row, key = await writer.call(apply)
    return {**row, "key": key}


@router.get("/api-key", response_model=list[ApiKey])
def list_api_keys(tenant: Tenant, store: StoreDep, offset: Offset = 0, limit: Limit = 100) -> Any:
    """The tenant's keys, oldest first: ids, descriptions and short prefixes, never a key."""
    return store.list_api_keys(tenant, Page(offset, limit))


@router.delete("/api-key/{api_key_id}", response_model=ApiKey)
async def delete_api_key(
    api_key_id: UUID, request: Request, tenant: Tenant, writer: WriterDep
) -> Any:
    """Revoke a key: refused with 401 from the next request on.  A tenant's last key is
    kept (409): revoking it would lock the tenant out of the API."""
    row = await writer.call(lambda s: s.write_api_key_revoke(tenant, api_key_id))
    cache: KeyCache = request.app.state.key_cache
    cache.forget(api_key_id)
    return row
