"""Open delta streams: how many a tenant may hold, how long one may run, and ending them
all in band when the server shuts down.

One :class:`StreamRegistry` lives on the app.  A stream takes a :class:`Slot` before its
first byte (``TooManyStreams``, a 429, when its tenant holds the limit already) and gives it
back however it ends.  Its work runs through a :class:`Cutoff`, which ends the stream early
— the keys not yet sent get one in-band error entry, then ``end`` — once the stream has run
for ``max_seconds``, or once the server is shutting down and the grace period has passed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar, cast
from uuid import UUID

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from evaldelta.delta.engine import StreamCut
from evaldelta.errors import DomainError

T = TypeVar("T")

# What a 429 asks the client to wait: streams take seconds, so a second or two is enough
# for a slot to come free without the client hammering the server.
RETRY_AFTER_SECONDS = 2


class TooManyStreams(DomainError):
    """The tenant already holds its limit of open delta streams."""

    status_code = 429
    retry_after = RETRY_AFTER_SECONDS


@dataclass(frozen=True)
class StreamLimits:
    """The knobs of :class:`StreamRegistry`, from the settings of the same names."""

    max_streams_per_tenant: int = 8
    stream_max_seconds: float = 300.0
    stream_stall_seconds: float = 30.0
    shutdown_grace_seconds: float = 5.0


class Slot:
    """One tenant's claim on an open stream; releasing it twice is harmless."""

    def __init__(self, registry: StreamRegistry, tenant_id: UUID) -> None:
        self._registry = registry
        self._tenant_id = tenant_id
        self._held = True

    def release(self) -> None:
        """Give the slot back (when the stream ends, fails or its client leaves)."""
        if self._held:
            self._held = False
            self._registry._release(self._tenant_id)


class StreamRegistry:
    """The app's open delta streams, counted per tenant, and the shutdown drain."""

    def __init__(self, limits: StreamLimits) -> None:
        self.limits = limits
        self._open: Counter[UUID] = Counter()
        self._drain = asyncio.Event()
        self._drain_started: float | None = None
        self._busy: set[asyncio.Future[Any]] = set()

    def open_streams(self, tenant_id: UUID) -> int:
        """How many streams the tenant holds right now."""
        return self._open[tenant_id]

    def acquire(self, tenant_id: UUID) -> Slot:
        """A slot for a new stream of the tenant, or ``TooManyStreams``."""
        limit = self.limits.max_streams_per_tenant
        if self._open[tenant_id] >= limit:
            raise TooManyStreams(
                f"this tenant already has {limit} delta streams open (the limit);"
                f" retry after {RETRY_AFTER_SECONDS} s"
            )
        self._open[tenant_id] += 1
        return Slot(self, tenant_id)

    def _release(self, tenant_id: UUID) -> None:
        self._open[tenant_id] -= 1
        if self._open[tenant_id] <= 0:
            del self._open[tenant_id]

    @property
    def draining(self) -> bool:
        return self._drain_started is not None

    def begin_drain(self) -> None:
        """The server is shutting down: open streams get the grace period, then end in
        band.  Call it on the event loop's thread; calling it again changes nothing."""
        if self._drain_started is None:
            self._drain_started = asyncio.get_running_loop().time()
            self._drain.set()

    def cutoff(self) -> Cutoff:
        """The cutoff of a stream that starts now."""
        return Cutoff(self)

    def _track(self, work: asyncio.Future[Any]) -> None:
        self._busy.add(work)
        work.add_done_callback(self._untrack)

    def _untrack(self, work: asyncio.Future[Any]) -> None:
        self._busy.discard(work)
        if not work.cancelled():
            work.exception()  # a cut stream no longer wants it; retrieving it keeps asyncio quiet

    async def settle(self, timeout: float) -> None:
        """Wait, at most ``timeout`` seconds, for the queries of cut streams to return, so
        the store is not closed under them."""
        if self._busy:
            await asyncio.wait(set(self._busy), timeout=timeout)

    def _next_end(self, deadline: float) -> tuple[float, str]:
        """When a stream with this deadline must end, and why."""
        at = deadline
        reason = f"the stream reached its time limit of {self.limits.stream_max_seconds:g} s"
        if self._drain_started is not None:
            drain_at = self._drain_started + self.limits.shutdown_grace_seconds
            if drain_at < at:
                at, reason = drain_at, "the server is shutting down; ask again later"
        return at, reason

    async def _expiry(self, deadline: float) -> str:
        """Return, with the reason, when a stream with this deadline must end."""
        loop = asyncio.get_running_loop()
        while True:
            at, reason = self._next_end(deadline)
            delay = at - loop.time()
            if delay <= 0:
                return reason
            if self.draining:
                await asyncio.sleep(delay)
            else:  # wake up early if the drain begins: it may bring the end closer
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drain.wait(), delay)


class Cutoff:
    """Runs a stream's blocking work in the thread pool, unless the stream must end."""

    def __init__(self, registry: StreamRegistry) -> None:
        self._registry = registry
        self._deadline = asyncio.get_running_loop().time() + registry.limits.stream_max_seconds

    async def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` in a worker thread; ``StreamCut`` if the stream must end first.

        A cut leaves the thread to finish on its own (a query cannot be interrupted
        through the store seam); the registry waits for it before the store closes.
        """
        at, reason = self._registry._next_end(self._deadline)
        if at <= asyncio.get_running_loop().time():
            raise StreamCut(reason)
        expiry = asyncio.ensure_future(self._registry._expiry(self._deadline))
        try:
            work: asyncio.Future[T] = asyncio.ensure_future(run_in_threadpool(fn))
            self._registry._track(work)
            racing: set[asyncio.Future[Any]] = {work, expiry}
            done, _ = await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
            if work in done:
                return work.result()
            raise StreamCut(expiry.result())
        finally:
            expiry.cancel()


def streams_of(request: Request) -> StreamRegistry:
    """The app's stream registry."""
    return cast(StreamRegistry, request.app.state.streams)


StreamsDep = Annotated[StreamRegistry, Depends(streams_of)]
