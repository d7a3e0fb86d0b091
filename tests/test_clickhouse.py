"""What is particular to the ClickHouse store, checked on embedded ClickHouse (chDB).

The same filter language answers as on DuckDB; migrations are idempotent; ingest is
idempotent under retries; feedback that arrives before its run is placed once the run
comes; and several stores (as several server processes would) writing to one database at
once, post and patch of one run split between them, end with every row right and seen by
all.  chDB allows one process per data directory, so "several servers" are several store
objects and writer threads in this process sharing the engine, as several processes share
a ClickHouse server; docs/clickhouse.md says what that does and does not prove.
"""

from __future__ import annotations

import asyncio
import random
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings

from evaldelta.delta.engine import compute_key, prepare
from evaldelta.delta.filters.compiler import compile_filter, parse_filter
from evaldelta.ingest.records import feedback_rows, run_ops
from evaldelta.ingest.writer import Writer
from evaldelta.server.auth import hash_api_key
from evaldelta.store.base import (
    FeedbackWhere,
    IngestBatch,
    Page,
    RunWhere,
    SessionWhere,
)
from evaldelta.store.clickhouse.connection import Connection, bind, connect, server_settings
from evaldelta.store.clickhouse.dialect import CLICKHOUSE
from evaldelta.store.clickhouse.schema import MIGRATIONS, migrate
from evaldelta.store.clickhouse.store import ClickHouseStore
from evaldelta.store.clickhouse.versions import encode
from evaldelta.store.threads import thread_id_of
from tests.conftest import run_server, store_url
from tests.support.delta_reference import RefExample, RefFeedback, RefRun
from tests.support.delta_seed import (
    World,
    all_pages,
    create_dataset,
    create_examples,
    create_experiment,
    feedback,
    nonempty,
    post_feedback_multipart,
    run_post,
    stream,
)
from tests.support.filter_reference import reference_labels
from tests.support.filter_strategies import FILTERS
from tests.support.filter_world import EXAMPLES, FEEDBACK, LABELS, RUNS, SESSION, T0, TENANT

# --- parameters -------------------------------------------------------------------------


def test_placeholders_become_typed_parameters() -> None:
    when = datetime(2026, 1, 1, tzinfo=UTC)
    sql, values = bind(
        "SELECT '?', `a?` FROM t WHERE a = ? AND b IN ? AND c = ? AND d = ?",
        [uuid.UUID(int=1), ["x", "y"], when, "it's ? {p0:String}"],
    )
    assert sql == (
        "SELECT '?', `a?` FROM t WHERE a = {p0:UUID} AND b IN {p1:Array(String)}"
        " AND c = {p2:DateTime64(6, 'UTC')} AND d = {p3:String}"
    )
    assert values["p3"] == "it's ? {p0:String}"
    with pytest.raises(ValueError):
        bind("SELECT ?", [])
    with pytest.raises(ValueError):
        bind("SELECT 1", [1])


def test_server_urls() -> None:
    server, database = server_settings("clickhouse://ev:p%40ss@ch.internal:9000/evals")
    assert (server["host"], server["port"], server["username"], server["password"]) == (
        "ch.internal",
        9000,
        "ev",
        "p@ss",
    )
    assert database == "evals" and server["secure"] is False
    server, database = server_settings("clickhouses://ch.internal")
    assert (server["port"], server["secure"], database) == (8443, True, "evaldelta")
    with pytest.raises(ValueError):
        server_settings("clickhouse://host/bad`name")


# --- the filter dialect -----------------------------------------------------------------


@pytest.fixture(scope="module")
def filter_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Connection]:
    """The runs and feedback of test_filters.py, in the ClickHouse schema."""
    conn = connect(store_url("chdb", tmp_path_factory.mktemp("filters")))
    migrate(conn)
    runs = [
        {
            **r,
            "tenant_id": TENANT,
            "session_id": SESSION,
            "dotted_order": "x",
            "patched_fields": [],
            "thread_id": thread_id_of(r["extra"]),
            "version": 1,
            "is_deleted": 0,
        }
        for r in RUNS
    ]
    conn.insert("runs_versions", conn.columns("runs_versions"), [encode(r) for r in runs])
    feedback = [
        encode(
            {
                "tenant_id": tenant,
                "key": key,
                "run_session_id": SESSION,
                "run_example_id": uuid.UUID(int=0),
                "id": uuid.UUID(int=500 + n),
                "run_is_root": True,
                "run_id": next(r["id"] for r in RUNS if LABELS[r["id"]] == label),
                "score": score,
                "score_is_bool": False,
                "value": value,
                "created_at": T0,
                "modified_at": T0,
                "version": 1,
                "is_deleted": 0,
            }
        )
        for n, (tenant, label, key, score, value) in enumerate(FEEDBACK)
    ]
    conn.insert("feedback_versions", conn.columns("feedback_versions"), feedback)
    yield conn
    conn.close()


