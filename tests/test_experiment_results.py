"""Experiment results through the SDK's own methods, on DuckDB and on chDB:
``get_experiment_results`` (``POST /datasets/{id}/runs``) and its successor
``datasets.experiment_runs.query`` (``POST /api/v2/datasets/{id}/experiment-runs``), over two
experiments that ``evaluate()`` ran on one dataset."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from langsmith import Client

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.ingest import unique

pytestmark = pytest.mark.sdk

# Older SDKs (CI runs the oldest supported too) lack these methods; the routes are still
# checked over HTTP by the other tests.
needs_v1 = pytest.mark.skipif(
    not hasattr(Client, "get_experiment_results"), reason="get_experiment_results: SDK 0.4.43+"
)
needs_v2 = pytest.mark.skipif(
    not hasattr(Client, "datasets"), reason="datasets.experiment_runs: SDK 0.12+"
)

N = 6


def doubles(inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs["n"]
    return {"answer": n * 2 if n % 3 else n}  # wrong for 0 and 3 (0 is right by luck)


def doubles_but_one(inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs["n"]
    return {"answer": n * 2 + (1 if n == 4 else 0)}


def exact(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> dict[str, Any]:
    return {"key": "exact", "score": float(outputs["answer"] == reference_outputs["answer"])}


def closeness(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> dict[str, Any]:
    return {"key": "closeness", "score": -abs(outputs["answer"] - reference_outputs["answer"])}


@dataclass
class World:
    server: Server
    client: Any
    dataset_id: uuid.UUID
    a: Any  # the project of experiment a (doubles)
    b: Any  # experiment b (doubles_but_one)
    n_of: dict[uuid.UUID, int]  # example id -> its input n


def exact_in_a(n: int) -> float:
    return float(doubles({"n": n})["answer"] == n * 2)


@pytest.fixture(scope="module", params=STORE_KINDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    directory = tmp_path_factory.mktemp(f"results-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as server:
        client = server.sdk()
        dataset = client.create_dataset(unique("doubling"))
        client.create_examples(
            dataset_id=dataset.id,
            examples=[{"inputs": {"n": n}, "outputs": {"answer": n * 2}} for n in range(N)],
        )
        names = []
        for target in (doubles, doubles_but_one):
            results = client.evaluate(
                target, data=dataset.name, evaluators=[exact, closeness], experiment_prefix="r"
            )
            names.append(results.experiment_name)
        client.flush()
        a, b = (client.read_project(project_name=name) for name in names)
        n_of = {e.id: e.inputs["n"] for e in client.list_examples(dataset_id=dataset.id)}
        yield World(server, client, dataset.id, a, b, n_of)


def v1(world: World, tenant: str = "alpha", **body: Any) -> httpx.Response:
    body.setdefault("session_ids", [str(world.a.id)])
    with world.server.http(tenant) as http:
        return http.post(f"/datasets/{world.dataset_id}/runs", json=body)


def v2(world: World, tenant: str = "alpha", **body: Any) -> httpx.Response:
    body.setdefault("experiment_ids", [str(world.a.id)])
    with world.server.http(tenant, prefix="/api/v2") as http:
        return http.post(f"/datasets/{world.dataset_id}/experiment-runs", json=body)


def refused(response: httpx.Response, *loc: str) -> None:
    assert response.status_code == 422, response.text
    assert list(loc) in [e["loc"][: len(loc)] for e in response.json()["detail"]]


def query(world: World, **kwargs: Any) -> Any:
    """``await client.datasets.experiment_runs.query(...)`` as a user writes it."""

    async def go() -> Any:
        return await world.client.datasets.experiment_runs.query(str(world.dataset_id), **kwargs)

    return asyncio.run(go())


def collect(world: World, **kwargs: Any) -> list[Any]:
    """Every item over every page, through the SDK's own auto-paging."""

    async def go() -> list[Any]:
        paginator = world.client.datasets.experiment_runs.query(str(world.dataset_id), **kwargs)
        return [item async for item in paginator]

    return asyncio.run(go())


# --- get_experiment_results (v1) ------------------------------------------------------------


@needs_v1
def test_get_experiment_results_gives_every_example_with_its_run_and_feedback(
    world: World,
) -> None:
    with pytest.warns(DeprecationWarning):
        results = world.client.get_experiment_results(project_id=world.a.id)
    rows = list(results["examples_with_runs"])
    assert sorted(world.n_of[r.id] for r in rows) == list(range(N))
    for row in rows:
        n = world.n_of[row.id]
        assert len(row.runs) == 1
        run = row.runs[0]
        assert run.session_id == world.a.id and run.reference_example_id == row.id
        assert run.outputs == doubles({"n": n})
        assert run.feedback_stats["exact"]["avg"] == exact_in_a(n)
        assert run.feedback_stats["exact"]["n"] == 1
    assert results["run_stats"]["run_count"] == N
    assert results["feedback_stats"]["exact"]["n"] == N


