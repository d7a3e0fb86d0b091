"""Hostile and large bodies against a real ``evaldelta serve`` process (issue 15).

Compression bombs are refused without stalling anyone else or costing more memory than
the budget of decoded bytes in flight; an ordinary request of N bytes costs a bounded
multiple of N. Memory is the server process's own, read from ``/proc/<pid>/status``
(``VmHWM`` reset through ``clear_refs``), so bounds leave room for a noisy machine.
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import orjson
import pytest
import zstandard

from tests.conftest import Server, run_server
from tests.support.cli_process import Served, serving
from tests.support.delta_seed import seed_scored, stream_body, stream_path
from tests.support.hostile_probe import (
    BOUNDARY_HEADERS,
    MiB,
    gzip_bomb,
    reset_peak,
    runs_of_size,
    status,
    zstd_bomb,
)
from tests.support.ingest import multipart_body, new_run, run_parts, unique
from tests.support.sse import delta_stream

# Small limits so that the test is quick; the bounds scale with them.
MAX_DECODED = 64 * MiB
IN_FLIGHT = 128 * MiB
# What the process may add on top of the bodies it holds: allocator slack, thread stacks,
# the stream and ingest work of the other clients.
SLACK = 224 * MiB
ANSWER_WITHIN = 0.5


@contextmanager
def served(tmp_path: Path, name: str, **settings: str) -> Iterator[tuple[Served, str]]:
    with serving(tmp_path / name, **settings) as running:
        yield running, running.printed_exports()["LANGSMITH_API_KEY"]


def test_bombs_stall_no_one_and_stay_within_the_budget(tmp_path: Path) -> None:
    """Twelve bombs (zstd and gzip, each 512 MiB of zeros) in two waves of six: each is
    413 or 429 with Retry-After; meanwhile ``/info`` answers and delta streams start
    (their first event arrives) within 0.5 s, every stream is complete, and the server's
    RSS stays within the budget plus slack."""
    settings = {"max_decoded_bytes": str(MAX_DECODED), "decoded_bytes_in_flight": str(IN_FLIGHT)}
    with served(tmp_path, "data", **settings) as (server, key):
        api = httpx.Client(base_url=server.url + "/api/v1", headers={"x-api-key": key}, timeout=60)
        keys = ["k0", "k1"]
        world = seed_scored(
            api,
            examples=20,
            experiments=3,
            keys=keys,
            score=lambda rank, index, key: (rank * 7 + index * 3 + len(key)) % 5 / 4,
            start=datetime(2026, 3, 1, tzinfo=UTC),
        )
        bombs = [("zstd", zstd_bomb(512 * MiB)), ("gzip", gzip_bomb(512 * MiB))] * 3
        pid = server.process.pid
        before = reset_peak(pid)
        done = threading.Event()
        info_times: list[float] = []
        stream_times: list[float] = []
        rss: list[int] = []

        def poll_info() -> None:
            with httpx.Client(base_url=server.url, timeout=30) as client:
                while not done.is_set():
                    start = time.monotonic()
                    assert client.get("/info").status_code == 200
                    info_times.append(time.monotonic() - start)
                    time.sleep(0.01)

        def poll_stream() -> None:
            with httpx.Client(
                base_url=server.url + "/api/v1", headers={"x-api-key": key}, timeout=30
            ) as client:
                while not done.is_set():
                    start = time.monotonic()
                    request = client.build_request(
                        "POST", stream_path(world), json=stream_body(world, keys)
                    )
                    response = client.send(request, stream=True)
                    chunks = response.iter_bytes()
                    first = next(chunks)  # the stream's first event: it is answering
                    stream_times.append(time.monotonic() - start)
                    content = first + b"".join(chunks)
                    response.close()
                    assert response.status_code == 200
                    delta_stream(content, keys, world["sessions"][1:])

        def sample_rss() -> None:
            while not done.is_set():
                rss.append(status(pid)["VmRSS"])
                time.sleep(0.01)

        def send(bomb: tuple[str, bytes]) -> httpx.Response:
            encoding, body = bomb
            headers = {**BOUNDARY_HEADERS, "content-encoding": encoding, "x-api-key": key}
            return httpx.post(
                server.url + "/api/v1/runs/multipart", content=body, headers=headers, timeout=60
            )

        watchers = [threading.Thread(target=f) for f in (poll_info, poll_stream, sample_rss)]
        for watcher in watchers:
            watcher.start()
        try:
            time.sleep(0.3)
            answers = []
            with ThreadPoolExecutor(len(bombs)) as pool:
                for _ in range(2):
                    answers += list(pool.map(send, bombs))
            time.sleep(0.3)
        finally:
            done.set()
            for watcher in watchers:
                watcher.join()
        peak = max(status(pid)["VmHWM"], *rss) - before

        for answer in answers:
            assert answer.status_code in (413, 429), answer.text
            assert isinstance(answer.json()["detail"], str)
            if answer.status_code == 429:
                assert answer.headers["retry-after"] == "1"
        assert 413 in [a.status_code for a in answers]
        assert len(info_times) > 10 and len(stream_times) > 2
        assert max(info_times) < ANSWER_WITHIN, sorted(info_times)[-5:]
        assert max(stream_times) < ANSWER_WITHIN, sorted(stream_times)[-5:]
        print(
            f"bombs: {sorted(a.status_code for a in answers)}, /info"
            f" {sorted(info_times)[-5:]} of {len(info_times)}, streams {sorted(stream_times)[-5:]}"
            f" of {len(stream_times)},"
            f" peak RSS +{peak / MiB:.0f} MiB"
        )
        assert peak < IN_FLIGHT + SLACK, f"peak RSS +{peak / MiB:.0f} MiB"

        # Every bomb gave its budget back: a body that needs much of it goes through.
        run = new_run(unique("after"), outputs={"text": "z" * (40 * MiB)})
        body, headers = multipart_body(run_parts("post", run))
        packed = zstandard.ZstdCompressor().compress(body)
        response = api.post(
            "/runs/multipart", content=packed, headers={**headers, "content-encoding": "zstd"}
        )
        assert response.status_code == 202, response.text
        api.close()


def _bodies(size: int, string: int) -> dict[str, tuple[str, bytes, dict[str, str], int]]:
    """Per label: the route, the body as sent, its headers, and its decoded size N."""
    runs = runs_of_size(size)
    multipart, headers = multipart_body([p for run in runs for p in run_parts("post", run)])
    large = new_run(unique("large"), outputs={"text": "y" * string})
    large_body, _ = multipart_body(run_parts("post", large))
    packed = zstandard.ZstdCompressor(level=3).compress(multipart)
    json_body = orjson.dumps({"post": runs})
    return {
        "json": ("/runs/batch", json_body, {"content-type": "application/json"}, len(json_body)),
        "multipart": ("/runs/multipart", multipart, headers, len(multipart)),
        "zstd": (
            "/runs/multipart",
            packed,
            {**headers, "content-encoding": "zstd"},
            len(multipart),
        ),
        "large-string": ("/runs/multipart", large_body, headers, len(large_body)),
    }


# Peak RSS above the server's RSS just before, as a multiple of the decoded size N, for a
# request like one the server has taken before (measured figures and how they were taken:
# docs/reliability.md, "Hostile input").
BOUND = {"json": 10, "multipart": 10, "zstd": 10, "large-string": 8}


@pytest.mark.parametrize("kind", list(BOUND))
def test_a_request_costs_a_bounded_multiple_of_its_size(tmp_path: Path, kind: str) -> None:
    with served(tmp_path, kind) as (server, key):

        def send(route: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
            return httpx.post(
                server.url + "/api/v1" + route,
                content=body,
                headers={**headers, "x-api-key": key},
                timeout=120,
            )

        # One request of the same kind and size first: the first large write of a fresh
        # server also grows the store's buffers and the allocator's arenas, once (about
        # 200 MiB, bounded by the store's memory limit), which later requests reuse.
        warm = send(*_bodies(8 * MiB, 32 * MiB)[kind][:3])
        assert warm.status_code == 202, warm.text
        route, body, headers, size = _bodies(8 * MiB, 32 * MiB)[kind]
        time.sleep(0.3)
        before = reset_peak(server.process.pid)
        response = send(route, body, headers)
        peak = status(server.process.pid)["VmHWM"] - before
    assert response.status_code == 202, response.text
    print(f"{kind}: N={size / MiB:.1f} MiB peak +{peak / MiB:.0f} MiB ({peak / size:.1f} N)")
    assert peak < BOUND[kind] * size + 32 * MiB


# --- JSON routes read their bodies through the same limits --------------------------------


def _packed(encoding: str, data: bytes) -> bytes:
    if encoding == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    return gzip.compress(data)


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
def test_json_routes_decode_compressed_bodies(shared_server: Server, encoding: str) -> None:
    """FastAPI does not undo Content-Encoding; the server does, for every route alike."""
    name = unique("packed")
    body = _packed(encoding, orjson.dumps({"name": name, "description": "d" * 10_000}))
    with shared_server.http() as http:
        created = http.post(
            "/datasets",
            content=body,
            headers={"content-type": "application/json", "content-encoding": encoding},
        )
        assert created.status_code == 200, created.text
        assert created.json()["name"] == name


def test_json_routes_refuse_bombs_and_unknown_encodings_in_json(shared_server: Server) -> None:
    json_headers = {"content-type": "application/json"}
    bomb = zstd_bomb(1024 * MiB)  # eight times the decoded-size cap
    with shared_server.http() as http:
        answer = http.post(
            "/feedback", content=bomb, headers={**json_headers, "content-encoding": "zstd"}
        )
        assert answer.status_code == 413 and "decoded body" in answer.json()["detail"]
        answer = http.post(
            "/datasets", content=b"{}", headers={**json_headers, "content-encoding": "br"}
        )
        assert answer.status_code == 415 and "Content-Encoding" in answer.json()["detail"]
        corrupt = http.post(
            "/datasets", content=b"not zstd", headers={**json_headers, "content-encoding": "zstd"}
        )
        assert corrupt.status_code == 400 and "corrupt" in corrupt.json()["detail"]


def test_a_chunked_body_over_the_limit_is_413_on_json_routes_too(tmp_path: Path) -> None:
    """Without Content-Length the size is counted while read; FastAPI used to turn the
    error raised then into a 400 "There was an error parsing the body"."""

    def chunks() -> Iterator[bytes]:
        yield b'{"name": "'
        for _ in range(30):
            yield b"z" * 1_000
        yield b'"}'

    with run_server(tmp_path / "data", max_body_bytes=10_000) as running, running.http() as http:
        answer = http.post(
            "/datasets", content=chunks(), headers={"content-type": "application/json"}
        )
        assert answer.status_code == 413, answer.text
        assert "larger than 10000 bytes" in answer.json()["detail"]


# --- the budget of decoded bytes in flight ------------------------------------------------


def test_a_spent_budget_refuses_large_bodies_at_once_but_never_small_ones(
    tmp_path: Path,
) -> None:
    """A client holds most of the budget by sending half of a large body and stalling. A
    second large body is 429 with Retry-After before it is read; a small one goes through
    meanwhile; once the first client goes away the large body is accepted."""
    limits = {"max_decoded_bytes": 8 * MiB, "decoded_bytes_in_flight": 8 * MiB}
    with run_server(tmp_path / "data", **limits) as running, running.http() as http:
        large = new_run(unique("large"), outputs={"text": "l" * (6 * MiB)})
        body, headers = multipart_body(run_parts("post", large))
        address = urlsplit(running.url)
        head = (
            f"POST /api/v1/runs/multipart HTTP/1.1\r\nHost: x\r\nx-api-key: {running.key}\r\n"
            f"Content-Type: {headers['content-type']}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        with socket.create_connection((address.hostname, address.port)) as stalled:
            stalled.sendall(head.encode() + body[: len(body) // 2])
            time.sleep(0.5)  # the route has begun reading: the body's size is reserved
            refused = http.post("/runs/multipart", content=body, headers=headers)
            assert refused.status_code == 429, refused.text
            assert refused.headers["retry-after"] == "1"
            assert "retry" in refused.json()["detail"]
            small = new_run(unique("small"), outputs={"text": "s" * 500_000})
            answer = http.post(
                "/runs/multipart",
                content=multipart_body(run_parts("post", small))[0],
                headers=headers,
            )
            assert answer.status_code == 202, answer.text
        deadline = time.monotonic() + 10
        while (
            answer := http.post("/runs/multipart", content=body, headers=headers)
        ).status_code == 429:
            assert time.monotonic() < deadline, "the stalled client's reservation was never freed"
            time.sleep(0.1)
        assert answer.status_code == 202, answer.text
        assert http.get(f"/runs/{large['id']}").status_code == 200
