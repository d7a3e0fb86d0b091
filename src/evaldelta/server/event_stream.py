"""The HTTP side of a delta stream: Server-Sent Events that give their slot back however
they end, and that give up on a client which stops reading."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator

from starlette.responses import StreamingResponse
from starlette.types import Message, Receive, Scope, Send

from evaldelta.server.stream_limits import Slot

log = logging.getLogger(__name__)


class ClientStalled(Exception):
    """The client has not taken an event for the stall limit."""


class EventStreamResponse(StreamingResponse):
    """``text/event-stream`` from an async iterator of encoded events.

    The slot is released when the stream ends, fails, or its client leaves.  An event
    waits at most ``stall_seconds`` for the client to make room for it (a client that
    does not read fills the socket's buffers, and the next send waits); after that the
    stream is abandoned: no further work is done for it and its connection is closed.
    The client cannot be told in band, since it is not reading; what it would read is a
    stream without its ``end`` event.
    """

    def __init__(
        self, events: AsyncGenerator[bytes, None], *, slot: Slot, stall_seconds: float
    ) -> None:
        super().__init__(
            events,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self._events = events
        self._slot = slot
        self._stall_seconds = stall_seconds

    async def stream_response(self, send: Send) -> None:
        async def send_or_give_up(message: Message) -> None:
            try:
                await asyncio.wait_for(send(message), self._stall_seconds)
            except TimeoutError:
                raise ClientStalled from None

        await super().stream_response(send_or_give_up)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except ClientStalled:
            client = scope.get("client")
            log.warning(
                "closing a delta stream to %s: it has not read for %g s",
                f"{client[0]}:{client[1]}" if client else "a client",
                self._stall_seconds,
            )
        finally:
            self._slot.release()
            # The events' generator may be suspended mid-stream: close it, so that no
            # further key is computed for a stream nobody will read.
            await self._events.aclose()
