"""The delta stream as a client sees it on the wire.

Strict SSE framing (``tests/sse.py``), chunks that leave as soon as their key is computed,
a disconnect that stops the remaining work, a failing key reported in band, and the raw
HTTP/1.1 exchange a ``curl -N`` user would see.  The server runs in this process (see
``conftest.run_server``), so the store's ``delta`` method can be wrapped to hold, count or
break the computation of chosen keys.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import orjson
import pytest

from tests.conftest import Server
from tests.support.delta_seed import (
    World,
    create_dataset,
    create_examples,
    create_experiment,
    delta,
    feedback,
    post_feedback_multipart,
    post_runs,
    read_world,
    run_post,
)
from tests.support.sse import Event, SSEParser, delta_stream, parse_events

KEYS = ["k0", "k1", "k2", "k3"]


@pytest.fixture(scope="module")
def world(shared_server: Server) -> dict[str, Any]:
    """12 examples, a baseline and two experiments, four keys with mixed scores."""
    rng = random.Random(42)
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    with shared_server.http() as http:
        dataset = create_dataset(http)
        examples = create_examples(http, dataset, [t0 + timedelta(seconds=i) for i in range(12)])
        sessions = [create_experiment(http, dataset) for _ in range(3)]
        runs, fb = [], []
        for session in sessions:
            for example in examples:
                for _ in range(rng.choice([1, 2])):
                    run = run_post({"session_id": session}, example["id"], start=t0)
                    runs.append(run)
                    fb += [
                        feedback(run, key, rng.choice([None, True, False, 0.5, 2])) for key in KEYS
                    ]
        post_runs(http, runs)
        post_feedback_multipart(http, fb)
        ref = read_world(http, dataset, sessions)
    return {"dataset": dataset, "sessions": sessions, "world": ref}


def stream_body(
    world: dict[str, Any], keys: list[str], comparisons: list[str] | None = None
) -> dict[str, Any]:
    baseline, *others = world["sessions"]
    return {
        "baseline_session_id": baseline,
        "comparison_session_ids": comparisons or others,
        "feedback_keys": keys,
    }


def stream_url(world: dict[str, Any]) -> str:
    return f"/datasets/{world['dataset']}/runs/delta/stream"


def wrap_delta(
    monkeypatch: pytest.MonkeyPatch, server: Server, before: Callable[[str], None]
) -> None:
    """Run ``before(key)`` in the engine's thread each time the store computes a key."""
    store = server.app.state.store
    original = store.delta

    def wrapped(query: Any, key: str, **kwargs: Any) -> Any:
        before(key)
        return original(query, key, **kwargs)

    monkeypatch.setattr(store, "delta", wrapped)


def keys_of(event: Event) -> list[str]:
    assert event.data is not None
    chunk = orjson.loads(event.data)
    errors = chunk["errors"] or []
    return [*chunk["feedback_deltas"], *(k for e in errors for k in e["feedback_keys"])]


# --- framing and shape --------------------------------------------------------------------


def test_stream_framing_and_answers(shared_server: Server, world: dict[str, Any]) -> None:
    """Strict SSE; every key once (duplicates asked once), every comparison session in
    every key, the baseline as a comparison and an unused key give empty lists, and every
    list is the reference's and the single-key endpoint's."""
    baseline, first, second = world["sessions"]
    comparisons = [first, second, baseline, first]
    keys = [*KEYS, "unused", "k0"]
    with shared_server.http() as http:
        response = http.post(stream_url(world), json=stream_body(world, keys, comparisons))
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].split(";")[0] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        deltas, errors = delta_stream(response.content, keys, comparisons)
        single = {
            k: delta(http, world["dataset"], baseline, [first, second, baseline], k)
            for k in set(keys)
        }
    assert errors == {}
    events = parse_events(response.content)
    assert len(events) == len(set(keys)) + 1
    for event in events:  # exactly "event: <type>" then one "data: <json>" line
        assert [name for name, _ in event.fields] == ["event", "data"], event.fields
    ref: World = world["world"]
    empty: dict[str, list[str]] = {"improved_examples": [], "regressed_examples": []}
    for key in set(keys):
        assert set(deltas[key]) == {first, second, baseline}
        assert deltas[key] == ref.expected(baseline, [first, second, baseline], key), key
        assert deltas[key] == single[key], key
        assert deltas[key][baseline] == empty
    assert deltas["unused"] == {first: empty, second: empty, baseline: empty}
    assert any(deltas["k0"][first].values()) and any(deltas["k0"][second].values())


# --- incremental delivery -------------------------------------------------------------------


