"""A small HTTP client of evaldelta's API, for the CLI's compare, gate and demo commands."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import orjson


class ApiError(Exception):
    """The server said no (4xx/5xx), or could not be reached; ``message`` says which."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Event:
    """One Server-Sent Event."""

    event: str
    data: Any


def parse_sse(lines: Iterator[str]) -> Iterator[Event]:
    """Events from a stream of text lines (``event:``/``data:`` fields, blank line ends)."""
    event, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield Event(event, orjson.loads("\n".join(data)))
            event, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
    if data:
        yield Event(event, orjson.loads("\n".join(data)))


def _is_uuid(text: str) -> bool:
    try:
        UUID(text)
    except ValueError:
        return False
    return True


# Statuses that mean "busy, ask again shortly": too many open streams or writes queued.
RETRYABLE = frozenset({429, 503})


def _retry_after(response: httpx.Response) -> float:
    """The server's ``Retry-After`` in seconds (1 when absent or not a number), kept
    between 0.1 and 10."""
    try:
        return min(max(float(response.headers.get("retry-after", "1")), 0.1), 10.0)
    except ValueError:
        return 1.0


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        return response.text[:300]
    if isinstance(detail, list):
        return "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail)
    return str(detail)


class Client:
    """evaldelta's API, as the SDK would see it: ``LANGSMITH_ENDPOINT`` and ``..._API_KEY``."""

    def __init__(
        self,
        endpoint: str | None = None,
        api_key: str | None = None,
        timeout: float = 300,
        *,
        busy_wait: float = 60,
        on_busy: Callable[[str], None] | None = None,
    ) -> None:
        """``busy_wait``: how long in all to keep retrying while the server answers 429/503
        (following its ``Retry-After``); ``on_busy`` hears about each wait."""
        endpoint = endpoint or os.environ.get("LANGSMITH_ENDPOINT") or "http://127.0.0.1:1984"
        api_key = api_key or os.environ.get("LANGSMITH_API_KEY")
        if not api_key:
            raise ApiError("no API key: set LANGSMITH_API_KEY or pass --api-key")
        self.endpoint = endpoint.rstrip("/")
        self._busy_wait = busy_wait
        self._on_busy = on_busy
        self._http = httpx.Client(
            base_url=self.endpoint, headers={"x-api-key": api_key}, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def _waited_for(self, response: httpx.Response, waited: float) -> float:
        """After a busy answer, sleep as the server asks and return the total waited so
        far; 0 when the answer is not "busy" or the wait would pass ``busy_wait``."""
        pause = _retry_after(response)
        if response.status_code not in RETRYABLE or waited + pause > self._busy_wait:
            return 0
        if self._on_busy is not None:
            self._on_busy(f"the server is busy ({_detail(response)}); retrying in {pause:g} s")
        time.sleep(pause)
        return waited + pause

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        waited = 0.0
        while True:
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.HTTPError as err:
                raise ApiError(f"cannot reach {self.endpoint}: {err}") from err
            waited = self._waited_for(response, waited)
            if not waited:
                break
        if response.status_code >= 400:
            raise ApiError(
                f"{method} {path}: {response.status_code} {_detail(response)}", response.status_code
            )
        return response.json() if response.content else None

    def dataset(self, name_or_id: str) -> dict[str, Any]:
        """A dataset by id or by name."""
        if _is_uuid(name_or_id):
            return dict(self.request("GET", f"/datasets/{name_or_id}"))
        found = self.request("GET", "/datasets", params={"name": name_or_id, "limit": 1})
        if not found:
            raise ApiError(f"no dataset named {name_or_id!r}", 404)
        return dict(found[0])

    def experiment(self, dataset_id: str, name_or_id: str) -> dict[str, Any]:
        """An experiment (session) by id or name; it must be an experiment on the dataset."""
        if _is_uuid(name_or_id):
            found = self.request("GET", f"/sessions/{name_or_id}")
        else:
            hits = self.request("GET", "/sessions", params={"name": name_or_id, "limit": 1})
            if not hits:
                raise ApiError(f"no experiment named {name_or_id!r}", 404)
            found = hits[0]
        if str(found.get("reference_dataset_id")) != str(dataset_id):
            raise ApiError(f"experiment {name_or_id!r} is not an experiment on this dataset", 404)
        return dict(found)

    def comparative(self, dataset_id: str, name_or_id: str) -> dict[str, Any]:
        """A comparative (pairwise) experiment on the dataset, by id or name."""
        field = "id" if _is_uuid(name_or_id) else "name"
        found = self.request(
            "GET", f"/datasets/{dataset_id}/comparative", params={field: name_or_id, "limit": 1}
        )
        if not found:
            raise ApiError(f"no pairwise experiment {name_or_id!r} on this dataset", 404)
        return dict(found[0])

    def feedback_keys(self, session_ids: list[str]) -> list[str]:
        """Every feedback key with numeric scores in any of these sessions, sorted."""
        keys: set[str] = set()
        for session_id in session_ids:
            found = self.request("GET", f"/sessions/{session_id}", params={"include_stats": True})
            stats = found.get("feedback_stats") or {}
            keys.update(k for k, v in stats.items() if v.get("avg") is not None)
        return sorted(keys)

    def stream_deltas(self, dataset_id: str, body: dict[str, Any]) -> Iterator[Event]:
        """The delta stream's events, as they arrive (waiting for a free stream slot while
        the tenant holds its limit of open streams)."""
        path = f"/datasets/{dataset_id}/runs/delta/stream"
        waited = 0.0
        try:
            while True:
                with self._http.stream("POST", path, json=body) as response:
                    if response.status_code < 400:
                        yield from parse_sse(response.iter_lines())
                        return
                    response.read()
                    waited = self._waited_for(response, waited)
                    if not waited:
                        raise ApiError(
                            f"POST {path}: {response.status_code} {_detail(response)}",
                            response.status_code,
                        )
        except httpx.HTTPError as err:
            raise ApiError(f"cannot reach {self.endpoint}: {err}") from err

    # --- annotation queues (docs/annotation-queues.md) -----------------------------------

    def annotation_queue(self, name: str) -> dict[str, Any] | None:
        """The queue of this name, or None."""
        found = self.request("GET", "/annotation-queues", params={"name": name, "limit": 1})
        return dict(found[0]) if found else None

    def create_annotation_queue(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.request("POST", "/annotation-queues", json=body))

    def queue_size(self, queue_id: str) -> int:
        return int(self.request("GET", f"/annotation-queues/{queue_id}/size")["size"])

    def add_runs_to_queue(self, queue_id: str, runs: list[dict[str, Any]]) -> list[Any]:
        """Add runs by key (``run_id``, ``session_id``, ``start_time``), in order; a run
        already in the queue keeps its place."""
        added: list[Any] = []
        for start in range(0, len(runs), 1000):  # the server's limit per request
            batch = runs[start : start + 1000]
            added += self.request("POST", f"/annotation-queues/{queue_id}/runs/by-key", json=batch)
        return added

    def queue_runs(self, queue_id: str, status: str | None = None) -> list[dict[str, Any]]:
        """Every run of a queue in its order, each with ``queue_run_id`` and ``added_at``."""
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"limit": 100} | ({"status": status} if status else {})
        while True:
            page = self.request(
                "GET", f"/annotation-queues/{queue_id}/runs", params={**params, "offset": len(out)}
            )
            out += page
            if len(page) < 100:
                return out

    def mark_reviewed(self, queue_id: str, queue_run_id: str) -> dict[str, Any]:
        """Mark an item reviewed by this client's key, now."""
        found = self.request(
            "POST", f"/annotation-queues/status/{queue_run_id}", json={"status": "completed"}
        )
        return dict(found)

    def root_runs(self, session_id: str, example_ids: list[str]) -> list[dict[str, Any]]:
        """The root runs of a session on these examples (id, session, start, example)."""
        runs: list[dict[str, Any]] = []
        for start in range(0, len(example_ids), 100):
            body: dict[str, Any] = {
                "session": [session_id],
                "reference_example": example_ids[start : start + 100],
                "is_root": True,
                "limit": 100,
                "select": ["reference_example_id"],
            }
            while True:
                page = self.request("POST", "/runs/query", json=body)
                runs += page["runs"]
                cursor = page["cursors"].get("next")
                if not cursor:
                    break
                body["cursor"] = cursor
        return runs
