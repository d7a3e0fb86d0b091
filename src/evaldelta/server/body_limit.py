"""Reading every request body under the server's limits, before any route sees it.

The body is counted as it arrives (413 past ``max_body_bytes``, at once when
Content-Length says so), its ``Content-Encoding`` is undone piece by piece in a worker
thread (413 past ``max_decoded_bytes``, checked as bytes are produced), and what it
decodes to is charged to the server's ``DecodedBytesBudget`` until the request is answered
(429 when spent). Routes, FastAPI's JSON bodies included, then read the decoded body and
find no ``Content-Encoding``: compressed and plain bodies are handled alike everywhere.
"""

from __future__ import annotations

from collections import deque

import anyio
import anyio.to_thread
import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from evaldelta.errors import DomainError, PayloadTooLarge
from evaldelta.ingest.decoding import ENCODINGS, BodyDecoder
from evaldelta.server.body_budget import BodyAllowance, DecodedBytesBudget
from evaldelta.server.error_handlers import error_body

# Bodies decoded at once, each in a worker thread of its own: more would only compete with
# the event loop for the GIL (a bomb decodes for as long as its cap allows), not finish
# sooner on a small server. Others wait for a turn, holding no more than they had.
DECODING_THREADS = 2

# Headers that describe the body as sent, not as the app reads it once decoded.
_ENCODED_HEADERS = (b"content-encoding", b"content-length")


def _refusal(err: DomainError) -> HTTPException:
    """A domain error raised while the app reads its body, as the one exception FastAPI
    lets through from its own body parsing (it turns any other into a 400)."""
    headers = None if err.retry_after is None else {"Retry-After": str(err.retry_after)}
    return HTTPException(err.status_code, err.message, headers)


class BodyLimit:
    """ASGI middleware: the decoded, size-checked, budgeted body for every request."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, max_decoded_bytes: int, budget: DecodedBytesBudget
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_decoded_bytes = max_decoded_bytes
        self.budget = budget
        self.decoding = anyio.CapacityLimiter(DECODING_THREADS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._reject(send)
            return
        encoding = headers.get(b"content-encoding", b"").decode("latin-1")
        if encoding.strip().lower() in ENCODINGS[1:]:
            kept = [(k, v) for k, v in scope["headers"] if k.lower() not in _ENCODED_HEADERS]
            scope = {**scope, "headers": kept}
            declared = None  # the size on the wire, not decoded
        size = int(declared) if declared is not None and declared.isdigit() else None
        body = _Body(self, receive, encoding, self.budget.allowance(), size)
        try:
            await self.app(scope, body.receive, send)
        finally:
            body.allowance.release()

    async def _reject(self, send: Send) -> None:
        err = PayloadTooLarge(f"request body is larger than {self.max_bytes} bytes")
        body = orjson.dumps(error_body(err))
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _Body:
    """One request's body: raw pieces in, decoded pieces out through ``receive``."""

    def __init__(
        self,
        limits: BodyLimit,
        receive: Receive,
        encoding: str,
        allowance: BodyAllowance,
        size: int | None,
    ) -> None:
        self.limits = limits
        self._size = size
        self.allowance = allowance
        self._receive = receive
        self._encoding = encoding
        self._decoder: BodyDecoder | None = None
        self._raw = 0
        self._pending: deque[bytes] = deque()
        self._more = True

    async def receive(self) -> Message:
        if self._pending:
            return self._message(self._pending.popleft())
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        chunk: bytes = message.get("body", b"")
        self._more = bool(message.get("more_body", False))
        try:
            pieces = await self._decode(chunk)
        except DomainError as err:
            raise _refusal(err) from None
        self._pending.extend(pieces)
        return self._message(self._pending.popleft() if self._pending else b"")

    def _message(self, body: bytes) -> Message:
        more = bool(self._pending) or self._more
        return {"type": "http.request", "body": body, "more_body": more}

    async def _decode(self, chunk: bytes) -> list[bytes]:
        self._raw += len(chunk)
        if self._raw > self.limits.max_bytes:
            raise PayloadTooLarge(f"request body is larger than {self.limits.max_bytes} bytes")
        if self._decoder is None:
            self._decoder = BodyDecoder(
                self._encoding,
                max_decoded_bytes=self.limits.max_decoded_bytes,
                charge=self.allowance.charge,
            )
            if self._decoder.identity and self._size is not None:
                self.allowance.reserve(min(self._size, self.limits.max_decoded_bytes))
        decoder = self._decoder
        if decoder.identity or not chunk:
            pieces = decoder.feed(chunk)
        else:  # a bomb may take a while to reach the cap: not on the event loop
            pieces = await anyio.to_thread.run_sync(
                decoder.feed, chunk, limiter=self.limits.decoding
            )
        if not self._more:
            decoder.finish()
        return pieces
