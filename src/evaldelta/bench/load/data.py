"""The data a load test reads: one dataset with its experiments, loaded once per data dir.

The first run on a data dir creates the dataset, examples and experiments over HTTP, then
writes every run and its feedback through the bulk path (DuckDB; other stores over HTTP)
and leaves a manifest, so later runs on the same dir start at once.  Each run's ingest
clients write new experiments; the manifest remembers where the next run's may start.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from uuid import UUID

import httpx
import orjson
from rich.console import Console

from evaldelta.bench.harness.catalog import create_catalog
from evaldelta.bench.harness.ingest import IngestPlan, run_ingest
from evaldelta.bench.harness.server import ServerProcess, start_server, store_path
from evaldelta.bench.workload.data import keys_for
from evaldelta.bench.workload.ids import IdSpace
from evaldelta.bench.workload.scales import Scale
from evaldelta.settings import Settings

MANIFEST = "load-manifest.json"


@dataclass
class Loaded:
    """What is in the store: ids of the dataset and experiments, and how it got there."""

    scale: str
    seed: int
    nonce: int
    dataset_id: str
    session_ids: list[str]
    tenant_id: str
    load_path: str
    load_s: float
    next_experiment: int  # the first experiment index the next ingest clients may use

    @property
    def ids(self) -> IdSpace:
        return IdSpace(self.nonce)


def read_manifest(data_dir: Path, scale: Scale, seed: int) -> Loaded | None:
    """The manifest of a data dir loaded for this scale and seed, if there is one."""
    path = data_dir / MANIFEST
    if not path.exists():
        return None
    found = Loaded(**orjson.loads(path.read_bytes()))
    return found if (found.scale, found.seed) == (scale.name, seed) else None


def write_manifest(data_dir: Path, loaded: Loaded) -> None:
    (data_dir / MANIFEST).write_bytes(orjson.dumps(asdict(loaded), option=orjson.OPT_INDENT_2))


def _client(server: ServerProcess) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"x-api-key": server.api_key}, timeout=600)


def load_data(
    data_dir: Path, store: str | None, scale: Scale, seed: int, nonce: int, console: Console
) -> Loaded:
    """Create the dataset and its experiments and load every run and feedback row."""
    ids = IdSpace(nonce)
    log = data_dir.parent / f"{data_dir.name}-load-server.log"
    started = time.perf_counter()
    server = start_server(data_dir, store, log)
    try:
        with _client(server) as client:
            catalog = create_catalog(client, scale, keys_for(scale), ids)
            session = client.get(f"/sessions/{catalog.baseline.session_id}").json()
        bulk = store_path(data_dir, store) is not None  # the bulk path writes DuckDB files
        if not bulk:
            plan = IngestPlan(
                server.url, server.api_key, scale, seed, ids, catalog.experiments, 50, 3
            )
            console.log(f"loading {scale.feedback_rows:,} feedback rows over HTTP")
            run_ingest(plan, 2, lambda _done: None)
    finally:
        server.stop()
    if bulk:
        from evaldelta.bench.harness.bulk.store import load

        console.log(f"loading {scale.feedback_rows:,} feedback rows through the bulk path")
        url = Settings(data_dir=data_dir, store=store).store_url()
        tenant = UUID(session["tenant_id"])
        load(url, tenant, scale, seed, ids, catalog.experiments, lambda _n: None)
    loaded = Loaded(
        scale=scale.name,
        seed=seed,
        nonce=nonce,
        dataset_id=catalog.dataset_id,
        session_ids=[e.session_id for e in catalog.experiments],
        tenant_id=str(session["tenant_id"]),
        load_path="bulk" if bulk else "http",
        load_s=time.perf_counter() - started,
        next_experiment=scale.experiments,
    )
    write_manifest(data_dir, loaded)
    return loaded
