"""The server side of a load test: its settings, its memory over time, and what it stored."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from evaldelta.bench.harness.server import ServerProcess
from evaldelta.bench.load.clients import IngestOutcome

RSS_EVERY_S = 0.5


class RssSampler(threading.Thread):
    """Reads the server's resident memory every ``RSS_EVERY_S`` until stopped."""

    def __init__(self, server: ServerProcess, t0: float) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.server, self.t0 = server, t0
        self.samples: list[tuple[float, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.wait(RSS_EVERY_S):
            try:
                self.samples.append((time.monotonic() - self.t0, self.server.rss_mib()))
            except (OSError, RuntimeError):  # the server is gone; the clients will say so
                return


@contextmanager
def server_environment(max_streams_per_tenant: int) -> Iterator[None]:
    """Servers started inside get this per-tenant stream limit (a subprocess reads its
    settings from the environment it inherits)."""
    name = "EVALDELTA_MAX_STREAMS_PER_TENANT"
    before = os.environ.get(name)
    os.environ[name] = str(max_streams_per_tenant)
    try:
        yield
    finally:
        if before is None:
            del os.environ[name]
        else:
            os.environ[name] = before


def _stored(client: httpx.Client, session_id: str) -> tuple[int, int]:
    """Runs and feedback rows the server holds for one experiment."""
    response = client.get(f"/sessions/{session_id}", params={"include_stats": True})
    response.raise_for_status()
    body = response.json()
    stats = body.get("feedback_stats") or {}
    feedback = sum(int(k.get("n") or 0) + int(k.get("errors") or 0) for k in stats.values())
    return int(body.get("run_count") or 0), feedback


def verify_stored(server: ServerProcess, outcomes: list[IngestOutcome]) -> list[str]:
    """Every experiment holds exactly what was acknowledged: no loss, no duplicates."""
    problems = []
    with httpx.Client(
        base_url=server.url, headers={"x-api-key": server.api_key}, timeout=600
    ) as client:
        for outcome in outcomes:
            for session_id, want in outcome.acknowledged.items():
                have = _stored(client, session_id)
                if have != want:
                    problems.append(
                        f"experiment {session_id}: acknowledged {want[0]} runs and {want[1]} "
                        f"feedback rows, stored {have[0]} and {have[1]}"
                    )
    return problems
