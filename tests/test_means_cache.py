"""Kept means never make a delta stale (DuckDB store).

The DuckDB store keeps each session's per-example means between delta requests.  These
tests interleave writes of every kind that can change a mean (new, re-sent, updated and
deleted feedback, new and deleted examples, new runs) with repeated delta queries, and
check every answer against the plain-Python reference; one test reads while another thread
writes and checks each answer is exactly the state of a write it overlapped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evaldelta.delta.engine import compute_key, prepare
from evaldelta.ingest.records import feedback_rows, run_ops, score_columns
from evaldelta.store import open_store
from evaldelta.store.base import IngestBatch, Page
from evaldelta.store.duckdb.store import DuckDBStore
from tests.conftest import Server, store_url
from tests.support.delta_reference import RefExample, RefFeedback, RefRun, reference_delta
from tests.support.delta_seed import (
    create_dataset,
    create_examples,
    create_experiment,
    feedback,
    post_feedback_multipart,
    post_runs,
    run_post,
    stream,
)

KEYS = ["correct", "cost", "tone", "safety"]
SCORES = [None, True, False, 0, 1, 0.5, 0.25, 3]
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    opened = open_store(store_url("duckdb", Path(tmp_path_factory.mktemp("means"))))
    assert isinstance(opened, DuckDBStore)
    yield opened
    opened.close()


class Mirror:
    """One tenant's dataset written through the store seam, and the same data in the
    reference's terms."""

    def __init__(self, store: DuckDBStore, n_examples: int) -> None:
        self.store = store
        self.sessions = [uuid4() for _ in range(3)]
        self.examples: list[RefExample] = []
        self.runs: list[RefRun] = []
        self.feedback: dict[UUID, RefFeedback] = {}

        def setup() -> tuple[UUID, UUID]:
            tenant = store.write_tenant(f"t-{uuid4()}")
            dataset = store.write_dataset(tenant, {"name": "ds"})["id"]
            for session in self.sessions:
                store.write_session(
                    tenant,
                    {"id": session, "name": str(session), "reference_dataset_id": dataset},
                    upsert=False,
                )
            return tenant, dataset

        self.tenant, self.dataset = store.run_in_transaction(setup)
        for second in range(n_examples):
            self.add_example(second % 3)

    def write(self, fn: Any) -> None:
        self.store.run_in_transaction(fn)

    def add_example(self, second: int) -> UUID:
        example = RefExample(uuid4(), START + timedelta(seconds=second))
        self.examples.append(example)
        row = {"id": example.id, "dataset_id": self.dataset, "inputs": {}}
        row["created_at"] = example.created_at
        self.write(lambda: self.store.write_examples(self.tenant, [row]))
        return example.id

    def delete_example(self, index: int) -> None:
        example = self.examples.pop(index % len(self.examples))
        self.write(lambda: self.store.write_example_delete(self.tenant, [example.id]))

    def add_run(self, session: int, example: UUID) -> RefRun:
        run = RefRun(uuid4(), self.sessions[session], example, True, {"name": "a"})
        self.runs.append(run)
        post = {
            "id": str(run.id),
            "name": "a",
            "run_type": "chain",
            "start_time": "2026-01-02T00:00:00+00:00",
            "session_id": str(run.session_id),
            "reference_example_id": str(example),
            "trace_id": str(run.id),
        }
        batch = IngestBatch(self.tenant, run_ops("post", [post], loc=[]))
        self.write(lambda: self.store.apply_ingest([batch]))
        return run

    def send_feedback(self, feedback_id: UUID, run: RefRun, key: str, score: Any) -> None:
        """A new feedback, or a re-sent one (same id) that replaces it."""
        self.feedback[feedback_id] = RefFeedback(run.id, key, score)
        raw = {"id": str(feedback_id), "run_id": str(run.id), "key": key, "score": score}
        batch = IngestBatch(self.tenant, feedback=feedback_rows([raw], loc=[]))
        self.write(lambda: self.store.apply_ingest([batch]))

    def update_score(self, feedback_id: UUID, score: Any) -> None:
        self.feedback[feedback_id].score = score
        changes = score_columns(score)
        self.write(lambda: self.store.write_feedback_update(self.tenant, feedback_id, changes))

    def delete_feedback(self, feedback_id: UUID) -> None:
        del self.feedback[feedback_id]
        self.write(lambda: self.store.write_feedback_delete(self.tenant, feedback_id))

    def check(self, key: str, lower: bool, window: tuple[int, int] | None, filtered: bool) -> None:
        """The engine's answer equals the reference's, now: for ``key`` asked alone, and
        for every key of a request for all of them, in order (later keys of such a request
        are read ahead, with an earlier key's scan)."""
        baseline, *comparisons = self.sessions
        filters = {comparisons[0]: ['eq(name, "a")']} if filtered else None
        ref_filters = {comparisons[0]: lambda run: run.fields["name"] == "a"} if filtered else None
        page = Page(*window) if window else None
        alone = prepare(
            self.store, self.tenant, self.dataset, baseline, comparisons, [key], filters
        )
        asked = [(alone, key)]
        every = prepare(self.store, self.tenant, self.dataset, baseline, comparisons, KEYS, filters)
        asked += [(every, k) for k in KEYS]
        for query, k in asked:
            got = compute_key(self.store, query, k, lower, page)
            want = reference_delta(
                self.examples,
                self.runs,
                list(self.feedback.values()),
                baseline,
                comparisons,
                k,
                lower_is_better=lower,
                run_filters=ref_filters,
                window=window,
            )
            for comparison, (improved, regressed) in want.items():
                assert list(got[str(comparison)]["improved_examples"]) == improved, k
                assert list(got[str(comparison)]["regressed_examples"]) == regressed, k


