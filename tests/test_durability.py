"""Crash durability: ``kill -9`` the server in the middle of sustained ingest, start it again.

Several clients post SDK-shaped ``POST /runs/multipart`` bodies (post, patch and feedback
parts, half of them zstd-compressed) and ``POST /feedback`` at once, and note which
requests got a 2xx.  After the kill and a restart on the same store, every acknowledged
run (as its patch left it) and every acknowledged feedback row is there exactly once;
then the clients send again what failed or was in flight, and a few acknowledged requests
too (an answer lost on the way looks the same to a client), and everything sent is there
exactly once.  On DuckDB and on chDB.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import orjson
import pytest
import zstandard

from tests.conftest import STORE_KINDS
from tests.support.cli_process import Served, serving
from tests.support.ingest import multipart_body, new_run, patch_of, run_parts, runs_in, unique

MULTIPART_CLIENTS = 3
FEEDBACK_CLIENTS = 2
RUNS_PER_REQUEST = 5
KILL_AFTER_ACKNOWLEDGED = 60  # requests, over all clients
RESENT_ACKNOWLEDGED = 10


@dataclass
class Sent:
    """One request as a client sent it, and whether the server acknowledged it."""

    path: str
    body: bytes
    headers: dict[str, str]
    runs: dict[str, int]  # run id -> the ``n`` its patch sets as outputs
    feedback: dict[str, float]  # feedback id -> score
    acknowledged: bool = False


class Ingest:
    """The clients: each sends its next request as soon as the last is answered, until the
    server stops answering."""

    def __init__(self, url: str, key: str, project: str) -> None:
        self.url, self.key, self.project = url, key, project
        self.sent: list[Sent] = []
        self.run_ids: list[str] = []  # runs sent so far, for the feedback clients to score
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._client, args=(self._multipart,), daemon=True)
            for _ in range(MULTIPART_CLIENTS)
        ] + [
            threading.Thread(target=self._client, args=(self._feedback,), daemon=True)
            for _ in range(FEEDBACK_CLIENTS)
        ]

    def _multipart(self) -> Sent:
        parts: list[tuple[str, Any]] = []
        runs, feedback = {}, {}
        for _ in range(RUNS_PER_REQUEST):
            run, n = new_run(self.project), random.randrange(1000)
            parts += run_parts("post", run) + run_parts("patch", patch_of(run, outputs={"n": n}))
            fid, score = str(uuid4()), random.random()
            body = {"id": fid, "run_id": run["id"], "trace_id": run["id"], "key": "kept"}
            parts.append((f"feedback.{fid}", {**body, "score": score}))
            runs[run["id"]], feedback[fid] = n, score
        body, headers = multipart_body(parts)
        if random.random() < 0.5:  # the SDK compresses with zstd when the server offers it
            size = len(body)
            body = zstandard.ZstdCompressor().compress(body)
            headers |= {"content-encoding": "zstd", "x-pre-compressed-size": str(size)}
        with self.lock:
            self.run_ids += runs
        return Sent("/runs/multipart", body, headers, runs, feedback)

    def _feedback(self) -> Sent:
        with self.lock:
            if not self.run_ids:  # feedback before any run: stored, and counts once it comes
                self.run_ids.append(str(uuid4()))
            run_id = random.choice(self.run_ids)
        fid, score = str(uuid4()), random.random()
        body = {"id": fid, "run_id": run_id, "key": "extra", "score": score}
        headers = {"content-type": "application/json"}
        return Sent("/feedback", orjson.dumps(body), headers, {}, {fid: score})

    def _client(self, make: Any) -> None:
        with httpx.Client(base_url=self.url, headers={"x-api-key": self.key}, timeout=30) as http:
            while True:
                request: Sent = make()
                with self.lock:
                    self.sent.append(request)
                try:
                    answer = http.post(request.path, content=request.body, headers=request.headers)
                except httpx.TransportError:
                    return  # the server is gone
                request.acknowledged = answer.is_success

    def acknowledged(self) -> int:
        with self.lock:
            return sum(s.acknowledged for s in self.sent)


def stored(url: str, key: str, project: str, run_ids: list[str]) -> tuple[Counter[str], ...]:
    """Stored runs (id -> count, and id -> outputs' ``n``) and feedback (id -> count, score)."""
    with httpx.Client(base_url=url, headers={"x-api-key": key}, timeout=60) as http:
        runs = runs_in(http, project)
        feedback: list[dict[str, Any]] = []
        for first in range(0, len(run_ids), 40):  # keep the query string short
            params: dict[str, Any] = {"run": run_ids[first : first + 40], "limit": 100}
            for offset in range(0, 10**6, 100):
                page = http.get("/feedback", params={**params, "offset": offset}).json()
                feedback += page
                if len(page) < 100:
                    break
    run_count = Counter(r["id"] for r in runs)
    outputs = Counter({r["id"]: (r["outputs"] or {}).get("n", -1) for r in runs})
    feedback_count = Counter(f["id"] for f in feedback)
    scores = Counter({f["id"]: f["score"] for f in feedback})
    return run_count, outputs, feedback_count, scores


def check_exactly_once(served: Served, ingest: Ingest, requests: list[Sent]) -> None:
    """Every run and feedback row of ``requests`` is stored once, as sent."""
    run_ids = sorted({r for s in ingest.sent for r in s.runs} | set(ingest.run_ids))
    run_count, outputs, feedback_count, scores = stored(
        served.url, ingest.key, ingest.project, run_ids
    )
    for request in requests:
        for run_id, n in request.runs.items():
            assert run_count[run_id] == 1, f"run {run_id} stored {run_count[run_id]} times"
            assert outputs[run_id] == n, "a run lost its patch"
        for feedback_id, score in request.feedback.items():
            times = feedback_count[feedback_id]
            assert times == 1, f"feedback {feedback_id} stored {times} times"
            assert scores[feedback_id] == pytest.approx(score)
    assert max(run_count.values(), default=1) == 1 and max(feedback_count.values(), default=1) == 1


def store_args(kind: str, tmp_path: Path) -> list[str]:
    # chDB allows one process per directory: the server's own, not the test run's shared one.
    return [] if kind == "duckdb" else ["--store", f"chdb:///{tmp_path / 'chdb'}"]


@pytest.mark.parametrize("kind", STORE_KINDS)
def test_acknowledged_writes_survive_kill_9_and_retries_store_them_once(
    tmp_path: Path, kind: str
) -> None:
    data_dir, args = tmp_path / "data", store_args(kind, tmp_path)
    with serving(data_dir, *args) as first:
        key = first.printed_exports()["LANGSMITH_API_KEY"]
        ingest = Ingest(first.url, key, unique("crash"))
        for thread in ingest.threads:
            thread.start()
        deadline = time.monotonic() + 60
        while ingest.acknowledged() < KILL_AFTER_ACKNOWLEDGED:
            assert time.monotonic() < deadline, "ingest did not get going"
            time.sleep(0.01)
        first.kill_hard()  # SIGKILL while the clients are sending
        for thread in ingest.threads:
            thread.join(30)
            assert not thread.is_alive(), "a client hung on a dead server"

    acknowledged = [s for s in ingest.sent if s.acknowledged]
    unanswered = [s for s in ingest.sent if not s.acknowledged]
    assert len(acknowledged) >= KILL_AFTER_ACKNOWLEDGED
    assert len(unanswered) >= MULTIPART_CLIENTS + FEEDBACK_CLIENTS  # every client's last one

    with serving(data_dir, *args) as restarted:  # the store opens after the crash
        check_exactly_once(restarted, ingest, acknowledged)

        # The clients retry what got no answer, and resend some of what did.
        again = unanswered + random.sample(acknowledged, RESENT_ACKNOWLEDGED)
        with httpx.Client(base_url=restarted.url, headers={"x-api-key": key}, timeout=30) as http:
            for request in again:
                answer = http.post(request.path, content=request.body, headers=request.headers)
                assert answer.is_success, answer.text
        check_exactly_once(restarted, ingest, ingest.sent)
