"""The error responses of every operation in the OpenAPI schema, derived from what each
operation depends on rather than listed route by route."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from evaldelta.server.auth import current_tenant
from evaldelta.server.deps import writer_of
from evaldelta.server.share_tokens import shared_dataset, shared_run

_ERROR_MESSAGE = {
    "title": "ErrorMessage",
    "type": "object",
    "properties": {"detail": {"title": "Detail", "type": "string"}},
    "required": ["detail"],
}
# The key goes in x-api-key or as a bearer token: either one satisfies an operation.
_SECURITY_SCHEMES = {
    "ApiKey": {"type": "apiKey", "in": "header", "name": "x-api-key"},
    "Bearer": {"type": "http", "scheme": "bearer"},
}
_MESSAGE = {"$ref": "#/components/schemas/ErrorMessage"}
_VALIDATION = {"$ref": "#/components/schemas/HTTPValidationError"}
_DESCRIPTIONS = {
    400: ("Malformed body: not UTF-8, or broken multipart framing or compression", _MESSAGE),
    401: ("Missing or unknown API key", _MESSAGE),
    403: ("X-Tenant-Id names another tenant than the API key's", _MESSAGE),
    404: (
        "An object the request names does not exist (or belongs to another tenant);"
        " on a public route: the share token reads no such thing",
        _MESSAGE,
    ),
    409: ("The object clashes with an existing one (same id or name)", _MESSAGE),
    413: ("The body is larger than the server's limit", _MESSAGE),
    415: ("Unsupported Content-Encoding", _MESSAGE),
    422: ("Validation Error", _VALIDATION),
    429: ("Busy (the write queue is full, or large bodies fill the server): retry", _MESSAGE),
}


def _calls(dependant: Dependant) -> set[Callable[..., Any]]:
    found: set[Callable[..., Any]] = set()
    for sub in dependant.dependencies:
        if sub.call is not None:
            found.add(sub.call)
        found |= _calls(sub)
    return found


def _api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """The app's operations, also inside included routers (whose prefixes are not known
    here: FastAPI versions keep them differently)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)  # FastAPI >= 0.13x wraps includes
        if inner is not None:
            yield from _api_routes(inner.routes)


def error_statuses(route: APIRoute) -> list[int]:
    """The error statuses an operation can answer, derived from what it depends on: the
    API key (401, 403, and 422 for anything it validates), a path id or a dataset version
    (``as_of``, a tag that may not exist) (404), a body (400, 413, 415 for its
    Content-Encoding, 429 when the server's decoding budget is spent), the writer (404 and
    409 for the objects a write names, 429 when its queue is full).  A public route (a
    share token in place of the key) answers 404 and 422 where a keyed one answers 401,
    403 and 422."""
    calls = _calls(route.dependant)
    if current_tenant in calls:
        codes = {401, 403, 422}
    elif calls & {shared_dataset, shared_run}:
        codes = {404, 422}
    else:
        return []
    if route.dependant.path_params or any(p.alias == "as_of" for p in route.dependant.query_params):
        codes.add(404)
    if (route.methods or set()) & {"POST", "PATCH", "PUT"}:
        codes |= {400, 413, 415, 429}
    if writer_of in calls:
        codes |= {404, 409, 429}
    return sorted(codes)


def _error_response(code: int) -> dict[str, Any]:
    description, body = _DESCRIPTIONS[code]
    return {"description": description, "content": {"application/json": {"schema": body}}}


def document_errors(app: FastAPI) -> None:
    """Add the error responses of every operation to the app's OpenAPI schema, once, here,
    rather than on each route: a client (or a schema-driven test) then knows every status
    it can be answered with, each in the one error shape, and which operations need the
    API key."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.setdefault("ErrorMessage", _ERROR_MESSAGE)
        schema["components"].setdefault("securitySchemes", {}).update(_SECURITY_SCHEMES)
        routes = sorted(
            (r for r in _api_routes(app.routes) if r.include_in_schema),
            key=lambda r: -len(r.path_format),
        )
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                # The route is the longest one whose path ends this one (a prefix differs).
                route = next(
                    (
                        r
                        for r in routes
                        if path.endswith(r.path_format) and method.upper() in (r.methods or ())
                    ),
                    None,
                )
                if route is None:
                    continue
                responses = operation["responses"]
                codes = error_statuses(route)
                for code in codes:
                    responses.setdefault(str(code), _error_response(code))
                if 401 in codes:
                    operation.setdefault("security", [{name: []} for name in _SECURITY_SCHEMES])
                operation["responses"] = dict(sorted(responses.items()))
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