OPS = st.one_of(
    st.tuples(st.just("add"), st.integers(0, 99), st.sampled_from(KEYS), st.sampled_from(SCORES)),
    st.tuples(st.just("resend"), st.integers(0, 99), st.sampled_from(SCORES)),
    st.tuples(st.just("update"), st.integers(0, 99), st.sampled_from(SCORES)),
    st.tuples(st.just("delete"), st.integers(0, 99)),
    st.tuples(st.just("example"), st.integers(0, 3), st.integers(0, 2), st.sampled_from(SCORES)),
    st.tuples(st.just("drop_example"), st.integers(0, 99)),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    n_examples=st.integers(1, 5),
    runs=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 99)), min_size=1, max_size=12),
    ops=st.lists(OPS, max_size=8),
    key=st.sampled_from(KEYS),
    lower=st.booleans(),
    window=st.one_of(st.none(), st.tuples(st.integers(0, 3), st.integers(1, 3))),
    filtered=st.booleans(),
)
def test_deltas_stay_exact_across_writes(
    store: DuckDBStore,
    n_examples: int,
    runs: list[tuple[int, int]],
    ops: list[tuple[Any, ...]],
    key: str,
    lower: bool,
    window: tuple[int, int] | None,
    filtered: bool,
) -> None:
    mirror = Mirror(store, n_examples)
    for session, example in runs:
        run = mirror.add_run(session, mirror.examples[example % n_examples].id)
        mirror.send_feedback(uuid4(), run, key, SCORES[example % len(SCORES)])
    mirror.check(key, lower, None, False)
    hits = store.means.hits
    mirror.check(key, lower, None, False)  # the second read uses the kept means
    assert store.means.hits > hits
    for op in ops:
        ids = list(mirror.feedback)
        match op:
            case ("add", index, op_key, score):
                mirror.send_feedback(uuid4(), mirror.runs[index % len(mirror.runs)], op_key, score)
            case ("resend", index, score) if ids:
                old = mirror.feedback[ids[index % len(ids)]]
                run = next(r for r in mirror.runs if r.id == old.run_id)
                mirror.send_feedback(ids[index % len(ids)], run, old.key, score)
            case ("update", index, score) if ids:
                mirror.update_score(ids[index % len(ids)], score)
            case ("delete", index) if ids:
                mirror.delete_feedback(ids[index % len(ids)])
            case ("example", second, session, score):
                run = mirror.add_run(session, mirror.add_example(second))
                mirror.send_feedback(uuid4(), run, key, score)
            case ("drop_example", index) if len(mirror.examples) > 1:
                mirror.delete_example(index)
        mirror.check(key, lower, window, filtered)
        mirror.check(key, lower, None, False)


def test_reads_during_writes_see_exactly_a_state_they_overlapped(store: DuckDBStore) -> None:
    """A writer flips one example between better and worse than the baseline while a
    reader keeps asking; every answer is the state after a write that had completed when
    the read began or that began before the read ended, never an older one."""
    mirror = Mirror(store, 1)
    example = mirror.examples[0].id
    mirror.send_feedback(uuid4(), mirror.add_run(0, example), "correct", 0.5)
    flipping = uuid4()
    mirror.send_feedback(flipping, mirror.add_run(1, example), "correct", 1.0)
    baseline, comparison = mirror.sessions[0], mirror.sessions[1]
    query = prepare(store, mirror.tenant, mirror.dataset, baseline, [comparison], ["correct"], None)
    # Writes begun and completed; write i leaves 1.0 (improved) if i is even, else 0.0.
    started, done = [0], [0]
    stop = threading.Event()

    def writer() -> None:
        for i in range(1, 41):
            time.sleep(0.005)  # pauses in which no write is in flight
            started[0] = i
            mirror.send_feedback(flipping, mirror.runs[1], "correct", 1.0 if i % 2 == 0 else 0.0)
            done[0] = i
        stop.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    try:
        while not stop.is_set() or reads < 5:
            before = done[0]
            got = compute_key(store, query, "correct", False)[str(comparison)]
            after = started[0]
            improved = list(got["improved_examples"]) == [example]
            regressed = list(got["regressed_examples"]) == [example]
            assert improved != regressed
            possible = {i % 2 == 0 for i in range(before, after + 1)}
            assert improved in possible, (before, after, improved)
            reads += 1
    finally:
        thread.join()
    assert reads >= 5


