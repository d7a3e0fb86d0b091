"""Backpressure on writes: when the writer's queue is full, ingest is answered 429 with
``Retry-After`` at once (no hang), and nothing queued or retried is lost."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_server
from tests.support.ingest import multipart_body, new_run, patch_of, read_run, run_parts, unique


def _body(project: str) -> tuple[dict[str, Any], bytes, dict[str, str]]:
    run = new_run(project)
    patch = patch_of(run, outputs={"answer": run["id"]})
    body, headers = multipart_body(run_parts("post", run) + run_parts("patch", patch))
    return run, body, headers


def test_a_full_write_queue_answers_429_and_loses_nothing(tmp_path: Path) -> None:
    with run_server(tmp_path / "data", writer_queue_max=1) as server:
        store, writer = server.app.state.store, server.app.state.writer
        original = store.apply_ingest
        entered, gate = threading.Event(), threading.Event()

        def held(*args: Any, **kwargs: Any) -> Any:
            entered.set()
            gate.wait(30)
            return original(*args, **kwargs)

        project = unique("queue")
        bodies = [_body(project) for _ in range(3)]
        with (
            pytest.MonkeyPatch.context() as patch,
            ThreadPoolExecutor(2) as pool,
            server.http() as http,
        ):
            patch.setattr(store, "apply_ingest", held)

            def post(i: int) -> httpx.Response:
                _, body, headers = bodies[i]
                return http.post("/runs/multipart", content=body, headers=headers)

            first = pool.submit(post, 0)  # the writer takes it and is held
            assert entered.wait(10)
            second = pool.submit(post, 1)  # waits in the queue, which is now full
            deadline = time.monotonic() + 10
            while writer._queue.qsize() < 1:
                assert time.monotonic() < deadline, "the second request never queued"
                time.sleep(0.01)

            refused = post(2)
            assert refused.status_code == 429, refused.text
            assert refused.headers["retry-after"] == "1"
            assert "queue is full" in refused.json()["detail"]

            gate.set()
            assert first.result(10).status_code == 202
            assert second.result(10).status_code == 202
            assert post(2).status_code == 202  # the client's retry

            for run, _, _ in bodies:
                stored = read_run(http, run["id"])
                assert stored["outputs"] == {"answer": run["id"]}
