"""The single writer: one thread that owns every write to the store.

Requests hand their validated records to the writer and wait for the answer, so a 2xx
means the write is committed.  Ingest requests that queue up while a batch is written are
applied together in one transaction (one Arrow append per table), which is what makes
ingest fast; other writes run one per transaction, in arrival order.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from evaldelta.errors import DomainError
from evaldelta.store.base import IngestBatch, Store

log = logging.getLogger(__name__)
T = TypeVar("T")


class Overloaded(DomainError):
    """The write queue is full: the client should retry later."""

    status_code = 429
    retry_after = 1


@dataclass
class _Ingest:
    batch: IngestBatch
    done: Future[None]


@dataclass
class _Call:
    fn: Callable[[Store], Any]
    done: Future[Any]


class StoreFailure(DomainError):
    """A write that passed validation but failed in the store: a server fault."""

    status_code = 500


_STOP = object()

# Ingest allocates a few dozen short-lived, acyclic objects per feedback row.  With
# CPython's default thresholds (700, 10, 10) the collector then walks the whole heap every
# few thousand rows, which cost a quarter of the server's CPU during ingest; these keep
# young collections cheap and full ones rare.
GC_THRESHOLDS = (50_000, 20, 10)
# The writer gives up the GIL at every DuckDB statement and must win it back from the
# threads parsing the next requests; with CPython's default switch interval (5 ms) each
# statement's return could wait that long, and the writer's transactions are what
# ingest waits on.  At 0.5 ms they were shorter per row and ingest over HTTP 5-13 % faster
# (200,000 SDK-shaped feedback rows, 4 clients, alternating runs on a busy machine).
SWITCH_INTERVAL_S = 0.0005
# How long the writer waits for requests still being parsed to join its transaction: a
# transaction has a fixed cost (commit, session lookups, a few statements) that a batch of
# one request pays alone.
LINGER_S = 0.05


class Writer:
    """Serialises all writes; batches consecutive ingests into one transaction."""

    def __init__(self, store: Store, *, max_batch_ops: int, queue_max: int) -> None:
        self._store = store
        self._max_batch_ops = max_batch_ops
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_max)
        self._thread = threading.Thread(target=self._run, name="evaldelta-writer", daemon=True)
        # Requests between ``ingest_parsed``'s start and their submission; only the event
        # loop changes it, the writer thread only reads it.
        self._parsing = 0

    def start(self) -> None:
        """Start the writer thread (and set the process's GC thresholds and GIL switch
        interval for ingest)."""
        gc.set_threshold(*GC_THRESHOLDS)
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        self._thread.start()

    def stop(self) -> None:
        """Finish everything queued, then stop the thread."""
        self._queue.put(_STOP)
        self._thread.join()

    def _submit(self, item: object) -> None:
        try:
            self._queue.put_nowait(item)
        except queue.Full as err:
            raise Overloaded("the write queue is full; retry shortly") from err

    async def ingest(self, batch: IngestBatch) -> None:
        """Queue runs and feedback and wait until they are committed."""
        if not len(batch):
            return
        done: Future[None] = Future()
        self._submit(_Ingest(batch, done))
        await asyncio.wrap_future(done)

    async def ingest_parsed(self, parse: Callable[[], IngestBatch]) -> None:
        """Run ``parse`` in a worker thread, then queue its batch and wait for the commit.

        While it parses, the writer knows one more request is on its way and lingers
        (up to ``LINGER_S``) to commit it together with the ones already queued.
        """
        self._parsing += 1
        try:
            batch = await asyncio.to_thread(parse)
            if not len(batch):
                return
            done: Future[None] = Future()
            self._submit(_Ingest(batch, done))
        finally:
            self._parsing -= 1
        await asyncio.wrap_future(done)

    async def call(self, fn: Callable[[Store], T]) -> T:
        """Run ``fn(store)`` in the writer thread, in its own transaction."""
        done: Future[T] = Future()
        self._submit(_Call(fn, done))
        return await asyncio.wrap_future(done)

    # --- the writer thread --------------------------------------------------------------

    def _run(self) -> None:
        carry: object | None = None
        while True:
            item = carry if carry is not None else self._queue.get()
            carry = None
            if item is _STOP:
                return
            if isinstance(item, _Call):
                self._apply_call(item)
                continue
            assert isinstance(item, _Ingest)
            group = [item]
            size = len(item.batch)
            deadline = time.monotonic() + LINGER_S
            while size < self._max_batch_ops:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    nxt = self._wait_for_parsing(deadline)
                    if nxt is None:
                        break
                if not isinstance(nxt, _Ingest):
                    carry = nxt
                    break
                group.append(nxt)
                size += len(nxt.batch)
            self._apply_ingest(group)

    def _wait_for_parsing(self, deadline: float) -> object | None:
        """The next queued item if a request being parsed may bring one before the
        deadline; None when nothing more is coming."""
        while self._parsing > 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                # Short waits: a parse that fails (a 422) submits nothing.
                return self._queue.get(timeout=min(remaining, 0.005))
            except queue.Empty:
                continue
        return None

    def _apply_call(self, item: _Call) -> None:
        try:
            item.done.set_result(self._store.run_in_transaction(lambda: item.fn(self._store)))
        except Exception as err:
            item.done.set_exception(err)

    def _apply_ingest(self, group: list[_Ingest]) -> None:
        try:
            self._store.run_in_transaction(
                lambda: self._store.apply_ingest([g.batch for g in group])
            )
        except Exception:
            if len(group) == 1:
                log.exception("ingest batch failed")
                group[0].done.set_exception(StoreFailure("the batch could not be stored"))
                return
            # One bad request must not fail the others: apply them one by one.
            for one in group:
                self._apply_ingest([one])
            return
        for g in group:
            g.done.set_result(None)
