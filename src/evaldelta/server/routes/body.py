"""Reading raw request bodies, for the endpoints that parse their own."""

from __future__ import annotations

from fastapi import Request


async def read_body(request: Request) -> bytes:
    """The request body, already decoded and size-checked by ``server.body_limit``."""
    return await request.body()
