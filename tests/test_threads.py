"""Threads: a project's traces grouped by a key of their metadata, as the SDK reads them.

Traces are made with the SDK's ``@traceable`` (metadata ``thread_id``, ``session_id`` or
``conversation_id``) and read back with ``Client.list_threads`` and ``Client.read_thread``,
on both stores.  The thread id is derived when a run is written, also when a later patch
sets the metadata, and the migration fills it in for runs stored before the column.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import duckdb
import httpx
import langsmith
import pytest
from langsmith.run_helpers import tracing_context

from evaldelta.store.clickhouse.connection import connect
from evaldelta.store.clickhouse.schema import MIGRATIONS as CH_MIGRATIONS
from evaldelta.store.clickhouse.schema import migrate as ch_migrate
from evaldelta.store.duckdb.schema import MIGRATIONS as DUCK_MIGRATIONS
from evaldelta.store.duckdb.schema import migrate as duck_migrate
from evaldelta.store.threads import thread_id_of
from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.ingest import unique
from tests.support.migrations import before

pytestmark = [
    pytest.mark.sdk,
    # list_threads and read_thread are what the SDK offers for threads today, deprecated.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.skipif(
        not hasattr(langsmith.Client, "read_thread"), reason="this SDK has no thread methods"
    ),
]


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server per store kind for the module."""
    directory = tmp_path_factory.mktemp(f"threads-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as running:
        yield running


def _turn(client: Any, project: str, metadata: dict[str, Any], question: str) -> None:
    """One traced turn of a conversation: a root chain named after the question, with an
    llm child."""

    @langsmith.traceable(run_type="llm", name="model")
    def model(q: str) -> str:
        return q.upper()

    @langsmith.traceable(name=f"turn {question}")
    def turn(q: str) -> str:
        return model(q)

    with tracing_context(enabled=True, client=client, project_name=project):
        turn(question, langsmith_extra={"metadata": metadata})


@pytest.fixture(scope="module")
def conversations(served: Server) -> dict[str, Any]:
    """A project with four conversations (one per metadata key, one with two turns) and
    one trace outside any thread."""
    client = served.sdk()
    project = unique("threads")
    ids = {name: unique(name) for name in ("long", "by_session", "by_conversation")}
    _turn(client, project, {"thread_id": ids["long"]}, "hello")
    _turn(client, project, {"session_id": ids["by_session"]}, "hi")
    _turn(client, project, {"thread_id": ids["long"]}, "again")
    _turn(client, project, {"conversation_id": ids["by_conversation"], "user": "u"}, "hey")
    _turn(client, project, {"user": "u"}, "no thread")
    client.flush()
    return {"client": client, "project": project, "ids": ids}


def test_list_threads_groups_root_runs_by_their_metadata_key(
    conversations: dict[str, Any],
) -> None:
    client, ids = conversations["client"], conversations["ids"]
    threads = client.list_threads(project_name=conversations["project"])

    by_id = {t["thread_id"]: t for t in threads}
    assert set(by_id) == set(ids.values())  # the trace without a key is in none
    long = by_id[ids["long"]]
    assert long["count"] == 2
    assert [r.name for r in long["runs"]] == ["turn hello", "turn again"]  # oldest first
    assert all(r.parent_run_id is None for r in long["runs"])
    assert long["min_start_time"] < long["max_start_time"]
    assert by_id[ids["by_session"]]["count"] == 1
    assert by_id[ids["by_conversation"]]["runs"][0].name == "turn hey"
    # Newest thread first: the long conversation's second turn came after "hi".
    assert [t["thread_id"] for t in threads][:1] == [ids["by_conversation"]]


def test_list_threads_pages_and_filters(conversations: dict[str, Any]) -> None:
    client, ids = conversations["client"], conversations["ids"]
    project = conversations["project"]
    assert len(client.list_threads(project_name=project, limit=2)) == 2
    assert len(client.list_threads(project_name=project, offset=2)) == 1
    only = client.list_threads(project_name=project, filter=f'eq(thread_id, "{ids["long"]}")')
    assert [t["thread_id"] for t in only] == [ids["long"]]
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert client.list_threads(project_name=project, start_time=later) == []


def test_read_thread_yields_the_threads_runs_in_order(conversations: dict[str, Any]) -> None:
    client, ids = conversations["client"], conversations["ids"]
    project = conversations["project"]

    roots = list(client.read_thread(thread_id=ids["long"], project_name=project))
    assert [r.inputs["q"] for r in roots] == ["hello", "again"]

    # Children inherit their parent's metadata, so they are in the thread too.
    children = list(client.read_thread(thread_id=ids["long"], project_name=project, is_root=False))
    assert [r.name for r in children] == ["model", "model"]
    every = list(client.read_thread(thread_id=ids["long"], project_name=project, is_root=None))
    assert sorted(r.name for r in every) == ["model", "model", "turn again", "turn hello"]

    newest = list(client.read_thread(thread_id=ids["long"], project_name=project, order="desc"))
    assert [r.inputs["q"] for r in newest] == ["again", "hello"]
    llm = list(
        client.read_thread(
            thread_id=ids["long"],
            project_name=project,
            is_root=False,
            filter='eq(run_type, "llm")',
        )
    )
    assert [r.name for r in llm] == ["model", "model"]
    assert list(client.read_thread(thread_id="no-such-thread", project_name=project)) == []


def test_thread_filters_in_runs_query(served: Server, conversations: dict[str, Any]) -> None:
    ids = conversations["ids"]
    session = conversations["client"].read_project(project_name=conversations["project"]).id
    with served.http() as http:

        def names(text: str) -> list[str]:
            body = {"session": [str(session)], "is_root": True, "filter": text}
            response = http.post("/runs/query", json=body)
            assert response.status_code == 200, response.text
            return sorted(r["inputs"]["q"] for r in response.json()["runs"])

        both = json.dumps([ids["by_session"], ids["by_conversation"]])
        assert names(f"in(thread_id, {both})") == ["hey", "hi"]
        assert names(f'neq(thread_id, "{ids["long"]}")') == ["hey", "hi", "no thread"]
        assert names("eq(thread_id, null)") == ["no thread"]
        assert names('like(thread_id, "long%")') == ["again", "hello"]
        refused = http.post(
            "/runs/query", json={"session": [str(session)], "filter": "eq(thread_id, 5)"}
        )
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["body", "filter"]

        root = names(f'eq(thread_id, "{ids["by_session"]}")')
        assert root == ["hi"]
        run_id = http.post(
            "/runs/query",
            json={"session": [str(session)], "filter": f'eq(thread_id, "{ids["by_session"]}")'},
        ).json()["runs"][0]["id"]
        assert http.get(f"/runs/{run_id}").json()["thread_id"] == ids["by_session"]


def test_another_tenant_sees_none_of_the_threads(
    served: Server, conversations: dict[str, Any]
) -> None:
    session = conversations["client"].read_project(project_name=conversations["project"]).id
    with served.http("beta") as beta:
        body = {
            "session": [str(session)],
            "filter": f'eq(thread_id, "{conversations["ids"]["long"]}")',
        }
        assert beta.post("/runs/query", json=body).json()["runs"] == []
    beta_sdk = served.sdk("beta")
    assert beta_sdk.list_threads(project_id=session) == []
    with pytest.raises(langsmith.utils.LangSmithNotFoundError):
        beta_sdk.list_threads(project_name=conversations["project"])


def test_a_patch_that_sets_the_metadata_moves_the_run_into_its_thread(served: Server) -> None:
    client = served.sdk()
    project = unique("patched-thread")
    run_id = uuid4()
    start = datetime.now(UTC)
    client.create_run(
        "turn",
        {"q": "late"},
        "chain",
        project_name=project,
        id=run_id,
        trace_id=run_id,
        dotted_order=f"{start:%Y%m%dT%H%M%S%fZ}{run_id}",
        start_time=start,
    )
    client.flush()
    assert client.list_threads(project_name=project) == []

    thread = unique("late-thread")
    client.update_run(
        run_id,
        outputs={"a": 1},
        end_time=datetime.now(UTC),
        extra={"metadata": {"conversation_id": thread}},
        trace_id=run_id,
        dotted_order=f"{start:%Y%m%dT%H%M%S%fZ}{run_id}",
    )
    client.flush()
    threads = client.list_threads(project_name=project)
    assert [(t["thread_id"], t["count"]) for t in threads] == [(thread, 1)]
    with served.http() as http:
        assert http.get(f"/runs/{run_id}").json()["thread_id"] == thread


def test_the_first_documented_key_wins(served: Server) -> None:
    client = served.sdk()
    project = unique("precedence")
    _turn(client, project, {"thread_id": "t-1", "session_id": "s-1", "conversation_id": "c"}, "a")
    _turn(client, project, {"session_id": "", "conversation_id": "c-2", "thread_id": None}, "b")
    _turn(client, project, {"thread_id": 42}, "c")
    client.flush()
    threads = client.list_threads(project_name=project)
    got = {t["runs"][0].name: t["thread_id"] for t in threads}
    assert got == {"turn a": "s-1", "turn b": "c-2", "turn c": "42"}


def test_the_rule_in_python() -> None:
    assert thread_id_of({"metadata": {"conversation_id": "c", "thread_id": "t"}}) == "t"
    assert thread_id_of({"metadata": {"thread_id": {"k": [1, True]}}}) == '{"k":[1,true]}'
    assert thread_id_of({"metadata": ["thread_id"]}) is None
    assert thread_id_of(None) is None


# --- runs stored before the column existed -------------------------------------------------

OLD_RUNS = [
    ({"metadata": {"thread_id": "a"}}, "a"),
    ({"metadata": {"session_id": "", "conversation_id": 5}}, "5"),
    ({"metadata": {"session_id": None, "thread_id": {"x": 1}}}, '{"x":1}'),
    ({"metadata": {"session_id": "s", "thread_id": "t"}}, "s"),
    ({"metadata": {"thread_id": True}}, "true"),
    ({"metadata": ["x"]}, None),
    (None, None),
]


def test_duckdb_migration_fills_in_old_runs(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    con.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY)")
    for version, sql in enumerate(before(DUCK_MIGRATIONS, "ADD COLUMN thread_id"), start=1):
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?)", [version])
    tenant, session = uuid4(), uuid4()
    ids = []
    for extra, _ in OLD_RUNS:
        run = uuid4()
        ids.append(run)
        con.execute(
            """INSERT INTO runs (tenant_id, id, session_id, name, run_type, status, start_time,
                trace_id, dotted_order, is_root, extra)
               VALUES (?, ?, ?, 'r', 'chain', 'success', now(), ?, '', true, ?)""",
            [tenant, run, session, run, None if extra is None else json.dumps(extra)],
        )
    duck_migrate(con)
    got = dict(con.execute("SELECT id, thread_id FROM runs").fetchall())
    assert [got[i] for i in ids] == [want for _, want in OLD_RUNS]
    assert [thread_id_of(extra) for extra, _ in OLD_RUNS] == [want for _, want in OLD_RUNS]
    con.close()