def test_first_chunk_leaves_before_the_second_key_is_computed(
    shared_server: Server, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()

    def hold_second(key: str) -> None:
        if key == KEYS[1]:
            entered.set()
            release.wait(timeout=20)

    wrap_delta(monkeypatch, shared_server, hold_second)
    parser = SSEParser()
    events: list[Event] = []
    try:
        with (
            shared_server.http() as http,
            http.stream(
                "POST", stream_url(world), json=stream_body(world, KEYS), timeout=10
            ) as response,
        ):
            assert response.status_code == 200
            chunks = response.iter_raw()
            while not events:
                events += parser.feed(next(chunks))
            # The first key arrived while the second is still held in the engine.
            assert entered.wait(timeout=10), "the engine never started the second key"
            assert not release.is_set()
            assert [keys_of(e) for e in events] == [[KEYS[0]]]
            release.set()
            for chunk in chunks:
                events += parser.feed(chunk)
            events += parser.close()
    finally:
        release.set()
    assert [e.event for e in events] == ["data"] * len(KEYS) + ["end"]
    assert [keys_of(e) for e in events[:-1]] == [[k] for k in KEYS]


# --- a disconnect stops the work --------------------------------------------------------------


def test_disconnect_stops_the_remaining_keys(
    shared_server: Server, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    computed: list[str] = []

    def count_slowly(key: str) -> None:
        computed.append(key)
        time.sleep(0.05)

    wrap_delta(monkeypatch, shared_server, count_slowly)
    keys = [f"key{i}" for i in range(50)]
    with (
        shared_server.http() as http,
        http.stream(
            "POST", stream_url(world), json=stream_body(world, keys), timeout=10
        ) as response,
    ):
        parser = SSEParser()
        chunks = response.iter_raw()
        events: list[Event] = []
        while not events:
            events += parser.feed(next(chunks))
        assert keys_of(events[0]) == ["key0"]
    # Leaving the block closed the half-read response, and with it the connection.
    time.sleep(0.5)
    settled = len(computed)
    time.sleep(0.5)
    assert len(computed) == settled, "the engine kept computing after the client left"
    assert settled < 10, computed


# --- errors in band ---------------------------------------------------------------------------


def test_a_failing_key_is_reported_in_its_chunk(
    shared_server: Server, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    def break_boom(key: str) -> None:
        if key == "boom":
            raise RuntimeError("the store fell over on boom")

    wrap_delta(monkeypatch, shared_server, break_boom)
    keys = ["k0", "boom", "k1"]
    baseline, *comparisons = world["sessions"]
    with shared_server.http() as http:
        response = http.post(stream_url(world), json=stream_body(world, keys))
    assert response.status_code == 200
    deltas, errors = delta_stream(response.content, keys, comparisons)
    assert set(deltas) == {"k0", "k1"} and set(errors) == {"boom"}
    assert "the store fell over on boom" in errors["boom"]
    events = parse_events(response.content)
    boom = orjson.loads(events[1].data or "")
    assert boom["errors"] == [{"feedback_keys": ["boom"], "error": errors["boom"]}]
    ref: World = world["world"]
    for key in ("k0", "k1"):
        assert deltas[key] == ref.expected(baseline, comparisons, key)


def test_a_failure_before_any_key_still_ends_the_stream(
    shared_server: Server, world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even the lookup of the keys' direction failing is reported in band, then ``end``."""

    def broken(*_: Any) -> set[str]:
        raise RuntimeError("feedback configs unavailable")

    monkeypatch.setattr(shared_server.app.state.store, "lower_is_better", broken)
    with shared_server.http() as http:
        response = http.post(stream_url(world), json=stream_body(world, KEYS))
    assert response.status_code == 200
    deltas, errors = delta_stream(response.content, KEYS, world["sessions"][1:])
    assert deltas == {} and set(errors) == set(KEYS)
    assert all("feedback configs unavailable" in e for e in errors.values())


# --- what curl -N sees ------------------------------------------------------------------------


def test_curl_style_line_by_line(shared_server: Server, world: dict[str, Any]) -> None:
    """Read the stream line by line as it comes, as ``curl -N ... | while read`` would."""
    with (
        shared_server.http() as http,
        http.stream(
            "POST",
            stream_url(world),
            json=stream_body(world, KEYS),
            headers={"accept": "text/event-stream"},
            timeout=10,
        ) as response,
    ):
        assert response.http_version == "HTTP/1.1"
        assert response.headers["content-type"].split(";")[0] == "text/event-stream"
        assert "content-length" not in response.headers
        lines = list(response.iter_lines())
    expected: list[str] = []
    for index, key in enumerate(KEYS):
        assert lines[3 * index] == "event: data"
        assert lines[3 * index + 1].startswith("data: ")
        assert keys_of(Event("data", lines[3 * index + 1][6:])) == [key]
        expected += [*lines[3 * index : 3 * index + 2], ""]
    assert lines == [*expected, "event: end", "data: {}", ""]


def test_raw_http11_chunked_stream(shared_server: Server, world: dict[str, Any]) -> None:
    """Over a bare socket: ``Transfer-Encoding: chunked``, no length, events in chunks."""
    url = urlsplit(shared_server.url)
    body = orjson.dumps(stream_body(world, KEYS))
    request = (
        f"POST /api/v1{stream_url(world)} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"X-Api-Key: {shared_server.key}\r\nAccept: text/event-stream\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode() + body
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, rest = raw.partition(b"\r\n\r\n")
    status, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    assert status.startswith("HTTP/1.1 200")
    assert headers["transfer-encoding"] == "chunked" and "content-length" not in headers
    assert headers["content-type"].startswith("text/event-stream")
    payload = b""
    chunk_sizes = []
    while True:
        size_line, _, rest = rest.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        chunk_sizes.append(size)
        if size == 0:
            assert rest == b"\r\n"
            break
        payload, rest = payload + rest[:size], rest[size:]
        assert rest[:2] == b"\r\n"
        rest = rest[2:]
    assert len(chunk_sizes) > 2  # not one buffered blob
    deltas, errors = delta_stream(payload, KEYS, world["sessions"][1:])
    assert set(deltas) == set(KEYS) and errors == {}
