"""The DuckDB store keeps each dataset's example ids between deltas; no write may leave
them stale, and a delta read inside a writer's transaction sees that transaction's writes.

Driven through the store seam on a real DuckDB file (the HTTP paths are covered in
test_delta_ingest_orders.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from evaldelta.delta.engine import compute_key, prepare
from evaldelta.ingest.records import feedback_rows, run_ops
from evaldelta.store.base import IngestBatch
from evaldelta.store.duckdb.store import DuckDBStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    opened = DuckDBStore(tmp_path / "store.duckdb")
    yield opened
    opened.close()


class World:
    """One dataset, a baseline and a candidate; ``score(example, baseline, candidate)``
    adds one root run per session for the example with those scores."""

    def __init__(self, store: DuckDBStore) -> None:
        self.store = store
        self.tenant = store.write_tenant(f"t-{uuid4()}")
        self.dataset = store.write_dataset(self.tenant, {"name": "ds"})["id"]
        self.baseline, self.candidate = uuid4(), uuid4()
        for session in (self.baseline, self.candidate):
            store.write_session(
                self.tenant,
                {"id": session, "name": str(session), "reference_dataset_id": self.dataset},
                upsert=False,
            )

    def example(self, seconds: int) -> UUID:
        row = {"id": uuid4(), "dataset_id": self.dataset, "inputs": {}}
        row["created_at"] = T0 + timedelta(seconds=seconds)
        return UUID(str(self.store.write_examples(self.tenant, [row])[0]["id"]))

    def score(self, example: UUID, baseline: float, candidate: float) -> None:
        posts: list[dict[str, Any]] = []
        raw: list[dict[str, Any]] = []
        for session, value in ((self.baseline, baseline), (self.candidate, candidate)):
            run = str(uuid4())
            posts.append(
                {
                    "id": run,
                    "name": "t",
                    "run_type": "chain",
                    "trace_id": run,
                    "start_time": T0.isoformat(),
                    "session_id": str(session),
                    "reference_example_id": str(example),
                }
            )
            raw.append({"run_id": run, "key": "k", "score": value})
        batch = IngestBatch(self.tenant, run_ops("post", posts, loc=[]), feedback_rows(raw, loc=[]))
        self.store.apply_ingest([batch])

    def improved(self) -> list[UUID]:
        query = prepare(
            self.store, self.tenant, self.dataset, self.baseline, [self.candidate], ["k"], None
        )
        lists = compute_key(self.store, query, "k", False)[str(self.candidate)]
        improved: list[UUID] = lists["improved_examples"]
        return improved


def test_kept_ids_follow_every_write_to_examples(store: DuckDBStore) -> None:
    world = World(store)
    second = world.example(2)
    world.score(second, 0.0, 1.0)
    assert world.improved() == [second]
    assert world.improved() == [second]  # now from the kept ids

    first = store.run_in_transaction(lambda: world.example(1))
    world.score(first, 0.0, 1.0)
    assert world.improved() == [first, second]

    store.write_example_update(
        world.tenant, first, {"dataset_id": world.dataset, "inputs": {"moved": True}}
    )
    store.run_in_transaction(lambda: store.write_example_delete(world.tenant, [first]))
    assert world.improved() == [second]


def test_a_delta_inside_a_transaction_sees_its_writes_and_keeps_it_open(
    store: DuckDBStore,
) -> None:
    world = World(store)
    kept = world.example(5)
    world.score(kept, 0.0, 1.0)
    assert world.improved() == [kept]

    def work() -> list[UUID]:
        early = world.example(0)
        world.score(early, 0.0, 1.0)
        seen = world.improved()
        world.score(world.example(9), 0.0, 1.0)  # the transaction is still usable
        return [early, *seen]

    early, *seen = store.run_in_transaction(work)
    assert seen == [early, kept]
    assert len(world.improved()) == 3


def test_a_rolled_back_example_write_leaves_no_trace(store: DuckDBStore) -> None:
    world = World(store)
    kept = world.example(5)
    world.score(kept, 0.0, 1.0)
    assert world.improved() == [kept]

    def fail() -> None:
        world.score(world.example(0), 0.0, 1.0)
        assert len(world.improved()) == 2
        raise RuntimeError("abandon")

    with pytest.raises(RuntimeError):
        store.run_in_transaction(fail)
    assert world.improved() == [kept]
