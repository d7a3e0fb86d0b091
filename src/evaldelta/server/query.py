"""Query parameters a route does not declare are refused, not ignored.

The SDK passes extra keyword arguments of some calls (``list_examples(**kwargs)``) on as
query parameters; a server that ignored one would answer as if it had not been asked.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from evaldelta.errors import Invalid


async def declared_query_only(request: Request) -> None:
    """A 422 naming the first query parameter the route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    declared = _query_names(route.dependant)
    for name in request.query_params:
        if name not in declared:
            raise Invalid(f"query parameter {name!r} is not supported here", loc=["query", name])


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names
