"""Limits on delta streams, as clients meet them: a tenant's number of open streams (429
with ``Retry-After`` beyond it, the slot back however a stream ends), a stream's time limit
(the rest in band, then ``end``), and a client that stops reading (it holds up no one, and
the server gives up on it).  The servers run in this process, so the store's ``delta`` can
be wrapped to hold a key's computation until the test lets it go.
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from evaldelta.server.app import create_app
from evaldelta.server.auth import create_key
from evaldelta.server.serving import server_for
from evaldelta.settings import Settings
from evaldelta.store import open_store
from tests.conftest import Server, run_server
from tests.support.delta_seed import post_runs, run_post, seed_scored, stream_body, stream_path
from tests.support.ingest import unique
from tests.support.sse import SSEParser, delta_stream

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def seed(http: httpx.Client, *, examples: int, experiments: int, keys: list[str]) -> dict[str, Any]:
    """A dataset whose experiments score every example on every key at random, so that
    nearly every example is improved or regressed in every comparison."""
    rng = random.Random(7)
    return seed_scored(
        http,
        examples=examples,
        experiments=experiments,
        keys=keys,
        score=lambda _rank, _index, _key: rng.random(),
        start=T0,
    )


def hold_key(monkeypatch: pytest.MonkeyPatch, server: Server, key: str) -> threading.Event:
    """Computing ``key`` blocks until the returned event is set."""
    release = threading.Event()
    store = server.app.state.store
    original = store.delta

    def wrapped(query: Any, k: str, **kwargs: Any) -> Any:
        if k == key:
            release.wait(timeout=60)
        if k == "boom":
            raise RuntimeError("boom failed in the store")
        return original(query, k, **kwargs)

    monkeypatch.setattr(store, "delta", wrapped)
    return release


def full_stream(http: httpx.Client, world: dict[str, Any], keys: list[str]) -> httpx.Response:
    response = http.post(stream_path(world), json=stream_body(world, keys))
    if response.status_code == 200:
        delta_stream(response.content, keys, world["sessions"][1:])
    return response


@contextmanager
def open_stream(
    http: httpx.Client, world: dict[str, Any], keys: list[str]
) -> Iterator[Callable[[], list[str]]]:
    """A stream left open after its first event; yields a function reading it to the end
    (the event types), and closes the connection if the block leaves it half read."""
    with http.stream("POST", stream_path(world), json=stream_body(world, keys)) as response:
        assert response.status_code == 200, response.read()
        chunks = response.iter_raw()
        parser = SSEParser()
        events = []
        while not events:
            events += parser.feed(next(chunks))

        def rest() -> list[str]:
            nonlocal events
            for chunk in chunks:
                events += parser.feed(chunk)
            events += parser.close()
            return [e.event for e in events]

        yield rest


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.05)


# --- the per-tenant limit -----------------------------------------------------------------------


def test_streams_beyond_the_tenant_limit_get_429_and_every_ending_frees_a_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        run_server(tmp_path / "data", max_streams_per_tenant=2) as server,
        server.http() as http,
        server.http("beta") as beta,
    ):
        world = seed(http, examples=5, experiments=2, keys=["k0", "k1"])
        beta_world = seed(beta, examples=3, experiments=2, keys=["k0"])
        release = hold_key(monkeypatch, server, "held")
        try:
            with (
                open_stream(http, world, ["k0", "held"]) as first,
                open_stream(http, world, ["k0", "held"]),
            ):
                over = http.post(stream_path(world), json=stream_body(world, ["k0"]))
                assert over.status_code == 429
                assert over.headers["content-type"] == "application/json"
                assert int(over.headers["retry-after"]) >= 1
                assert "2 delta streams open" in over.json()["detail"]
                # The limit is per tenant: another tenant streams as usual meanwhile.
                assert full_stream(beta, beta_world, ["k0"]).status_code == 200
                # A stream that ends normally gives its slot back, again and again.
                release.set()
                assert first() == ["data", "data", "end"]
                for _ in range(3):
                    assert full_stream(http, world, ["k0", "k1"]).status_code == 200
            release.clear()
            # The second stream was left half read: its client went away.  Its slot
            # comes back (asynchronously, when the server notices the disconnect).
            with (
                open_stream(http, world, ["k0", "held"]),
                open_stream(http, world, ["k0", "held"]),
            ):
                assert full_stream(http, world, ["k0"]).status_code == 429
            wait_until(
                lambda: full_stream(http, world, ["k0"]).status_code == 200,
                "the slots of streams whose clients left",
            )
            assert full_stream(http, world, ["k0"]).status_code == 200
            # A stream whose key fails in band also frees its slot.
            for _ in range(3):
                failed = http.post(stream_path(world), json=stream_body(world, ["boom"]))
                _, errors = delta_stream(failed.content, ["boom"], world["sessions"][1:])
                assert "boom failed in the store" in errors["boom"]
        finally:
            release.set()


def test_a_bad_request_over_the_limit_is_still_answered_for_what_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Validation comes first: a wrong dataset is 404 even when the tenant is at its limit,
    and the 429 names the limit in the standard error shape."""
    with (
        run_server(tmp_path / "data", tenants=("alpha",), max_streams_per_tenant=1) as server,
        server.http() as http,
    ):
        world = seed(http, examples=3, experiments=2, keys=["k0"])
        release = hold_key(monkeypatch, server, "held")
        try:
            with open_stream(http, world, ["k0", "held"]):
                missing = {**world, "dataset": "00000000-0000-4000-8000-000000000000"}
                assert full_stream(http, missing, ["k0"]).status_code == 404
                over = http.post(stream_path(world), json=stream_body(world, ["k0"]))
                assert over.status_code == 429
                assert set(over.json()) == {"detail"}
        finally:
            release.set()