def test_a_written_score_shows_in_the_next_stream(server: Server) -> None:
    """Over HTTP: the same stream twice (the second from kept means), then a score that
    turns an improvement into a regression, then the stream again."""
    http = server.http()
    dataset = create_dataset(http)
    [example] = [e["id"] for e in create_examples(http, dataset, [START])]
    baseline, comparison = create_experiment(http, dataset), create_experiment(http, dataset)
    base_run = run_post({"session_id": baseline}, example, start=START)
    cmp_run = run_post({"session_id": comparison}, example, start=START)
    post_runs(http, [base_run, cmp_run])
    flipping = feedback(cmp_run, "correct", 1)
    post_feedback_multipart(http, [feedback(base_run, "correct", 0.5), flipping])

    def lists() -> tuple[list[str], list[str]]:
        deltas = stream(http, dataset, baseline, [comparison], ["correct"])
        found = deltas["correct"][comparison]
        return found["improved_examples"], found["regressed_examples"]

    assert lists() == ([example], [])
    assert lists() == ([example], [])
    post_feedback_multipart(http, [{**flipping, "score": 0}])
    assert lists() == ([], [example])
    resp = http.patch(f"/feedback/{flipping['id']}", json={"score": 0.5})
    assert resp.status_code == 200, resp.text
    assert lists() == ([], [])


def test_store_url_sets_or_refuses_the_cache_size(tmp_path: Path) -> None:
    opened = open_store(f"duckdb:///{tmp_path / 'a.duckdb'}?means_cache_mb=0")
    assert isinstance(opened, DuckDBStore)
    assert opened.means.max_bytes == 0
    opened.close()
    with pytest.raises(ValueError, match="means_cache_mb"):
        open_store(f"duckdb:///{tmp_path / 'b.duckdb'}?means_cache_mb=lots")


def test_no_read_mixes_kept_means_with_a_newer_write(
    store: DuckDBStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer moves the baseline and both comparisons together, so that in every
    committed state both comparisons improved; readers alternate between the comparisons,
    so each read finds some sessions' means kept and reads the others.  A read that paired
    a kept baseline with a comparison read after a newer write would see a regression.
    Each read pauses after finding its kept means, so writes land in that gap often."""
    kept_get = store.means.get

    def slow_get(*args: Any) -> Any:
        found = kept_get(*args)
        time.sleep(0.02)  # longer than a write transaction here
        return found

    monkeypatch.setattr(store.means, "get", slow_get)
    mirror = Mirror(store, 1)
    example = mirror.examples[0].id
    runs = [mirror.add_run(session, example) for session in range(3)]
    ids = [uuid4() for _ in runs]
    states = [(0.2, 0.4, 0.4), (0.6, 0.8, 0.8)]

    def write_state(scores: tuple[float, float, float]) -> None:
        raw = [
            {"id": str(fid), "run_id": str(run.id), "key": "correct", "score": score}
            for fid, run, score in zip(ids, runs, scores, strict=True)
        ]
        batch = IngestBatch(mirror.tenant, feedback=feedback_rows(raw, loc=[]))
        store.run_in_transaction(lambda: store.apply_ingest([batch]))

    write_state(states[0])
    baseline, first, second = mirror.sessions
    queries = [
        prepare(store, mirror.tenant, mirror.dataset, baseline, [c], ["correct"], None)
        for c in (first, second)
    ]
    stop = threading.Event()

    def writer() -> None:
        for i in range(1, 41):
            time.sleep(0.03)  # each state lives for a few reads
            write_state(states[i % 2])
        stop.set()

    thread = threading.Thread(target=writer)
    thread.start()
    reads = 0
    try:
        while not stop.is_set() or reads < 10:
            query = queries[reads % 2]
            got = compute_key(store, query, "correct", False)
            lists = got[str(query.comparison_session_ids[0])]
            assert list(lists["improved_examples"]) == [example]
            assert list(lists["regressed_examples"]) == []
            reads += 1
    finally:
        thread.join()


def test_concurrent_cold_requests_all_get_the_reference_answer(store: DuckDBStore) -> None:
    """Several requests for every key, started at once on unread data: reads of several
    keys take turns and the waiting requests use what the others kept; every answer of
    every request equals the reference."""
    mirror = Mirror(store, 4)
    for index, example in enumerate(mirror.examples):
        for session in range(3):
            run = mirror.add_run(session, example.id)
            for k, key in enumerate(KEYS):
                mirror.send_feedback(uuid4(), run, key, SCORES[(index + session + k) % 8])
    baseline, *comparisons = mirror.sessions
    errors: list[BaseException] = []

    def request() -> None:
        try:
            query = prepare(store, mirror.tenant, mirror.dataset, baseline, comparisons, KEYS, None)
            for key in KEYS:
                got = compute_key(store, query, key, False)
                want = reference_delta(
                    mirror.examples,
                    mirror.runs,
                    list(mirror.feedback.values()),
                    baseline,
                    comparisons,
                    key,
                )
                for comparison, (improved, regressed) in want.items():
                    assert list(got[str(comparison)]["improved_examples"]) == improved
                    assert list(got[str(comparison)]["regressed_examples"]) == regressed
        except BaseException as err:  # reported by the main thread
            errors.append(err)

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
