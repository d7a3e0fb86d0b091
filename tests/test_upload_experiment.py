"""``POST /datasets/upload-experiment``: experiments run elsewhere, uploaded whole, on both
stores.

Two uploads of the same rows compare in the delta exactly as their scores say; what an
upload wrote is what the SDK reads back (projects, runs, feedback, datasets, examples);
bad input is a 422 naming the field, other tenants' examples are a 404, and a refused
upload writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.delta_seed import delta, stream
from tests.support.ingest import unique

pytestmark = pytest.mark.sdk

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"upload-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as running:
        yield running


@pytest.fixture
def http(served: Server) -> Iterator[httpx.Client]:
    with served.http() as client:
        yield client


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def row(n: int, score: float | None, *, row_id: str | None = None, **more: Any) -> dict[str, Any]:
    """Result ``n``: its run takes second n..n+1 of the experiment, scored ``score``."""
    result: dict[str, Any] = {
        "inputs": {"q": f"question {n}"},
        "expected_outputs": {"a": n},
        "actual_outputs": {"a": n if score else -n},
        "start_time": at(n),
        "end_time": at(n + 1),
        "evaluation_scores": [] if score is None else [{"key": "correct", "score": score}],
        **more,
    }
    if row_id is not None:
        result["row_id"] = row_id
    return result


def upload(name: str, results: list[dict[str, Any]], **more: Any) -> dict[str, Any]:
    return {
        "experiment_name": name,
        "experiment_start_time": at(0),
        "experiment_end_time": at(3600),
        "results": results,
        **more,
    }


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def refused(response: httpx.Response, status: int) -> Any:
    """A 422's ``loc``; another status's message."""
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    return detail[0]["loc"] if status == 422 else detail


def test_two_uploads_compare_as_their_scores_say(http: httpx.Client) -> None:
    dataset = unique("uploaded")
    rows = [str(uuid4()) for _ in range(6)]
    a_scores = [1, 0, 1, 0, 0.5, 1]
    b_scores = [1, 1, 0, 0, 0.5, None]  # the last row was not scored in b
    a = ok(
        http.post(
            "/datasets/upload-experiment",
            json=upload(
                unique("a"),
                [row(n, s, row_id=r) for n, (s, r) in enumerate(zip(a_scores, rows, strict=True))],
                dataset_name=dataset,
                dataset_description="from elsewhere",
            ),
        )
    )
    b = ok(
        http.post(
            "/datasets/upload-experiment",
            json=upload(
                unique("b"),
                [row(n, s, row_id=r) for n, (s, r) in enumerate(zip(b_scores, rows, strict=True))],
                dataset_name=dataset,
            ),
        )
    )
    dataset_id = a["dataset"]["id"]
    assert b["dataset"]["id"] == dataset_id
    assert a["dataset"]["externally_managed"] is True
    assert b["dataset"]["example_count"] == 6 and b["dataset"]["session_count"] == 2
    assert a["experiment"]["reference_dataset_id"] == dataset_id
    assert a["experiment"]["run_count"] == 6

    a_id, b_id = a["experiment"]["id"], b["experiment"]["id"]
    single = delta(http, dataset_id, a_id, [b_id], "correct")[b_id]
    assert single == {"improved_examples": [rows[1]], "regressed_examples": [rows[2]]}
    streamed = stream(http, dataset_id, a_id, [b_id], ["correct"])
    assert streamed["correct"][b_id] == single
    backwards = delta(http, dataset_id, b_id, [a_id], "correct")[a_id]
    assert backwards == {"improved_examples": [rows[2]], "regressed_examples": [rows[1]]}


def test_times_without_a_zone_are_utc(http: httpx.Client) -> None:
    body = upload(unique("naive"), [row(0, 1)], dataset_name=unique("naive"))
    body["experiment_start_time"] = "2026-05-01T12:00:00"  # T0, written without its zone
    body["results"][0]["end_time"] = "2026-05-01T12:00:01"
    uploaded = ok(http.post("/datasets/upload-experiment", json=body))
    assert uploaded["experiment"]["start_time"].startswith("2026-05-01T12:00:00")
    body = upload(unique("naive"), [row(0, 1)], dataset_name=unique("naive"))
    body["results"][0]["start_time"] = "2026-05-01T11:59:59"
    assert refused(http.post("/datasets/upload-experiment", json=body), 422) == [
        "body",
        "results",
        0,
        "start_time",
    ]


def test_rows_without_ids_line_up_by_their_inputs(http: httpx.Client) -> None:
    dataset = unique("by-inputs")
    first = ok(
        http.post(
            "/datasets/upload-experiment",
            json=upload(unique("x"), [row(0, 0), row(1, 1)], dataset_name=dataset),
        )
    )
    second = ok(
        http.post(
            "/datasets/upload-experiment",
            json=upload(unique("y"), [row(1, 0), row(0, 1)], dataset_name=dataset),
        )
    )
    assert second["dataset"]["example_count"] == 2
    dataset_id = first["dataset"]["id"]
    x, y = first["experiment"]["id"], second["experiment"]["id"]
    lists = delta(http, dataset_id, x, [y], "correct")[y]
    assert len(lists["improved_examples"]) == 1 and len(lists["regressed_examples"]) == 1


def test_what_the_sdk_reads_back(served: Server, http: httpx.Client) -> None:
    client = served.sdk()
    dataset, name = unique("sdk-ds"), unique("sdk-exp")
    results = [
        row(0, 1, run_name="answer", run_metadata={"model": "m1", "thread_id": "conv-1"}),
        row(1, 0, error="it broke"),
    ]
    results[0]["evaluation_scores"].append(
        {"key": "style", "value": "terse", "comment": "short", "feedback_source": {"type": "model"}}
    )
    body = upload(
        name,
        results,
        dataset_name=dataset,
        experiment_description="run on a laptop",
        experiment_metadata={"model": "m1"},
        summary_experiment_scores=[{"key": "f1", "score": 0.75}],
    )
    uploaded = ok(http.post("/datasets/upload-experiment", json=body))

    project = client.read_project(project_name=name, include_stats=True)
    assert str(project.id) == uploaded["experiment"]["id"]
    assert str(project.reference_dataset_id) == uploaded["dataset"]["id"]
    assert project.description == "run on a laptop"
    assert project.metadata == {"model": "m1"}
    assert project.run_count == 2
    assert project.start_time == T0 and project.end_time == T0 + timedelta(hours=1)

    examples = {e.inputs["q"]: e for e in client.list_examples(dataset_name=dataset)}
    assert {q: e.outputs for q, e in examples.items()} == {
        "question 0": {"a": 0},
        "question 1": {"a": 1},
    }
    runs = {r.inputs["q"]: r for r in client.list_runs(project_name=name)}
    assert runs["question 0"].name == "answer" and runs["question 1"].name == "Target"
    assert runs["question 0"].outputs == {"a": 0}
    assert runs["question 0"].extra["metadata"] == {"model": "m1", "thread_id": "conv-1"}
    assert runs["question 1"].error == "it broke" and runs["question 1"].status == "error"
    assert runs["question 0"].status == "success"
    assert runs["question 0"].start_time == T0 and runs["question 0"].end_time == T0 + timedelta(
        seconds=1
    )
    for q, run in runs.items():
        assert run.reference_example_id == examples[q].id
        assert run.parent_run_id is None and run.trace_id == run.id

    feedback = list(client.list_feedback(run_ids=[runs["question 0"].id]))
    assert sorted((f.key, f.score, f.value) for f in feedback) == [
        ("correct", 1, None),
        ("style", None, "terse"),
    ]
    style = next(f for f in feedback if f.key == "style")
    assert style.comment == "short" and style.feedback_source.type == "model"
    summary = list(client.list_feedback(session=[project.id], level="session"))
    assert [(f.key, f.score) for f in summary] == [("f1", 0.75)]
    with served.http() as h:
        stored = h.get(f"/runs/{runs['question 0'].id}").json()
    assert stored["thread_id"] == "conv-1"


def test_an_sdk_made_dataset_takes_uploads_against_its_examples(
    served: Server, http: httpx.Client
) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("curated"))
    examples = client.create_examples(
        dataset_id=dataset.id, inputs=[{"q": f"question {n}"} for n in range(2)]
    )
    ids = [str(e) for e in examples["example_ids"]] if isinstance(examples, dict) else []
    if not ids:
        ids = [str(e.id) for e in client.list_examples(dataset_id=dataset.id)]
    body = upload(
        unique("on-curated"),
        [row(n, 1, row_id=example_id) for n, example_id in enumerate(ids)],
        dataset_id=str(dataset.id),
        dataset_name=dataset.name,
    )
    uploaded = ok(http.post("/datasets/upload-experiment", json=body))
    assert uploaded["dataset"]["externally_managed"] is False
    assert uploaded["dataset"]["example_count"] == 2  # nothing added

    # Its examples must exist, and be named.
    missing = str(uuid4())
    stranger = upload(unique("x"), [row(0, 1, row_id=missing)], dataset_id=str(dataset.id))
    answer = refused(http.post("/datasets/upload-experiment", json=stranger), 404)
    assert answer == f"Example {missing} not found"
    nameless = upload(unique("x"), [row(0, 1)], dataset_id=str(dataset.id))
    assert refused(http.post("/datasets/upload-experiment", json=nameless), 422) == [
        "body",
        "results",
        0,
        "row_id",
    ]


def test_tenants_stay_apart(served: Server, http: httpx.Client) -> None:
    mine = ok(
        http.post(
            "/datasets/upload-experiment",
            json=upload(unique("mine"), [row(0, 1)], dataset_name=unique("alpha-ds")),
        )
    )
    alpha_dataset = mine["dataset"]["id"]
    example = http.get("/examples", params={"dataset": alpha_dataset}).json()[0]["id"]
    beta_client = served.sdk("beta")
    beta_dataset = beta_client.create_dataset(unique("beta-own"))
    with served.http("beta") as beta:
        # Alpha's example, named in beta's own dataset: not found.
        body = upload(unique("b"), [row(0, 1, row_id=example)], dataset_id=str(beta_dataset.id))
        answer = refused(beta.post("/datasets/upload-experiment", json=body), 404)
        assert answer == f"Example {example} not found"
        # Alpha's dataset id is no dataset of beta's: beta gets a dataset of its own.
        body = upload(unique("b"), [row(0, 1)], dataset_id=alpha_dataset)
        own = ok(beta.post("/datasets/upload-experiment", json=body))
        assert own["dataset"]["name"] == f"upload-{alpha_dataset}"
    after = http.get(f"/datasets/{alpha_dataset}").json()
    assert after["session_count"] == 1 and after["example_count"] == 1


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda b: b.pop("results"), ["body", "results"]),
        (lambda b: b.update(experiment_nam="typo"), ["body", "experiment_nam"]),
        (lambda b: b.pop("dataset_name"), ["body", "dataset_id"]),
        (lambda b: b.update(experiment_end_time=at(-1)), ["body", "experiment_end_time"]),
        (lambda b: b["results"][0].update(end_time=at(-5)), ["body", "results", 0, "end_time"]),
        (lambda b: b["results"][0].update(start_time=at(-5)), ["body", "results", 0, "start_time"]),
        (lambda b: b["results"][0].update(end_time=at(9999)), ["body", "results", 0, "end_time"]),
        (lambda b: b["results"][0].pop("inputs"), ["body", "results", 0, "inputs"]),
        (lambda b: b["results"][0].update(row_id="x"), ["body", "results", 0, "row_id"]),
        (lambda b: b["results"][0].update(outputs={}), ["body", "results", 0, "outputs"]),
        (
            lambda b: b["results"][0]["evaluation_scores"].append({"score": 1}),
            ["body", "results", 0, "evaluation_scores", 1, "key"],
        ),
        (
            lambda b: b["results"][0]["evaluation_scores"].append(
                {"key": "k", "comparative_experiment_id": str(uuid4())}
            ),
            ["body", "results", 0, "evaluation_scores", 1, "comparative_experiment_id"],
        ),
        (
            lambda b: b["results"][0]["evaluation_scores"].append({"key": "k", "run_id": "x"}),
            ["body", "results", 0, "evaluation_scores", 1, "run_id"],
        ),
        (
            lambda b: b.update(summary_experiment_scores=[{"key": "k", "score": "high"}]),
            ["body", "summary_experiment_scores", 0, "score"],
        ),
    ],
)
def test_bad_uploads_name_the_field(http: httpx.Client, change: Any, loc: list[Any]) -> None:
    dataset = unique("never")
    body = upload(unique("bad"), [row(0, 1)], dataset_name=dataset)
    change(body)
    got = refused(http.post("/datasets/upload-experiment", json=body), 422)
    assert got[: len(loc)] == loc
    assert http.get("/datasets", params={"name": dataset}).json() == []


def test_a_refused_upload_writes_nothing(http: httpx.Client) -> None:
    taken = unique("taken")
    ok(
        http.post(
            "/datasets/upload-experiment",
            json=upload(taken, [row(0, 1)], dataset_name=unique("first")),
        )
    )
    dataset = unique("second")
    clash = upload(taken, [row(0, 1), row(1, 1)], dataset_name=dataset)
    answer = refused(http.post("/datasets/upload-experiment", json=clash), 409)
    assert answer == f"Session with name {taken!r} already exists"
    assert http.get("/datasets", params={"name": dataset}).json() == []

    # A row whose example is in another dataset: the new examples before it are not made.
    other = ok(
        http.post(
            "/datasets/upload-experiment",
            json=upload(unique("o"), [row(7, 1, row_id=str(uuid4()))], dataset_name=unique("o")),
        )
    )
    elsewhere = http.get("/examples", params={"dataset": other["dataset"]["id"]}).json()[0]["id"]
    existing = ok(
        http.post(
            "/datasets/upload-experiment",
            json=upload(unique("e"), [row(0, 1)], dataset_name=unique("kept")),
        )
    )["dataset"]
    name = unique("never-made")
    body = upload(
        name,
        [row(1, 1, row_id=str(uuid4())), row(2, 1, row_id=elsewhere)],
        dataset_id=existing["id"],
    )
    answer = refused(http.post("/datasets/upload-experiment", json=body), 409)
    assert answer == f"Example {elsewhere} is in another dataset"
    assert http.get(f"/datasets/{existing['id']}").json()["example_count"] == 1
    assert http.get("/sessions", params={"name": name}).json() == []

    # Both a name and an id: they must name the same dataset.
    mismatch = upload(unique("m"), [row(0, 1)], dataset_id=existing["id"], dataset_name=dataset)
    answer = refused(http.post("/datasets/upload-experiment", json=mismatch), 409)
    assert answer == f"Dataset {existing['id']} is named {existing['name']!r}, not {dataset!r}"
