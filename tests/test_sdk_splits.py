"""Dataset splits through the SDK, on both stores: kept in each example's
``metadata.dataset_split`` as LangSmith keeps them, listed, filtered, and changed through
both routes the SDK's ``update_dataset_splits`` uses."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from langsmith.utils import LangSmithNotFoundError

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.ingest import unique


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp(f"splits-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as running:
        yield running


def make_dataset(client: Any, splits: list[Any]) -> tuple[UUID, list[UUID]]:
    dataset = client.create_dataset(unique("splits"))
    created = client.create_examples(
        dataset_id=dataset.id,
        examples=[
            {"inputs": {"n": i}, "reference_outputs": {"a": i}, "split": split}
            for i, split in enumerate(splits)
        ],
    )
    return dataset.id, [UUID(str(i)) for i in created["example_ids"]]


def splits_by_n(client: Any, dataset_id: UUID, **query: Any) -> dict[int, list[str]]:
    return {
        e.inputs["n"]: e.metadata["dataset_split"]
        for e in client.list_examples(dataset_id=dataset_id, **query)
    }


def test_every_example_carries_its_splits_in_its_metadata(served: Server) -> None:
    client = served.sdk()
    dataset_id, ids = make_dataset(client, ["train", ["train", "hard"], None])
    assert splits_by_n(client, dataset_id) == {0: ["train"], 1: ["train", "hard"], 2: ["base"]}
    # One example read alone, and one made by create_example (JSON route) alike.
    assert client.read_example(ids[2]).metadata == {"dataset_split": ["base"]}
    made = client.create_example(inputs={"n": 3}, dataset_id=dataset_id, metadata={"k": "v"})
    assert client.read_example(made.id).metadata == {"k": "v", "dataset_split": ["base"]}
    assert client.list_dataset_splits(dataset_id=dataset_id) == ["base", "hard", "train"]


def test_splits_filter_the_examples_listed(served: Server) -> None:
    client = served.sdk()
    dataset_id, _ = make_dataset(client, ["train", ["train", "hard"], "test", None])
    assert set(splits_by_n(client, dataset_id, splits=["train"])) == {0, 1}
    assert set(splits_by_n(client, dataset_id, splits=["hard", "test"])) == {1, 2}
    assert set(splits_by_n(client, dataset_id, splits=["base"])) == {3}
    assert splits_by_n(client, dataset_id, splits=["nowhere"]) == {}


def test_updating_an_example_keeps_or_changes_its_splits(served: Server) -> None:
    client = served.sdk()
    dataset_id, ids = make_dataset(client, ["train"])
    client.update_example(ids[0], metadata={"source": "manual"})
    assert client.read_example(ids[0]).metadata == {
        "source": "manual",
        "dataset_split": ["train"],
    }
    client.update_example(ids[0], split=["test", "hard"])
    assert client.read_example(ids[0]).metadata["dataset_split"] == ["test", "hard"]
    # The plugin's way: the split inside the metadata.
    client.update_example(ids[0], metadata={"source": "x", "dataset_split": ["validation"]})
    assert splits_by_n(client, dataset_id) == {0: ["validation"]}
    assert client.list_dataset_splits(dataset_id=dataset_id) == ["validation"]


def test_update_dataset_splits_moves_examples_in_and_out(served: Server) -> None:
    """The SDK's own call uses the bulk metadata route (its first choice)."""
    client = served.sdk()
    dataset_id, ids = make_dataset(client, [None, None, None])
    client.update_dataset_splits(dataset_id=dataset_id, split_name="test", example_ids=ids[1:])
    assert splits_by_n(client, dataset_id) == {
        0: ["base"],
        1: ["base", "test"],
        2: ["base", "test"],
    }
    assert set(splits_by_n(client, dataset_id, splits=["test"])) == {1, 2}
    client.update_dataset_splits(
        dataset_id=dataset_id, split_name="test", example_ids=[ids[2]], remove=True
    )
    assert set(splits_by_n(client, dataset_id, splits=["test"])) == {1}
    assert client.list_dataset_splits(dataset_id=dataset_id) == ["base", "test"]


