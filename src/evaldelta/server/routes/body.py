"""Reading raw request bodies with limits, for the endpoints that parse their own."""

from __future__ import annotations

from fastapi import Request

from evaldelta.errors import PayloadTooLarge
from evaldelta.ingest.multipart import decode_body
from evaldelta.settings import Settings


async def read_body(request: Request, settings: Settings) -> bytes:
    """The request body, decompressed, never more than the configured limits."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > settings.max_body_bytes:
            raise PayloadTooLarge(f"request body is larger than {settings.max_body_bytes} bytes")
        chunks.append(chunk)
    return decode_body(
        b"".join(chunks),
        request.headers.get("content-encoding"),
        max_decoded_bytes=settings.max_decoded_bytes,
    )