@needs_v1
def test_get_experiment_results_limit_and_preview(world: World) -> None:
    with pytest.warns(DeprecationWarning):
        limited = world.client.get_experiment_results(project_id=world.a.id, limit=4)
        previewed = world.client.get_experiment_results(project_id=world.a.id, preview=True)
    assert len(list(limited["examples_with_runs"])) == 4
    for row in previewed["examples_with_runs"]:
        assert row.runs[0].outputs is None and row.runs[0].inputs == {}
    body = v1(world, preview=True).json()
    assert all(
        r["runs"][0]["inputs_preview"] == f'{{"n":{world.n_of[uuid.UUID(r["id"])]}}}' for r in body
    )
    assert all(r["runs"][0]["outputs"] is None for r in body)


def test_runs_carry_their_feedbacks(world: World) -> None:
    body = v1(world).json()
    assert len(body) == N
    for row in body:
        (run,) = row["runs"]
        keys = sorted(f["key"] for f in run["feedbacks"])
        assert keys == ["closeness", "exact"]
        assert all(f["run_id"] == run["id"] for f in run["feedbacks"])


def test_paging_example_ids_and_two_sessions(world: World) -> None:
    pages = [v1(world, offset=o, limit=4).json() for o in (0, 4, 8)]
    assert [len(p) for p in pages] == [4, 2, 0]
    assert len({r["id"] for p in pages for r in p}) == N
    some = sorted(world.n_of, key=str)[:2]
    picked = v1(world, example_ids=[str(e) for e in some]).json()
    assert sorted(r["id"] for r in picked) == sorted(str(e) for e in some)
    both = v1(world, session_ids=[str(world.b.id), str(world.a.id)]).json()
    for row in both:
        assert [r["session_id"] for r in row["runs"]] == [str(world.b.id), str(world.a.id)]


def test_filters_keep_the_examples_whose_runs_pass(world: World) -> None:
    wrong = 'and(eq(feedback_key, "exact"), eq(feedback_score, 0))'
    body = v1(world, filters={str(world.a.id): [wrong]}).json()
    assert sorted(world.n_of[uuid.UUID(r["id"])] for r in body) == [3]
    two = v1(
        world,
        session_ids=[str(world.a.id), str(world.b.id)],
        filters={str(world.b.id): [wrong]},
    ).json()
    by_n = {world.n_of[uuid.UUID(r["id"])]: r for r in two}
    assert sorted(by_n) == list(range(N))  # a's runs are not filtered
    assert [len(by_n[n]["runs"]) for n in range(N)] == [1, 1, 1, 1, 2, 1]
    refused(v1(world, filters={str(world.a.id): ["eq(nonsense"]}), "body", "filters")
    refused(v1(world, filters={str(world.b.id): ["eq(error, true)"]}), "body", "filters")


def test_sort_params_orders_by_a_keys_mean_score(world: World) -> None:
    for order in ("ASC", "DESC"):
        body = v1(world, sort_params={"sort_by": "closeness", "sort_order": order}).json()
        scores = [r["runs"][0]["feedback_stats"]["closeness"]["avg"] for r in body]
        assert scores == sorted(scores, reverse=order == "DESC")
        assert len(set(scores)) > 1
    prefixed = v1(world, sort_params={"sort_by": "feedback.closeness", "sort_order": "ASC"})
    assert [r["id"] for r in prefixed.json()] == [
        r["id"] for r in v1(world, sort_params={"sort_by": "closeness", "sort_order": "ASC"}).json()
    ]
    refused(
        v1(world, session_ids=[str(world.a.id), str(world.b.id)], sort_params={"sort_by": "exact"}),
        "body",
        "sort_params",
    )


def test_comparative_experiment_scopes_the_feedback(world: World) -> None:
    comparative = uuid.uuid4()
    run_id = v1(world).json()[0]["runs"][0]["id"]
    with world.server.http() as http:
        posted = http.post(
            "/feedback",
            json={
                "run_id": run_id,
                "key": "preference",
                "score": 1,
                "comparative_experiment_id": str(comparative),
            },
        )
        assert posted.status_code == 200, posted.text
    plain = {r["runs"][0]["id"]: r["runs"][0] for r in v1(world).json()}
    scoped = {
        r["runs"][0]["id"]: r["runs"][0]
        for r in v1(world, comparative_experiment_id=str(comparative)).json()
    }
    assert "preference" not in plain[run_id]["feedback_stats"]
    assert [f["key"] for f in scoped[run_id]["feedbacks"]] == ["preference"]
    assert scoped[run_id]["feedback_stats"]["preference"]["avg"] == 1
    assert all(not r["feedbacks"] for rid, r in scoped.items() if rid != run_id)


