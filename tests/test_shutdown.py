"""SIGTERM to a real ``evaldelta serve`` process: open delta streams finish, or end in band
with ``end``; every write acknowledged before is there after a restart; the process exits 0,
promptly, even with a client that never finishes its request."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.cli_process import EXIT_TIMEOUT, Served, serving
from tests.support.delta_seed import seed_scored
from tests.support.ingest import multipart_body, new_run, run_parts, unique
from tests.support.sse import SSEParser, delta_stream, parse_events

KEYS = [f"key{i:02d}" for i in range(100)]  # the most one stream may ask for


def terminate(served: Served) -> int:
    """SIGTERM, and the exit code once the process is gone."""
    served.process.send_signal(signal.SIGTERM)
    return served.process.wait(timeout=EXIT_TIMEOUT)


def seed(http: httpx.Client) -> dict[str, Any]:
    """20 examples, a baseline and two experiments scored on all ``KEYS``."""
    return seed_scored(
        http,
        examples=20,
        experiments=3,
        keys=KEYS,
        score=lambda rank, index, _key: (index * (rank + 1)) % 7,
        start=datetime(2026, 4, 1, tzinfo=UTC),
    )


class Stream:
    """A delta stream over all ``KEYS``, read up to its first event, then on demand."""

    def __init__(self, http: httpx.Client, world: dict[str, Any]) -> None:
        baseline, *self.comparisons = world["sessions"]
        body = {
            "baseline_session_id": baseline,
            "comparison_session_ids": self.comparisons,
            "feedback_keys": KEYS,
        }
        path = f"/api/v1/datasets/{world['dataset']}/runs/delta/stream"
        self._context = http.stream("POST", path, json=body, timeout=EXIT_TIMEOUT)
        response = self._context.__enter__()
        assert response.status_code == 200
        self._chunks = response.iter_raw()
        self.raw = b""
        parser = SSEParser()
        while not parser.feed(chunk := next(self._chunks)):
            self.raw += chunk
        self.raw += chunk

    def rest(self) -> tuple[dict[str, Any], dict[str, str]]:
        """Read to the end; the stream's lists and in-band errors by key, strictly checked."""
        for chunk in self._chunks:
            self.raw += chunk
        self._context.__exit__(None, None, None)
        return delta_stream(self.raw, KEYS, self.comparisons)


class Ingest:
    """Clients posting one run with its feedback per request, as fast as answers come,
    recording the runs whose request was acknowledged; they stop at the first refusal."""

    def __init__(self, url: str, key: str, clients: int = 2) -> None:
        self.project = unique("shutdown")
        self.acknowledged: list[str] = []
        self._url, self._key = url, key
        self._threads = [threading.Thread(target=self._post, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _post(self) -> None:
        with httpx.Client(base_url=self._url, headers={"x-api-key": self._key}) as http:
            while True:
                run = new_run(self.project)
                parts: list[tuple[str, Any]] = run_parts("post", run)
                item = {"id": run["id"], "run_id": run["id"], "trace_id": run["id"]}
                parts.append((f"feedback.{run['id']}", {**item, "key": "kept", "score": 1}))
                body, headers = multipart_body(parts)
                try:
                    response = http.post("/runs/multipart", content=body, headers=headers)
                except httpx.TransportError:
                    return  # the server stopped accepting requests
                if response.status_code != 202:
                    return
                self.acknowledged.append(run["id"])

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=EXIT_TIMEOUT)


def stored_runs(url: str, key: str, project: str) -> tuple[set[str], set[str]]:
    """The runs of a project and the runs with feedback, as the SDK reads them."""
    from langsmith import Client

    client = Client(api_url=url, api_key=key)
    runs = {str(r.id) for r in client.list_runs(project_name=project)}
    scored = {str(f.run_id) for f in client.list_feedback(run_ids=list(runs))} if runs else set()
    return runs, scored


def test_sigterm_lets_open_streams_finish_within_the_grace_period(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, shutdown_grace_seconds="60") as served:
        key = served.printed_exports()["LANGSMITH_API_KEY"]
        with httpx.Client(base_url=served.url, headers={"x-api-key": key}) as http:
            world = seed(http)
            stream = Stream(http, world)
            served.process.send_signal(signal.SIGTERM)  # while the stream is open
            deltas, errors = stream.rest()
        assert errors == {} and set(deltas) == set(KEYS)
        assert served.process.wait(timeout=EXIT_TIMEOUT) == 0
    assert "Traceback" not in served.stderr


def test_sigterm_ends_open_streams_in_band_and_keeps_every_acknowledged_write(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    with serving(data_dir, shutdown_grace_seconds="0") as served:
        key = served.printed_exports()["LANGSMITH_API_KEY"]
        with httpx.Client(base_url=served.url, headers={"x-api-key": key}) as http:
            world = seed(http)
            ingest = Ingest(served.url, key)
            while len(ingest.acknowledged) < 5:  # the writer is busy when the signal comes
                time.sleep(0.01)
            stream = Stream(http, world)
            with slow_client(served.url):  # never finishes its request
                assert terminate(served) == 0
            deltas, errors = stream.rest()
            ingest.join()
    # The stream was cut: the keys it had not sent are named in band, then `end`.
    assert errors, "the stream finished before the shutdown reached it"
    assert set(deltas) | set(errors) == set(KEYS)
    assert all("the server is shutting down" in e for e in errors.values())
    assert parse_events(stream.raw)[-1].event == "end"
    # The client that never finished its request was cut off when the grace ran out.
    assert "Cancel 1 running task(s)" in served.stderr
    assert "Traceback" not in served.stderr

    with serving(data_dir) as restarted:
        runs, scored = stored_runs(restarted.url, key, ingest.project)
    assert ingest.acknowledged, "no write was acknowledged"
    assert set(ingest.acknowledged) <= runs
    assert set(ingest.acknowledged) <= scored


@contextmanager
def slow_client(url: str) -> Iterator[None]:
    """A connection that sent its headers and half its body, and then nothing."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=EXIT_TIMEOUT) as sock:
        sock.sendall(
            f"POST /api/v1/datasets HTTP/1.1\r\nHost: {parts.netloc}\r\n"
            'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"name":'.encode()
        )
        yield


@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGINT"])
def test_an_idle_server_exits_zero_on(tmp_path: Path, signal_name: str) -> None:
    with serving(tmp_path / "data") as served:
        served.process.send_signal(getattr(signal, signal_name))
        assert served.process.wait(timeout=EXIT_TIMEOUT) == 0
    assert "Traceback" not in served.stderr