def test_the_older_splits_route_does_the_same(served: Server) -> None:
    """``PUT /datasets/{id}/splits``: what the SDK falls back to on servers without the
    bulk metadata route, with the body it sends there."""
    client = served.sdk()
    dataset_id, ids = make_dataset(client, [None, None])
    with served.http() as http:
        body = {"split_name": "gold", "examples": [str(ids[0])], "remove": False}
        answer = http.put(f"/datasets/{dataset_id}/splits", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json() == [str(ids[0])]
    assert splits_by_n(client, dataset_id, splits=["gold"]) == {0: ["base", "gold"]}
    with served.http() as http:
        body = {"split_name": "gold", "examples": [str(ids[0])], "remove": True}
        assert http.put(f"/datasets/{dataset_id}/splits", json=body).status_code == 200
    assert splits_by_n(client, dataset_id, splits=["gold"]) == {}


@pytest.mark.parametrize(
    ("method", "path", "body", "loc"),
    [
        (
            "PUT",
            "/api/v1/datasets/{d}/splits",
            {"split_name": 3, "examples": ["{e}"]},
            "split_name",
        ),
        (
            "PUT",
            "/api/v1/datasets/{d}/splits",
            {"split_name": ["a"], "examples": ["{e}"]},
            "split_name",
        ),
        (
            "PATCH",
            "/v1/platform/datasets/{d}/examples/metadata",
            {
                "example_ids": ["{e}"],
                "operations": [{"key": "dataset_split", "operation": "array_add", "values": [7]}],
            },
            "values",
        ),
        (
            "PATCH",
            "/v1/platform/datasets/{d}/examples/metadata",
            {
                "example_ids": ["{e}"],
                "operations": [{"key": "dataset_split", "operation": "set", "values": ["a"]}],
            },
            "operation",
        ),
        ("POST", "/api/v1/examples", {"dataset_id": "{d}", "inputs": {}, "split": 5}, "split"),
        (
            "POST",
            "/api/v1/examples",
            {"dataset_id": "{d}", "inputs": {}, "metadata": {"dataset_split": {"a": 1}}},
            "dataset_split",
        ),
        ("PATCH", "/api/v1/examples/{e}", {"split": [1, 2]}, "split"),
    ],
)
def test_a_split_name_of_the_wrong_type_is_a_422(
    served: Server, method: str, path: str, body: dict[str, Any], loc: str
) -> None:
    client = served.sdk()
    dataset_id, ids = make_dataset(client, ["train"])

    def fill(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace("{d}", str(dataset_id)).replace("{e}", str(ids[0]))
        if isinstance(value, list):
            return [fill(v) for v in value]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        return value

    with httpx.Client(base_url=served.url, headers={"x-api-key": served.key}, timeout=30) as http:
        answer = http.request(method, fill(path), json=fill(body))
    assert answer.status_code == 422, answer.text
    assert loc in answer.json()["detail"][0]["loc"]
    assert splits_by_n(client, dataset_id) == {0: ["train"]}  # nothing changed


def test_splits_of_another_tenants_dataset_are_404(served: Server) -> None:
    dataset_id, ids = make_dataset(served.sdk("alpha"), ["train"])
    beta = served.sdk("beta")
    with pytest.raises(LangSmithNotFoundError):
        beta.list_dataset_splits(dataset_id=dataset_id)
    with pytest.raises(LangSmithNotFoundError):
        beta.update_dataset_splits(dataset_id=dataset_id, split_name="x", example_ids=ids)
    with served.http("beta") as http:
        body = {"split_name": "x", "examples": [str(ids[0])]}
        assert http.put(f"/datasets/{dataset_id}/splits", json=body).status_code == 404
    assert splits_by_n(served.sdk("alpha"), dataset_id) == {0: ["train"]}


def test_an_unknown_example_is_404_and_changes_nothing(served: Server) -> None:
    client = served.sdk()
    dataset_id, ids = make_dataset(client, [None])
    with pytest.raises(LangSmithNotFoundError):
        client.update_dataset_splits(
            dataset_id=dataset_id, split_name="x", example_ids=[ids[0], uuid4()]
        )
    assert splits_by_n(client, dataset_id) == {0: ["base"]}
