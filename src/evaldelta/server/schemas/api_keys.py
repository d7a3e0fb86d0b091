"""API keys, in LangSmith's shapes (``APIKeyCreateRequest``, ``APIKeyGetResponse``,
``APIKeyCreateResponse``)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import Field

from evaldelta.server.models import Request, Response

_NO_WORKSPACES = "Not supported (a key reaches its whole tenant): refused with a 422 unless null"


class ApiKeyCreate(Request):
    description: str = Field(default="Default API key", max_length=1000)
    read_only: bool = Field(
        default=False, description="Not supported (keys can write): refused with a 422 if true"
    )
    expires_at: datetime | None = None
    workspaces: list[UUID] | None = Field(default=None, description=_NO_WORKSPACES)
    role_id: UUID | None = Field(default=None, description=_NO_WORKSPACES)
    org_role_id: UUID | None = Field(default=None, description=_NO_WORKSPACES)
    default_workspace_id: UUID | None = Field(default=None, description=_NO_WORKSPACES)


class ApiKey(Response):
    id: UUID
    short_key: str
    description: str
    created_at: datetime | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None
    read_only: bool = False


class ApiKeyCreated(ApiKey):
    key: str
