"""The SDK methods of the evaluation workflow that docs/compatibility.md says work, each
called as a user would, on DuckDB and on chDB: what they answer is what was stored."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langsmith import Client
from langsmith.utils import LangSmithError

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.ingest import unique
from tests.support.sdk import sdk_at_least

pytestmark = pytest.mark.sdk


def doubles(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"answer": inputs["n"] * 2}


def exact(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> bool:
    return bool(outputs["answer"] == reference_outputs["answer"])


@dataclass
class World:
    server: Server
    client: Any
    dataset: Any
    experiment: str


@pytest.fixture(scope="module", params=STORE_KINDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    directory = tmp_path_factory.mktemp(f"methods-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as server:
        client = server.sdk()
        dataset = client.create_dataset(unique("methods"))
        client.create_examples(
            dataset_id=dataset.id,
            examples=[{"inputs": {"n": n}, "outputs": {"answer": n * 2}} for n in range(3)],
        )
        results = client.evaluate(
            doubles, data=dataset.name, evaluators=[exact], experiment_prefix="m"
        )
        client.flush()
        yield World(server, client, dataset, results.experiment_name)


def test_datasets_and_projects(world: World) -> None:
    client = world.client
    assert client.has_dataset(dataset_name=world.dataset.name)
    assert not client.has_dataset(dataset_name=unique("absent"))
    assert client.read_dataset(dataset_name=world.dataset.name).id == world.dataset.id
    assert client.has_project(world.experiment)
    project = client.read_project(project_name=world.experiment)
    client.update_project(project.id, description="the first try")
    assert client.read_project(project_id=project.id).description == "the first try"


def test_examples_from_runs_and_messages(world: World) -> None:
    client = world.client
    project = client.read_project(project_name=world.experiment)
    run = next(iter(client.list_runs(project_id=project.id, is_root=True)))
    target = client.create_dataset(unique("from-runs"))
    from_run = client.create_example_from_run(run, dataset_id=target.id)
    assert from_run.inputs == run.inputs and from_run.outputs == run.outputs
    client.create_llm_example("a prompt", generation="a reply", dataset_id=target.id)
    client.create_chat_example(
        [{"role": "user", "content": "hi"}],
        {"role": "assistant", "content": "hello"},
        dataset_id=target.id,
    )
    assert len(list(client.list_examples(dataset_id=target.id))) == 3


def test_update_and_delete_examples_in_bulk(world: World) -> None:
    client = world.client
    target = client.create_dataset(unique("bulk"))
    client.create_examples(dataset_id=target.id, examples=[{"inputs": {"i": i}} for i in range(3)])
    ids = [e.id for e in client.list_examples(dataset_id=target.id)]
    client.update_examples(
        dataset_id=target.id, updates=[{"id": ids[0], "metadata": {"checked": True}}]
    )
    # The example keeps its split, which LangSmith keeps in the metadata.
    assert client.read_example(ids[0]).metadata == {"checked": True, "dataset_split": ["base"]}
    client.delete_examples(ids[1:])
    assert [e.id for e in client.list_examples(dataset_id=target.id)] == ids[:1]


def test_feedback_read_and_update(world: World) -> None:
    client = world.client
    project = client.read_project(project_name=world.experiment)
    feedback = next(iter(client.list_feedback(session=[project.id], feedback_key=["exact"])))
    assert client.read_feedback(feedback.id).key == "exact"
    client.update_feedback(feedback.id, score=0.5, comment="looked again")
    again = client.read_feedback(feedback.id)
    assert again.score == 0.5 and again.comment == "looked again"


@pytest.mark.skipif(not sdk_at_least("0.8"), reason="feedback-config methods: SDK 0.8+")
def test_feedback_categories(world: World) -> None:
    client = world.client
    key = unique("tone")
    client.create_feedback_config(
        key,
        feedback_config={
            "type": "categorical",
            "categories": [{"value": 1, "label": "a"}, {"value": 2, "label": "b"}],
        },
    )
    client.add_feedback_categories(key, [{"value": 3, "label": "c"}])
    client.remove_feedback_categories(key, [1])
    (config,) = client.list_feedback_configs(feedback_key=[key])
    assert [(c["value"], c["label"]) for c in config.feedback_config["categories"]] == [
        (2, "b"),
        (3, "c"),
    ]
    with pytest.raises(LangSmithError):  # a clash, and a config left with one category
        client.add_feedback_categories(key, [{"value": 2, "label": "again"}])
    with pytest.raises(LangSmithError):
        client.remove_feedback_categories(key, [2])


def test_rescoring_an_existing_experiment(world: World) -> None:
    client = world.client

    def short(outputs: dict[str, Any]) -> bool:
        return bool(outputs["answer"] < 3)

    client.evaluate(world.experiment, evaluators=[short])
    client.flush()
    project = client.read_project(project_name=world.experiment, include_stats=True)
    assert project.feedback_stats["short"]["n"] == 3
    assert project.feedback_stats["exact"]["n"] == 3


def test_aevaluate(world: World) -> None:
    from langsmith import aevaluate

    async def target(inputs: dict[str, Any]) -> dict[str, Any]:
        return doubles(inputs)

    async def run() -> str:
        results = await aevaluate(
            target,
            data=world.dataset.name,
            evaluators=[exact],
            client=world.client,
            experiment_prefix="async",
        )
        return str(results.experiment_name)

    name = asyncio.run(run())
    world.client.flush()
    project = world.client.read_project(project_name=name, include_stats=True)
    assert project.run_count == 3 and project.feedback_stats["exact"]["avg"] == 1.0


def test_get_run_url_points_at_the_run(world: World) -> None:
    client: Client = world.client
    project = client.read_project(project_name=world.experiment)
    run = next(iter(client.list_runs(project_id=project.id, is_root=True)))
    assert str(run.id) in client.get_run_url(run=run, project_id=project.id)
