"""Timing the delta endpoints over HTTP, as a client sees them.

The stream is read as raw bytes and split on blank lines; events are only timestamped while
reading and decoded afterwards, so the client's JSON parsing is not in the figures.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

# key -> comparison session id -> (improved example ids, regressed example ids)
Answer = dict[str, dict[str, tuple[list[str], list[str]]]]
Filters = dict[str, list[str]]


@dataclass
class StreamRun:
    """One read of ``/runs/delta/stream``."""

    first_chunk_s: float
    end_s: float
    data_events: int
    response_bytes: int
    answer: Answer
    errors: list[Any] = field(default_factory=list)


class EventSplitter:
    """Splits a byte stream into events (blank-line separated) as it arrives.

    Each new chunk is searched only from where the last search stopped, and consumed bytes
    are dropped in bulk: a stream's events are megabytes each at scale, and searching or
    copying the whole buffer per network read made the client, not the server, the figure.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._start = 0  # where the next event begins
        self._scan = 0  # where the next search for its end begins

    def feed(self, chunk: bytes) -> list[bytes]:
        buffer = self._buffer
        buffer += chunk.replace(b"\r\n", b"\n") if b"\r" in chunk else chunk
        events = []
        while True:
            end = buffer.find(b"\n\n", self._scan)
            if end < 0:
                self._scan = max(len(buffer) - 1, self._start)
                break
            with memoryview(buffer) as view:  # one copy, not two
                events.append(bytes(view[self._start : end]))
            self._start = self._scan = end + 2
        if self._start > len(buffer) // 2:
            del buffer[: self._start]
            self._scan -= self._start
            self._start = 0
        return events


def _parse_event(raw: bytes) -> tuple[str, Any]:
    name, data = "message", b""
    for line in raw.split(b"\n"):
        if line.startswith(b"event:"):
            name = line[6:].strip().decode()
        elif line.startswith(b"data:"):
            data += line[5:].strip()
    return name, orjson.loads(data) if data else None


def stream_deltas(
    client: httpx.Client,
    dataset_id: str,
    baseline: str,
    comparisons: Sequence[str],
    keys: Sequence[str],
    filters: Filters | None = None,
) -> StreamRun:
    """Read the whole stream; time the first ``data`` event and the ``end`` event."""
    body: dict[str, Any] = {
        "baseline_session_id": baseline,
        "comparison_session_ids": list(comparisons),
        "feedback_keys": list(keys),
    }
    if filters:
        body["filters"] = filters
    raw_events: list[bytes] = []
    first: float | None = None
    ended: float | None = None
    size = 0
    started = time.perf_counter()
    with client.stream("POST", f"/datasets/{dataset_id}/runs/delta/stream", json=body) as resp:
        if resp.status_code != 200:
            resp.read()
            raise RuntimeError(f"delta stream answered {resp.status_code}: {resp.text[:500]}")
        splitter = EventSplitter()
        for chunk in resp.iter_raw():
            size += len(chunk)
            for raw in splitter.feed(chunk):
                now = time.perf_counter() - started
                if first is None and raw.startswith(b"event: data"):
                    first = now
                if raw.startswith(b"event: end"):
                    ended = now
                raw_events.append(raw)
    if first is None or ended is None:
        raise RuntimeError("the stream had no data event or no end event")
    answer: Answer = {}
    errors: list[Any] = []
    data_events = 0
    for raw in raw_events:
        name, data = _parse_event(raw)
        if name != "data":
            continue
        data_events += 1
        errors += data.get("errors") or []
        for key, sessions in data["feedback_deltas"].items():
            answer[key] = {
                sid: (lists["improved_examples"], lists["regressed_examples"])
                for sid, lists in sessions.items()
            }
    return StreamRun(first, ended, data_events, size, answer, errors)


@dataclass
class PageRun:
    """One or more pages of ``/runs/delta`` for one key."""

    seconds: list[float]
    answer: dict[str, tuple[list[str], list[str]]]
    pages: int
    examples_covered: int


def delta_pages(
    client: httpx.Client,
    dataset_id: str,
    baseline: str,
    comparisons: Sequence[str],
    key: str,
    examples: int,
    max_pages: int | None,
    limit: int = 100,
) -> PageRun:
    """Page through one key's answer (``offset`` steps by ``limit`` over the examples)."""
    seconds: list[float] = []
    answer: dict[str, tuple[list[str], list[str]]] = {s: ([], []) for s in comparisons}
    offset = 0
    pages = 0
    while offset < examples and (max_pages is None or pages < max_pages):
        body = {
            "baseline_session_id": baseline,
            "comparison_session_ids": list(comparisons),
            "feedback_key": key,
            "offset": offset,
            "limit": limit,
        }
        started = time.perf_counter()
        resp = client.post(f"/datasets/{dataset_id}/runs/delta", json=body)
        seconds.append(time.perf_counter() - started)
        if resp.status_code != 200:
            raise RuntimeError(f"/runs/delta answered {resp.status_code}: {resp.text[:500]}")
        for sid, lists in resp.json()["feedback_deltas"].items():
            answer[sid][0].extend(lists["improved_examples"])
            answer[sid][1].extend(lists["regressed_examples"])
        offset += limit
        pages += 1
    return PageRun(seconds, answer, pages, min(offset, examples))
