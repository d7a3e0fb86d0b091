"""The comparison page at ``/`` and ``/ui``, its assets under ``/ui/static/``.

These routes need no API key: the page asks for one and sends it with its own API calls.
The assets are plain files shipped in the package (no build step, nothing from a CDN).
The same page also answers the links the LangSmith SDK prints (``/o/{tenant}/datasets/…``)
and the read-only view of a share link (``/public/{share_token}/d``): the page reads
what to show from its own address.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import PurePosixPath
from uuid import UUID

from fastapi import APIRouter
from fastapi.responses import Response

from evaldelta.errors import NotFound

router = APIRouter(include_in_schema=False)

MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

# The page talks only to its own origin; user data is only ever inserted as text.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
COMMON_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _asset(name: str) -> Response:
    data = (files("evaldelta.server.web") / "static" / name).read_bytes()
    headers = dict(COMMON_HEADERS)
    if name.endswith(".html"):
        headers["Content-Security-Policy"] = PAGE_POLICY
    return Response(data, media_type=MEDIA_TYPES[PurePosixPath(name).suffix], headers=headers)


@router.get("/")
@router.get("/ui")
def page() -> Response:
    """The comparison page (shareable state lives in its query string)."""
    return _asset("index.html")


@router.get("/ui/review/{queue_id}")
def review_page(queue_id: UUID) -> Response:
    """The review view of one annotation queue (the page asks for a key as on ``/ui``)."""
    return _asset("index.html")


@router.get("/o/{tenant_id}/datasets/{dataset_id}/compare")
def sdk_compare_link(tenant_id: UUID, dataset_id: UUID) -> Response:
    """The link ``evaluate()`` prints: the page compares its ``selectedSessions``."""
    return _asset("index.html")


@router.get("/o/{tenant_id}/datasets/{dataset_id}")
def sdk_dataset_link(tenant_id: UUID, dataset_id: UUID) -> Response:
    """A dataset's ``url`` as the SDK builds it: the page with that dataset chosen."""
    return _asset("index.html")


@router.get("/public/{share_token}/d")
def shared_dataset_page(share_token: UUID) -> Response:
    """A shared dataset's link (the SDK's ``share_dataset(...)["url"]``): the page,
    read-only, calling only the public routes with the token from this path."""
    return _asset("index.html")


@cache
def asset_names() -> frozenset[str]:
    """The files under ``static/`` that may be served (scripts, styles, images)."""
    folder = files("evaldelta.server.web") / "static"
    return frozenset(
        entry.name
        for entry in folder.iterdir()
        if PurePosixPath(entry.name).suffix in MEDIA_TYPES and entry.name != "index.html"
    )


@router.get("/ui/static/{name}")
def asset(name: str) -> Response:
    """One of the page's scripts or its stylesheet."""
    # Looked up among the shipped files, never passed to the file system: a name the OS
    # refuses (too long, a NUL) or one that climbs out of the folder is simply not there.
    if name not in asset_names():
        raise NotFound(f"No asset {name[:100]}")
    return _asset(name)