def test_clickhouse_migration_answers_for_old_runs(tmp_path: Path) -> None:
    conn = connect(store_url("chdb", tmp_path / "old"))
    conn.command(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
            version UInt32, applied_at DateTime DEFAULT now()
        ) ENGINE = ReplacingMergeTree ORDER BY version"""
    )
    old = before(CH_MIGRATIONS, "ADD COLUMN IF NOT EXISTS thread_id")
    for version, statements in enumerate(old, start=1):
        for sql in statements:
            conn.command(sql)
        conn.insert("schema_migrations", ["version"], [{"version": version}])
    tenant, session = uuid4(), uuid4()
    now = datetime.now(UTC)
    rows = []
    ids: list[UUID] = []
    for extra, _ in OLD_RUNS:
        run = uuid4()
        ids.append(run)
        rows.append(
            {
                "tenant_id": tenant,
                "session_id": session,
                "id": run,
                "name": "r",
                "run_type": "chain",
                "status": "success",
                "start_time": now,
                "trace_id": run,
                "dotted_order": "",
                "is_root": True,
                "extra": None if extra is None else json.dumps(extra),
                "patched_fields": [],
                "version": 1,
            }
        )
    conn.insert("runs_versions", list(rows[0]), rows)
    ch_migrate(conn)
    got = {UUID(str(t[0])): t[1] for t in conn.tuples("SELECT id, thread_id FROM runs", [])}
    assert [got[i] for i in ids] == [want for _, want in OLD_RUNS]


def test_unknown_thread_keys_in_the_http_filter_are_refused(http: httpx.Client) -> None:
    response = http.post("/runs/query", json={"filter": "eq(thread, 'x')"})
    assert response.status_code == 422
    assert "thread_id" in response.json()["detail"][0]["msg"]


def test_thread_filters_in_a_deltas_per_experiment_filters(served: Server) -> None:
    """Two experiments of the same four rows; the candidate's runs of two rows are in one
    thread: filtered to that thread, only those two rows count."""
    stamp = "2026-01-01T00:00:00+00:00"
    rows = [str(uuid4()) for _ in range(4)]
    dataset = unique("thread-delta")

    def experiment(http: httpx.Client, name: str, score: int, threads: list[str | None]) -> str:
        results = [
            {
                "row_id": row_id,
                "inputs": {"n": n},
                "start_time": stamp,
                "end_time": stamp,
                "run_metadata": None if thread is None else {"thread_id": thread},
                "evaluation_scores": [{"key": "correct", "score": score}],
            }
            for n, (row_id, thread) in enumerate(zip(rows, threads, strict=True))
        ]
        body = {
            "experiment_name": unique(name),
            "experiment_start_time": stamp,
            "experiment_end_time": stamp,
            "dataset_name": dataset,
            "results": results,
        }
        uploaded = http.post("/datasets/upload-experiment", json=body)
        assert uploaded.status_code == 200, uploaded.text
        return str(uploaded.json()["experiment"]["id"])

    with served.http() as http:
        base = experiment(http, "base", 0, [None] * 4)
        cand = experiment(http, "cand", 1, ["keep", "keep", "other", None])
        dataset_id = http.get("/datasets", params={"name": dataset}).json()[0]["id"]
        body = {
            "baseline_session_id": base,
            "comparison_session_ids": [cand],
            "feedback_key": "correct",
            "filters": {cand: ['eq(thread_id, "keep")']},
        }
        answer = http.post(f"/datasets/{dataset_id}/runs/delta", json=body)
        assert answer.status_code == 200, answer.text
        lists = answer.json()["feedback_deltas"][cand]
        assert sorted(lists["improved_examples"]) == sorted(rows[:2])
        assert lists["regressed_examples"] == []

        # The experiment results' v2 page selects the same thread.
        page = http.post(
            f"{served.url}/api/v2/datasets/{dataset_id}/experiment-runs",
            json={"experiment_ids": [cand], "selects": ["THREAD_ID"]},
        )
        assert page.status_code == 200, page.text
        threads = {item["id"]: item["runs"][0]["thread_id"] for item in page.json()["items"]}
        assert threads == dict(zip(rows, ["keep", "keep", "other", None], strict=True))