def ch_labels(conn: Connection, text: str) -> set[str]:
    sql, params = compile_filter(parse_filter(text), dialect=CLICKHOUSE)
    assert "{" not in sql and "}" not in sql  # callers wrap fragments with str.format
    rows = conn.tuples(
        f"SELECT r.id FROM runs AS r WHERE r.tenant_id = ? AND ({sql})", [TENANT, *params]
    )
    return {LABELS[row[0]] for row in rows}


@pytest.mark.parametrize(("text", "expected"), EXAMPLES)
def test_documented_examples(filter_db: Connection, text: str, expected: set[str]) -> None:
    assert ch_labels(filter_db, text) == expected


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=FILTERS)
def test_clickhouse_sql_agrees_with_reference(filter_db: Connection, text: str) -> None:
    assert ch_labels(filter_db, text) == reference_labels(text)


# --- migrations -------------------------------------------------------------------------


def schema(conn: Connection) -> list[tuple[Any, ...]]:
    return conn.tuples(
        """SELECT table, name, type, position FROM system.columns
           WHERE database = currentDatabase() ORDER BY table, position"""
    ) + conn.tuples(
        """SELECT name, engine, sorting_key FROM system.tables
           WHERE database = currentDatabase() ORDER BY name"""
    )


def test_migrations_are_idempotent_and_reach_the_fresh_schema(tmp_path: Path) -> None:
    fresh = connect(store_url("chdb", tmp_path / "fresh"))
    migrate(fresh)
    want = schema(fresh)
    fresh.close()
    # A server that died half-way through a migration, then two servers starting at once.
    partial = connect(store_url("chdb", tmp_path / "partial"))
    for sql in MIGRATIONS[0][:3]:
        partial.command(sql)
    migrate(partial)
    migrate(partial)
    assert schema(partial) == want
    applied = partial.tuples("SELECT version FROM schema_migrations FINAL ORDER BY version")
    assert applied == [(v,) for v in range(1, len(MIGRATIONS) + 1)]
    partial.close()


# --- idempotent ingest ------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ClickHouseStore]:
    opened = ClickHouseStore(store_url("chdb", tmp_path))
    yield opened
    opened.close()


