"""The delta engine equals the plain-Python reference on generated data (hypothesis).

These drive the engine through the store seam, on a real DuckDB file and on embedded
ClickHouse (chDB) in a temp dir, so that hundreds of generated worlds run in seconds; the
HTTP and SDK paths are covered in test_deltas_api.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaldelta.delta.engine import compute_key, prepare
from evaldelta.ingest.records import feedback_rows, run_ops
from evaldelta.store import open_store
from evaldelta.store.base import IngestBatch, Page, Store
from tests.conftest import STORE_KINDS, store_url
from tests.support.delta_reference import RefExample, RefFeedback, RefRun, reference_delta

KEYS = ["correct", "cost"]
SCORES = [None, True, False, 0, 1, 0.5, 0.25, 0.75, 3, -1.5]
CMP_A, CMP_B = uuid4(), uuid4()


@pytest.fixture(scope="module", params=STORE_KINDS)
def store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Store]:
    opened = open_store(store_url(request.param, Path(tmp_path_factory.mktemp("engine"))))
    yield opened
    opened.close()


@dataclass
class World:
    examples: list[RefExample]
    runs: list[RefRun]
    feedback: list[RefFeedback]
    sessions: list[UUID]  # baseline first


feedback_st = st.tuples(
    st.sampled_from(KEYS), st.sampled_from(SCORES), st.sampled_from([None, None, CMP_A, CMP_B])
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    n_examples = draw(st.integers(0, 6))
    # Some examples share a creation time, so the id tie-break is exercised.
    examples = [
        RefExample(uuid4(), start + timedelta(seconds=draw(st.integers(0, 3))))
        for _ in range(n_examples)
    ]
    sessions = [uuid4() for _ in range(3)]
    runs: list[RefRun] = []
    feedback: list[RefFeedback] = []
    for session in sessions:
        for example in examples:
            for _ in range(draw(st.integers(0, 3))):  # repetitions
                root = RefRun(
                    uuid4(), session, example.id, True, {"name": draw(st.sampled_from(["a", "b"]))}
                )
                runs.append(root)
                for key, score, cmp in draw(st.lists(feedback_st, max_size=3)):
                    feedback.append(RefFeedback(root.id, key, score, cmp))
                if draw(st.booleans()):  # a child run whose feedback must never count
                    child = RefRun(uuid4(), session, example.id, False, {"name": "a"})
                    runs.append(child)
                    feedback.append(RefFeedback(child.id, "correct", draw(st.sampled_from(SCORES))))
    # Feedback for runs that never arrive, and experiment-level (summary) feedback.
    feedback.append(RefFeedback(uuid4(), "correct", 1.0))
    feedback.append(RefFeedback(None, "correct", 1.0))
    return World(examples, runs, feedback, sessions)


def load(store: Store, world: World) -> tuple[UUID, UUID]:
    """Write a world through the store seam; returns (tenant id, dataset id)."""

    def work() -> tuple[UUID, UUID]:
        tenant = store.write_tenant(f"t-{uuid4()}")
        dataset = store.write_dataset(tenant, {"name": "ds"})["id"]
        store.write_examples(
            tenant,
            [
                {"id": e.id, "dataset_id": dataset, "inputs": {}, "created_at": e.created_at}
                for e in world.examples
            ],
        )
        for session in world.sessions:
            store.write_session(
                tenant,
                {"id": session, "name": str(session), "reference_dataset_id": dataset},
                upsert=False,
            )
        for cmp in (CMP_A, CMP_B):  # feedback names them: they exist, as the SDK makes them
            store.write_comparative_experiment(
                tenant,
                {"id": cmp, "experiment_ids": world.sessions, "reference_dataset_id": dataset},
            )
        by_id = {r.id: r for r in world.runs}
        posts: list[dict[str, Any]] = []
        for run in world.runs:
            parent = None
            if not run.is_root:
                parent = next(
                    r.id
                    for r in world.runs
                    if r.is_root
                    and r.session_id == run.session_id
                    and r.example_id == run.example_id
                )
            posts.append(
                {
                    "id": str(run.id),
                    "name": run.fields["name"],
                    "run_type": "chain",
                    "start_time": "2026-01-02T00:00:00+00:00",
                    "session_id": str(run.session_id),
                    "reference_example_id": str(run.example_id),
                    "parent_run_id": parent and str(parent),
                    "trace_id": str(parent or run.id),
                }
            )
        fb_raw = [
            {
                "run_id": f.run_id and str(f.run_id),
                "key": f.key,
                "score": f.score,
                "comparative_experiment_id": (
                    f.comparative_experiment_id and str(f.comparative_experiment_id)
                ),
                "session_id": str(by_id[f.run_id].session_id) if f.run_id in by_id else None,
            }
            for f in world.feedback
        ]
        batch = IngestBatch(tenant, run_ops("post", posts, loc=[]), feedback_rows(fb_raw, loc=[]))
        store.apply_ingest([batch])
        return tenant, dataset

    return store.run_in_transaction(work)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    world=worlds(),
    key=st.sampled_from(KEYS),
    lower=st.booleans(),
    filtered=st.sampled_from([None, 0, 1]),
    cmp=st.sampled_from([None, CMP_A]),
    window=st.one_of(st.none(), st.tuples(st.integers(0, 4), st.integers(1, 3))),
)
def test_engine_equals_reference(
    store: Store,
    world: World,
    key: str,
    lower: bool,
    filtered: int | None,
    cmp: UUID | None,
    window: tuple[int, int] | None,
) -> None:
    tenant, dataset = load(store, world)
    baseline, *comparisons = world.sessions
    comparisons = [*comparisons, baseline]  # the baseline as a comparison: empty lists
    filters = None
    ref_filters = None
    if filtered is not None:
        target = world.sessions[filtered]
        filters = {target: ['eq(name, "a")']}
        ref_filters = {target: lambda run: run.fields["name"] == "a"}
    query = prepare(store, tenant, dataset, baseline, comparisons, [key], filters, cmp)
    page = Page(*window) if window else None
    got = compute_key(store, query, key, lower, page)
    want = reference_delta(
        world.examples,
        world.runs,
        world.feedback,
        baseline,
        comparisons,
        key,
        lower_is_better=lower,
        run_filters=ref_filters,
        comparative_experiment_id=cmp,
        window=window,
    )
    assert set(got) == {str(c) for c in comparisons}
    for comparison, (improved, regressed) in want.items():
        assert got[str(comparison)]["improved_examples"] == improved
        assert got[str(comparison)]["regressed_examples"] == regressed
    assert got[str(baseline)] == {"improved_examples": [], "regressed_examples": []}


def test_unused_key_gives_empty_lists(store: Store) -> None:
    world = World([RefExample(uuid4(), datetime.now(UTC))], [], [], [uuid4(), uuid4()])
    tenant, dataset = load(store, world)
    query = prepare(
        store, tenant, dataset, world.sessions[0], [world.sessions[1]], ["nobody"], None
    )
    got = compute_key(store, query, "nobody", False)
    assert got == {str(world.sessions[1]): {"improved_examples": [], "regressed_examples": []}}
