"""Downloading an example's attachment: by signed link (what ``attachment_urls`` give,
fetched without a key), or with the API key (today's version of the attachment)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from evaldelta.errors import NotFound
from evaldelta.server.auth import current_tenant
from evaldelta.server.deps import StoreDep
from evaldelta.server.example_attachments import links
from evaldelta.server.query import declared_query_only
from evaldelta.store.attachments import MAX_NAME_CHARS

router = APIRouter(tags=["examples"], dependencies=[Depends(declared_query_only)])

_MESSAGE = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}}
_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The attachment's bytes", "content": {"*/*": {}}},
    401: {"description": "No signed link and a missing or unknown API key", "content": _MESSAGE},
    403: {
        "description": "A signed link this server did not make, or one that expired",
        "content": _MESSAGE,
    },
    404: {"description": "No such example or attachment (for this tenant)", "content": _MESSAGE},
}
# A signed link needs no key; without one, the key is needed (documented as optional).
_SECURITY: dict[str, Any] = {"security": [{"ApiKey": []}, {"Bearer": []}, {}]}


@router.get(
    "/examples/{example_id}/attachments/{name}",
    response_class=Response,
    responses=_RESPONSES,
    openapi_extra=_SECURITY,
)
async def download_attachment(
    example_id: UUID,
    name: Annotated[str, Path(max_length=MAX_NAME_CHARS)],
    request: Request,
    store: StoreDep,
    signed: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    """The bytes of attachment ``name``, with its MIME type.  ``signed`` (from an
    example's ``attachment_urls``) stands in for the API key and names the version of the
    attachment the example had when it was read."""
    if signed is not None:
        tenant, digest = links(request).verify(signed, example_id, name)
        meta = await run_in_threadpool(store.find_attachment, tenant, example_id, name, digest)
    else:
        tenant = await current_tenant(request)
        meta = await run_in_threadpool(store.find_attachment, tenant, example_id, name, None)
    if meta is None:
        raise NotFound(f"Example {example_id} has no attachment {name!r}")
    data = await run_in_threadpool(store.read_attachment_blob, meta["digest"])
    if data is None:
        raise NotFound(f"The bytes of attachment {name!r} are missing from the store")
    return Response(
        data,
        media_type=meta["mime_type"],
        headers={
            # Bytes a client uploaded: never rendered as a page of this server's origin.
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'",
            "Cache-Control": "private, max-age=300" if signed else "private, no-cache",
        },
    )
