"""Shared fixtures: a real evaldelta server on 127.0.0.1 with real stores in temp dirs."""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from evaldelta.server.app import create_app
from evaldelta.server.auth import create_key
from evaldelta.settings import Settings
from evaldelta.store import open_store
from tests.support.browser import browser, page  # noqa: F401 (Chromium fixtures of the page tests)

# The SDK must never try to reach a hosted service from the tests.
os.environ.setdefault("LANGSMITH_TRACING", "false")
os.environ.pop("LANGSMITH_API_KEY", None)


# The stores the store-agnostic tests are parametrised over (see ``store_url``).
STORE_KINDS = ("duckdb", "chdb")
_CHDB_ROOT: list[Path] = []


def store_url(kind: str, directory: Path) -> str:
    """The URL of the store of ``kind`` that belongs to ``directory``.

    chDB runs one engine directory per process, so every chDB store of the test run lives
    in one temp dir, each in its own database named after ``directory``.
    """
    match kind:
        case "duckdb":
            return f"duckdb:///{directory / 'evaldelta.duckdb'}"
        case "chdb":
            if not _CHDB_ROOT:
                _CHDB_ROOT.append(Path(tempfile.mkdtemp(prefix="evaldelta-chdb-")))
                atexit.register(shutil.rmtree, _CHDB_ROOT[0], ignore_errors=True)
            database = "t_" + hashlib.sha1(str(directory).encode()).hexdigest()[:20]
            return f"chdb:///{_CHDB_ROOT[0]}?database={database}"
    raise ValueError(kind)


@dataclass
class Server:
    """A running server: its base URL, one API key per tenant, and its app."""

    url: str
    keys: dict[str, str]
    data_dir: Path
    app: Any
    tenant_ids: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return self.keys["alpha"]

    def http(self, tenant: str = "alpha", prefix: str = "/api/v1") -> httpx.Client:
        return httpx.Client(
            base_url=self.url + prefix, headers={"x-api-key": self.keys[tenant]}, timeout=60
        )

    def sdk(self, tenant: str = "alpha", prefix: str = "") -> Any:
        from langsmith import Client

        return Client(api_url=self.url + prefix, api_key=self.keys[tenant])


@contextmanager
def run_server(
    data_dir: Path, tenants: tuple[str, ...] = ("alpha", "beta"), **overrides: Any
) -> Iterator[Server]:
    """Start uvicorn in a thread on a free loopback port; stop it on exit.

    ``store=URL`` picks the store; otherwise ``EVALDELTA_TEST_STORE=chdb`` runs every server
    of the suite on embedded ClickHouse instead of DuckDB.
    """
    default_kind = os.environ.get("EVALDELTA_TEST_STORE", "duckdb")
    if overrides.get("store") is None and default_kind != "duckdb":
        overrides["store"] = store_url(default_kind, data_dir)
    settings = Settings(data_dir=data_dir, **overrides)
    store = open_store(settings.store_url())
    keys, tenant_ids = {}, {}
    for name in tenants:
        tenant_ids[name], keys[name] = create_key(store, name)
    store.close()
    app = create_app(settings)
    # IPPROTO_TCP explicitly: asyncio then sets TCP_NODELAY (no 40 ms delayed-ACK stalls).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("server did not start")
        time.sleep(0.02)
    try:
        yield Server(f"http://127.0.0.1:{port}", keys, data_dir, app, tenant_ids)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with run_server(tmp_path / "data") as running:
        yield running


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for a module's read-mostly tests (each test uses its own names)."""
    with run_server(tmp_path_factory.mktemp("shared") / "data") as running:
        yield running


@pytest.fixture
def http(shared_server: Server) -> Iterator[httpx.Client]:
    """A client of the module's shared server: tenant alpha's key, on ``/api/v1``."""
    with shared_server.http() as client:
        yield client
