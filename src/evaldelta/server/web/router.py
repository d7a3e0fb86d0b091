"""The comparison page at ``/`` and ``/ui``, its assets under ``/ui/static/``.

These routes need no API key: the page asks for one and sends it with its own API calls.
The assets are plain files shipped in the package (no build step, nothing from a CDN).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import PurePosixPath

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