def test_what_is_not_supported_is_refused_by_name(world: World) -> None:
    with world.server.http() as http:
        csv = http.post(
            f"/datasets/{world.dataset_id}/runs",
            params={"format": "csv"},
            json={"session_ids": [str(world.a.id)]},
        )
    refused(csv, "query", "format")
    refused(v1(world, include_annotator_detail=True), "body", "include_annotator_detail")
    refused(v1(world, session_ids=[]), "body", "session_ids")


def test_other_datasets_sessions_and_tenants_are_404(world: World) -> None:
    with world.server.http() as http:
        other = http.post("/datasets", json={"name": unique("other")}).json()
        elsewhere = http.post(
            "/sessions", json={"name": unique("elsewhere"), "reference_dataset_id": other["id"]}
        ).json()
    assert v1(world, session_ids=[elsewhere["id"]]).status_code == 404
    assert v1(world, session_ids=[str(uuid.uuid4())]).status_code == 404
    assert v1(world, tenant="beta").status_code == 404
    assert v2(world, tenant="beta").status_code == 404
    assert v2(world, experiment_ids=[elsewhere["id"]]).status_code == 404


# --- datasets.experiment_runs.query (v2) -----------------------------------------------------


@needs_v2
def test_query_pages_with_a_cursor(world: World) -> None:
    first = query(world, experiment_ids=[str(world.a.id)], page_size=4)
    assert len(first.items) == 4 and first.next_cursor
    items = collect(world, experiment_ids=[str(world.a.id)], page_size=4)
    assert sorted(world.n_of[uuid.UUID(i.id)] for i in items) == list(range(N))
    assert [set(r.model_dump(exclude_none=True)) for i in items for r in i.runs] == [{"id"}] * N
    refused(v2(world, cursor="not-a-cursor"), "body", "cursor")
    refused(v2(world, page_size=101), "body", "page_size")


@needs_v2
def test_query_selects_fields(world: World) -> None:
    page = query(
        world,
        experiment_ids=[str(world.a.id)],
        selects=["OUTPUTS", "FEEDBACK_STATS", "PROJECT_ID", "STATUS", "LATENCY_SECONDS"],
    )
    for item in page.items:
        (run,) = item.runs
        n = world.n_of[uuid.UUID(item.id)]
        assert run.outputs == doubles({"n": n})
        assert run.project_id == str(world.a.id)
        assert run.status == "SUCCESS"
        assert run.latency_seconds is not None and run.latency_seconds >= 0
        assert run.feedback_stats["exact"].avg == exact_in_a(n)
        assert run.inputs is None and run.name is None
    raw = v2(world, selects=["NAME"]).json()
    assert all(set(r) == {"id", "name"} for i in raw["items"] for r in i["runs"])
    refused(v2(world, selects=["NOT_A_FIELD"]), "body", "selects")


@needs_v2
def test_query_sorts_filters_and_restricts(world: World) -> None:
    ids = [str(world.a.id)]
    asc = query(world, experiment_ids=ids, sort={"by": "feedback.closeness", "order": "ASC"})
    scores = [
        -abs(
            doubles({"n": world.n_of[uuid.UUID(i.id)]})["answer"] - 2 * world.n_of[uuid.UUID(i.id)]
        )
        for i in asc.items
    ]
    assert scores == sorted(scores)
    some = sorted(world.n_of, key=str)[:3]
    restricted = query(world, experiment_ids=ids, example_ids=[str(e) for e in some])
    assert sorted(i.id for i in restricted.items) == sorted(str(e) for e in some)
    wrong = 'and(eq(feedback_key, "exact"), eq(feedback_score, 0))'
    filtered = query(world, experiment_ids=[str(world.b.id)], filters={str(world.b.id): [wrong]})
    assert [world.n_of[uuid.UUID(i.id)] for i in filtered.items] == [4]
    both = query(world, experiment_ids=[str(world.a.id), str(world.b.id)], selects=["PROJECT_ID"])
    assert all(len(i.runs) == 2 for i in both.items)
    refused(
        v2(world, experiment_ids=[str(world.a.id), str(world.b.id)], sort={"by": "exact"}),
        "body",
        "sort",
    )