def _world(store: ClickHouseStore) -> tuple[uuid.UUID, uuid.UUID, list[uuid.UUID]]:
    tenant = store.write_tenant(f"t-{uuid.uuid4()}")
    dataset = store.write_dataset(tenant, {"name": "ds"})["id"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    examples = store.write_examples(
        tenant,
        [
            {"dataset_id": dataset, "inputs": {"n": n}, "created_at": start + timedelta(seconds=n)}
            for n in range(4)
        ],
    )
    return tenant, dataset, [e["id"] for e in examples]


def _runs(session: str, examples: list[uuid.UUID]) -> tuple[list[dict[str, Any]], ...]:
    posts, patches = [], []
    for example in examples:
        run_id = str(uuid.uuid4())
        posts.append(
            {
                "id": run_id,
                "name": "target",
                "run_type": "chain",
                "start_time": "2026-01-02T00:00:00+00:00",
                "session_name": session,
                "reference_example_id": str(example),
                "inputs": {"q": 1},
                "outputs": {},
            }
        )
        patches.append({"id": run_id, "end_time": "2026-01-02T00:00:01+00:00", "outputs": {"a": 2}})
    return posts, patches


def test_retried_and_reordered_ingest_gives_one_row_each(store: ClickHouseStore) -> None:
    tenant, _, examples = _world(store)
    posts, patches = _runs("exp", examples)
    feedback = feedback_rows(
        [{"run_id": p["id"], "key": "k", "score": 1.0, "id": str(uuid.uuid4())} for p in posts],
        loc=[],
    )
    fb_batch = IngestBatch(tenant, feedback=feedback)
    # Feedback first (its runs unknown), the patch before the post, everything twice.
    for batch in (
        fb_batch,
        IngestBatch(tenant, run_ops("patch", patches, loc=[])),
        IngestBatch(tenant, run_ops("post", posts, loc=[])),
        IngestBatch(tenant, run_ops("post", posts, loc=[])),
        fb_batch,
    ):
        store.apply_ingest([batch])
    runs, _ = store.query_runs(tenant, RunWhere(), None, None, 100, "desc")
    assert len(runs) == len(posts)
    assert all(r["outputs"] == {"a": 2} and r["end_time"] is not None for r in runs), runs
    listed = store.list_feedback(tenant, FeedbackWhere(), Page(0, 100))
    assert sorted(f["id"] for f in listed) == sorted(f["id"] for f in feedback)
    assert all(f["is_root"] for f in listed)
    session = store.list_sessions(tenant, SessionWhere(name="exp"), Page(0, 10), stats=True)[0]
    assert session["run_count"] == len(posts)
    assert session["feedback_stats"]["k"]["n"] == len(posts)
    # Old versions are still stored until ClickHouse merges them; no read sees them.
    raw = store._conn.tuples("SELECT count() FROM feedback_versions WHERE tenant_id = ?", [tenant])
    assert raw[0][0] > len(feedback)


def test_deleting_a_session_removes_its_runs_and_feedback(store: ClickHouseStore) -> None:
    tenant, _, examples = _world(store)
    posts, _ = _runs("doomed", examples)
    fb = feedback_rows([{"run_id": p["id"], "key": "k", "score": 1} for p in posts], loc=[])
    store.apply_ingest([IngestBatch(tenant, run_ops("post", posts, loc=[]), fb)])
    session = store.list_sessions(tenant, SessionWhere(name="doomed"), Page(0, 1), stats=False)[0]
    store.write_session_delete(tenant, session["id"])
    assert store.query_runs(tenant, RunWhere(), None, None, 10, "desc")[0] == []
    assert store.list_feedback(tenant, FeedbackWhere(), Page(0, 10)) == []
    # A late patch of a deleted run does not bring back the post's fields.
    for _ in range(2):  # and neither does the next op of the run that patch brought back
        patch = {"id": posts[0]["id"], "outputs": {"late": True}}
        store.apply_ingest([IngestBatch(tenant, run_ops("patch", [patch], loc=[]))])
        run = store.get_run(tenant, uuid.UUID(posts[0]["id"]))
        assert run is not None and run["name"] == "Unnamed" and run["inputs"] is None


# --- several writers on one database ----------------------------------------------------


def test_two_stores_writing_at_once_agree(tmp_path: Path) -> None:
    """Two stores with their own writer threads, as two servers: posts through one, patches
    and feedback through the other, at once, and every request sent to the other server
    once more (a client retrying elsewhere).  Both see every row, merged right."""
    url = store_url("chdb", tmp_path)
    a, b = ClickHouseStore(url), ClickHouseStore(url)
    writers = [Writer(s, max_batch_ops=1000, queue_max=1000) for s in (a, b)]
    for w in writers:
        w.start()
    try:
        tenant, dataset, examples = _world(a)
        sessions = {}
        batches: list[list[IngestBatch]] = [[], []]
        for name, score in (("base", 0.0), ("cand", 1.0), ("auto", 0.5)):
            if name != "auto":  # "auto" is created by name by both servers at once
                row = {"name": name, "reference_dataset_id": dataset}
                sessions[name] = a.write_session(tenant, row, upsert=False)["id"]
            posts, patches = _runs(name, examples * 3)
            fb = feedback_rows(
                [{"run_id": p["id"], "key": "k", "score": score} for p in posts], loc=[]
            )
            for i in range(0, len(posts), 2):
                batches[0].append(IngestBatch(tenant, run_ops("post", posts[i : i + 2], loc=[])))
                batches[1].append(
                    IngestBatch(tenant, run_ops("patch", patches[i : i + 2], loc=[]), fb[i : i + 2])
                )

        def send(index: int) -> None:
            async def go() -> None:
                for batch in batches[index] + batches[1 - index]:
                    await writers[index].ingest(batch)

            asyncio.run(go())

        threads = [threading.Thread(target=send, args=(i,)) for i in (0, 1)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for s in (a, b):
            listed = s.list_sessions(tenant, SessionWhere(), Page(0, 10), stats=True)
            by_name = {r["name"]: r for r in listed}
            assert sorted(by_name) == ["auto", "base", "cand", "default"]
            for name in ("auto", "base", "cand"):
                assert by_name[name]["run_count"] == 12
                assert by_name[name]["feedback_stats"]["k"]["n"] == 12
            runs, _ = s.query_runs(tenant, RunWhere(), None, None, 100, "desc")
            assert len(runs) == 36
            assert all(r["outputs"] == {"a": 2} and r["status"] == "success" for r in runs)
            # The delta sees every feedback placed on its run, whichever server wrote what.
            query = prepare(s, tenant, dataset, sessions["base"], [sessions["cand"]], ["k"], None)
            got = compute_key(s, query, "k", False)
            assert got[str(sessions["cand"])]["improved_examples"] == examples
    finally:
        for w in writers:
            w.stop()
        a.close()
        b.close()


def test_two_servers_on_one_database_see_each_others_data(tmp_path: Path) -> None:
    """Two evaldelta servers (apps, stores, writers, key caches) on one ClickHouse database:
    what each ingests, both serve."""
    url = store_url("chdb", tmp_path / "shared")
    with (
        run_server(tmp_path / "one", store=url) as one,
        run_server(tmp_path / "two", store=url) as two,
    ):
        c1, c2 = one.http(), two.http()
        dataset = c1.post("/datasets", json={"name": "shared"}).json()
        example = c2.post(
            "/examples", json={"dataset_id": dataset["id"], "inputs": {"n": 1}}
        ).json()
        run_id = str(uuid.uuid4())
        post = {
            "id": run_id,
            "name": "t",
            "run_type": "chain",
            "start_time": "2026-01-01T00:00:00Z",
            "session_name": "shared-project",
            "reference_example_id": example["id"],
        }
        patch = {"id": run_id, "end_time": "2026-01-01T00:00:02Z", "outputs": {"x": 1}}
        scored = c2.post("/feedback", json={"run_id": run_id, "key": "k", "score": 1})
        assert scored.status_code == 200, scored.text
        assert c1.post("/runs/batch", json={"patch": [patch]}).status_code == 202
        assert c2.post("/runs/batch", json={"post": [post]}).status_code == 202
        for client in (c1, c2):
            assert client.get(f"/datasets/{dataset['id']}").json()["example_count"] == 1
            run = client.get(f"/runs/{run_id}").json()
            assert run["outputs"] == {"x": 1} and run["status"] == "success"
            fb = client.get("/feedback", params={"run": run_id}).json()
            assert [f["key"] for f in fb] == ["k"]
            projects = client.get("/sessions", params={"name": "shared-project"}).json()
            assert len(projects) == 1
            stats = client.get(
                f"/sessions/{projects[0]['id']}", params={"include_stats": True}
            ).json()
            assert stats["run_count"] == 1 and stats["feedback_stats"]["k"]["n"] == 1


def test_keys_are_stored_hashed(tmp_path: Path) -> None:
    """As on DuckDB (test_auth_isolation.py): no table holds a key, only its SHA-256."""
    url = store_url("chdb", tmp_path)
    with run_server(tmp_path / "data", store=url) as running:
        keys = dict(running.keys)
    conn = connect(url)
    try:
        stored = conn.tuples("SELECT key_hash, key_prefix FROM api_keys")
        everything = str(conn.tuples("SELECT * FROM api_keys_versions"))
    finally:
        conn.close()
    assert sorted(h for h, _ in stored) == sorted(hash_api_key(k) for k in keys.values())
    for key in keys.values():
        assert key not in everything and key[4:] not in everything
        assert (hash_api_key(key), key[:8]) in stored


def test_two_servers_interleaving_writes_of_the_same_runs_agree_with_the_reference(
    tmp_path: Path,
) -> None:
    """Two servers on one database, every run split between them: its feedback sent first,
    to the server that will not get its post; the post to one server and the patch (which
    brings the end time, so the latency filter depends on the merge) to the other, both
    servers' queues sent at once; then every request retried on the other server.  Both
    servers' deltas, streamed and paged, filtered and not, equal the reference's answer
    computed from what was sent."""
    rng = random.Random(6)
    url = store_url("chdb", tmp_path / "shared")
    with (
        run_server(tmp_path / "one", store=url) as one,
        run_server(tmp_path / "two", store=url) as two,
    ):
        clients = [one.http(), two.http()]
        dataset = create_dataset(clients[0])
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        examples = create_examples(
            clients[1], dataset, [t0 + timedelta(seconds=i) for i in range(12)]
        )
        sessions = [create_experiment(clients[i % 2], dataset) for i in range(3)]
        ref_runs: list[RefRun] = []
        ref_feedback: list[RefFeedback] = []
        # (server, path, body) in three waves: feedback first, then posts and patches, then
        # everything again on the other server.
        first: list[tuple[int, str, dict[str, Any]]] = []
        second: list[tuple[int, str, dict[str, Any]]] = []
        for s, session in enumerate(sessions):
            for e, example in enumerate(examples):
                for rep in range(2 if e % 3 else 1):
                    if s == 2 and e % 4 == 0:
                        continue  # missing in one comparison: neither improved nor regressed
                    start = t0 + timedelta(hours=s, minutes=e, seconds=rep)
                    run = run_post({"session_id": session}, example["id"], start=start)
                    run.pop("end_time")
                    run.pop("outputs")
                    latency = rng.choice([0.5, 1.0, 3.0])
                    patch = {
                        "id": run["id"],
                        "trace_id": run["trace_id"],
                        "dotted_order": run["dotted_order"],
                        "end_time": (start + timedelta(seconds=latency)).isoformat(),
                        "outputs": {"a": s},
                    }
                    scores = [
                        ("k", rng.choice([0, 0.5, 1, None])),
                        ("k", rng.choice([0, 1])),  # a second evaluator of the same key
                        ("j", rng.choice([True, False])),
                    ]
                    items = [feedback(run, key, score) for key, score in scores]
                    ref_runs.append(
                        RefRun(
                            UUID(run["id"]),
                            UUID(session),
                            UUID(example["id"]),
                            True,
                            {"latency": latency},
                        )
                    )
                    ref_feedback += [RefFeedback(UUID(run["id"]), k, v) for k, v in scores]
                    a = rng.randrange(2)
                    first.append((1 - a, "feedback", {"items": items}))
                    second.append((a, "/runs/batch", {"post": [run]}))
                    second.append((1 - a, "/runs/batch", {"patch": [patch]}))
        rng.shuffle(second)

        def send(index: int, wave: list[tuple[int, str, dict[str, Any]]]) -> None:
            for server, path, body in wave:
                if server != index:
                    continue
                if path == "feedback":
                    post_feedback_multipart(clients[index], body["items"])
                else:
                    assert clients[index].post(path, json=body).status_code == 202

        retries = [(1 - server, path, body) for server, path, body in first + second]
        for wave in (first, second, retries):
            threads = [threading.Thread(target=send, args=(i, wave)) for i in (0, 1)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

        world = World(
            [RefExample(UUID(e["id"]), t0 + timedelta(seconds=i)) for i, e in enumerate(examples)],
            ref_runs,
            ref_feedback,
        )
        fast = {sessions[1]: lambda r: r.fields["latency"] < 2}
        baseline, comparisons = sessions[0], sessions[1:]
        for http in clients:
            for key in ("k", "j"):
                want = world.expected(baseline, comparisons, key)
                assert nonempty(want)
                got = stream(http, dataset, baseline, comparisons, [key])[key]
                assert got == want, key
                paged = all_pages(http, dataset, baseline, comparisons, key, limit=5, total=12)
                assert paged == want, key
                filtered = stream(
                    http,
                    dataset,
                    baseline,
                    comparisons,
                    [key],
                    {sessions[1]: ["lt(latency, 2)"]},
                )[key]
                assert filtered == world.expected(baseline, comparisons, key, filters=fast)
            for session in sessions:
                project = http.get(f"/sessions/{session}", params={"include_stats": True}).json()
                assert project["run_count"] == sum(r.session_id == UUID(session) for r in ref_runs)