# --- the time limit -----------------------------------------------------------------------------


def test_a_stream_over_its_time_limit_ends_in_band(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with (
        run_server(tmp_path / "data", tenants=("alpha",), stream_max_seconds=1) as server,
        server.http() as http,
    ):
        world = seed(http, examples=5, experiments=3, keys=["k0", "k1"])
        release = hold_key(monkeypatch, server, "held")
        keys = ["k0", "held", "k1"]
        try:
            response = http.post(stream_path(world), json=stream_body(world, keys))
        finally:
            release.set()
        deltas, errors = delta_stream(response.content, keys, world["sessions"][1:])
        assert set(deltas) == {"k0"}
        assert set(errors) == {"held", "k1"}
        assert "time limit of 1 s" in errors["held"]
        chunk = orjson.loads(response.content.split(b"data: ")[2].split(b"\n")[0])
        assert chunk["errors"] == [{"feedback_keys": ["held", "k1"], "error": errors["k1"]}]
        # The slot came back with the end of the stream.
        assert full_stream(http, world, ["k0"]).status_code == 200


# --- a client that does not read ----------------------------------------------------------------


@contextmanager
def small_buffer_server(data_dir: Path, **overrides: Any) -> Iterator[Server]:
    """Like ``run_server``, with the listening socket's send buffer capped (accepted
    sockets inherit it): on loopback the kernel would otherwise grow a send buffer to
    megabytes, and a test would need that much data before a client that does not read
    holds anything up.  The server is the one ``evaldelta serve`` runs."""
    settings = Settings(data_dir=data_dir, **overrides)
    store = open_store(settings.store_url())
    keys, tenant_ids = {}, {}
    for name in ("alpha", "beta"):
        tenant_ids[name], keys[name] = create_key(store, name)
    store.close()
    app = create_app(settings)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)
    sock.bind(("127.0.0.1", 0))
    server = server_for(app, settings, "127.0.0.1", sock.getsockname()[1])
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the server to start")
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield Server(url, keys, data_dir, app, tenant_ids)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_a_client_that_never_reads_holds_up_no_one_and_is_given_up_on(tmp_path: Path) -> None:
    """A raw client with a tiny receive window asks for ~0.5 MB of events and reads none.
    While it sits there, another tenant's streams and this tenant's ingest and reads work;
    after the stall limit the server drops the stream and its slot comes back."""
    with small_buffer_server(
        tmp_path / "data", max_streams_per_tenant=1, stream_stall_seconds=4
    ) as server:
        keys = [f"k{i}" for i in range(10)]
        with server.http() as http, server.http("beta") as beta:
            world = seed(http, examples=300, experiments=5, keys=keys)
            beta_world = seed(beta, examples=5, experiments=3, keys=["k0", "k1"])
        streams = server.app.state.streams
        alpha = server.tenant_ids["alpha"]
        url = urlsplit(server.url)
        body = orjson.dumps(stream_body(world, keys))
        request = (
            f"POST /api/v1{stream_path(world)} HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"X-Api-Key: {server.key}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        stalled = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect
        try:
            stalled.connect((url.hostname, url.port))
            stalled.sendall(request)
            wait_until(lambda: streams.open_streams(alpha) == 1, "the stalled stream to open")
            with server.http() as http, server.http("beta") as beta:
                assert full_stream(http, world, ["k0"]).status_code == 429  # the slot is held
                for _ in range(2):
                    assert full_stream(beta, beta_world, ["k0", "k1"]).status_code == 200
                run = run_post({"session_name": unique("ingest")}, None, start=T0)
                post_runs(http, [run])
                assert http.get(f"/runs/{run['id']}").json()["id"] == run["id"]
                assert streams.open_streams(alpha) == 1, "the stall ended before the others ran"
                wait_until(
                    lambda: full_stream(http, world, ["k0"]).status_code == 200,
                    "the stall limit to free the slot",
                )
            # Reading now, the stalled client finds its stream cut short: no `end`.
            stalled.settimeout(30)
            received = b""
            while chunk := stalled.recv(65536):
                received += chunk
        finally:
            stalled.close()
        assert received.startswith(b"HTTP/1.1 200")
        assert b"event: data" in received and b"event: end" not in received
