"""Dataset versions through the SDK, on both stores: every change to a dataset's examples
is a version; ``as_of`` (a time or a tag) reads the examples as they were, deleted and
modified ones included; versions are listed, read, tagged and diffed; the version an
experiment ran on is kept with it and reads its examples back."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langsmith import evaluate
from langsmith.utils import LangSmithError, LangSmithNotFoundError

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.ingest import unique


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp(f"versions-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as running:
        yield running


def questions(client: Any, dataset_id: UUID, **query: Any) -> list[int]:
    return sorted(e.inputs["q"] for e in client.list_examples(dataset_id=dataset_id, **query))


def test_as_of_reads_every_version_of_the_examples(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("versions"))
    ids = client.create_examples(
        dataset_id=dataset.id, examples=[{"inputs": {"q": q}} for q in (1, 2, 3)]
    )["example_ids"]
    first = client.read_dataset_version(dataset_id=dataset.id, tag="latest")
    client.update_dataset_tag(dataset_id=dataset.id, as_of=first.as_of, tag="v1")

    client.update_example(ids[0], inputs={"q": 10})
    second = client.read_dataset_version(dataset_id=dataset.id, tag="latest")
    client.delete_example(ids[1])
    client.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 4}}])

    assert questions(client, dataset.id) == [3, 4, 10]
    # As of the first version: the modified one as it was, the deleted one still there.
    assert questions(client, dataset.id, as_of="v1") == [1, 2, 3]
    assert questions(client, dataset.id, as_of=first.as_of) == [1, 2, 3]
    assert questions(client, dataset.id, as_of=second.as_of) == [2, 3, 10]
    assert questions(client, dataset.id, as_of="latest") == [3, 4, 10]
    # A time between two versions reads the earlier one.
    assert questions(client, dataset.id, as_of=second.as_of - timedelta(microseconds=1)) == [
        1,
        2,
        3,
    ]
    # One example, read as it was (deleted today).
    assert client.read_example(ids[1], as_of=first.as_of).inputs == {"q": 2}
    assert client.read_example(ids[0], as_of=first.as_of).inputs == {"q": 1}
    with pytest.raises(LangSmithNotFoundError):
        client.read_example(ids[1])

    versions = list(client.list_dataset_versions(dataset_id=dataset.id))
    assert len(versions) == 4  # create, update, delete, create
    assert versions[-1].as_of == first.as_of and versions[-1].tags == ["v1"]
    assert versions == sorted(versions, key=lambda v: v.as_of, reverse=True)
    assert [v.tags for v in client.list_dataset_versions(dataset_id=dataset.id, search="V1")] == [
        ["v1"]
    ]
    assert client.read_dataset_version(dataset_id=dataset.id, tag="v1").as_of == first.as_of
    later = client.read_dataset_version(
        dataset_id=dataset.id, as_of=second.as_of + timedelta(microseconds=1)
    )
    assert later.as_of == second.as_of

    diff = client.diff_dataset_versions(
        dataset_id=dataset.id, from_version="v1", to_version="latest"
    )
    assert [str(i) for i in diff.examples_modified] == [str(ids[0])]
    assert [str(i) for i in diff.examples_removed] == [str(ids[1])]
    assert len(diff.examples_added) == 1
    back = client.diff_dataset_versions(
        dataset_id=dataset.id, from_version=second.as_of, to_version=first.as_of
    )
    assert back.examples_modified == diff.examples_modified and not back.examples_added


def test_a_tag_moves_to_the_version_named(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("tags"))
    client.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 1}}])
    first = client.read_dataset_version(dataset_id=dataset.id, tag="latest")
    client.update_dataset_tag(dataset_id=dataset.id, as_of=first.as_of, tag="prod")
    client.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 2}}])
    assert questions(client, dataset.id, as_of="prod") == [1]
    second = client.read_dataset_version(dataset_id=dataset.id, tag="latest")
    client.update_dataset_tag(dataset_id=dataset.id, as_of=second.as_of, tag="prod")
    assert questions(client, dataset.id, as_of="prod") == [1, 2]
    tagged = {v.as_of: v.tags for v in client.list_dataset_versions(dataset_id=dataset.id)}
    assert tagged == {second.as_of: ["prod"], first.as_of: []}
    # Splits as of a version.
    client.update_dataset_splits(
        dataset_id=dataset.id,
        split_name="gold",
        example_ids=[e.id for e in client.list_examples(dataset_id=dataset.id)],
    )
    assert client.list_dataset_splits(dataset_id=dataset.id) == ["base", "gold"]
    # One request changing two examples is one version.
    assert len(list(client.list_dataset_versions(dataset_id=dataset.id))) == 3
    assert client.list_dataset_splits(dataset_id=dataset.id, as_of="prod") == ["base"]


def test_bad_versions_are_clear_4xx(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("bad-versions"))
    client.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 1}}])
    before = dataset.created_at - timedelta(days=1)
    with served.http() as http:
        base = f"/datasets/{dataset.id}"
        for path, params, status, loc in [
            ("/examples", {"dataset": str(dataset.id), "as_of": before.isoformat()}, 422, "as_of"),
            ("/examples", {"dataset": str(dataset.id), "as_of": "no-such-tag"}, 404, None),
            ("/examples", {"as_of": "no-such-tag"}, 422, "as_of"),  # a tag of which dataset?
            (f"{base}/version", {"tag": "no-such-tag"}, 404, None),
            (f"{base}/version", {"as_of": before.isoformat()}, 422, "as_of"),
            (f"{base}/version", {"as_of": "2026-01-01T00:00:00Z", "tag": "x"}, 422, "tag"),
            (f"{base}/versions/diff", {"from_version": "nope", "to_version": "latest"}, 404, None),
            (f"{base}/versions/diff", {"from_version": "latest"}, 422, "to_version"),
            (f"{base}/splits", {"as_of": "nope"}, 404, None),
        ]:
            answer = http.get(path, params=params)
            assert answer.status_code == status, (path, params, answer.text)
            if loc:
                assert loc in answer.json()["detail"][0]["loc"], answer.text
        tag = http.put(f"{base}/tags", json={"as_of": before.isoformat(), "tag": "t"})
        assert tag.status_code == 422 and tag.json()["detail"][0]["loc"] == ["body", "as_of"]
        latest = http.put(
            f"{base}/tags", json={"as_of": dataset.created_at.isoformat(), "tag": "latest"}
        )
        assert latest.status_code == 422
    with pytest.raises(LangSmithError):
        list(client.list_examples(dataset_id=dataset.id, as_of=before))


def test_a_dataset_made_again_under_its_id_starts_afresh(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("again"))
    client.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 1}}])
    old = client.read_dataset_version(dataset_id=dataset.id, tag="latest")
    client.update_dataset_tag(dataset_id=dataset.id, as_of=old.as_of, tag="old")
    client.delete_dataset(dataset_id=dataset.id)
    with served.http() as http:
        made = http.post("/datasets", json={"name": unique("again"), "id": str(dataset.id)})
        assert made.status_code == 200, made.text
    assert list(client.list_dataset_versions(dataset_id=dataset.id)) == []
    assert questions(client, dataset.id, as_of=old.as_of + timedelta(days=1)) == []
    with pytest.raises(LangSmithNotFoundError):
        client.read_dataset_version(dataset_id=dataset.id, tag="old")


def test_versions_of_another_tenant_are_404(served: Server) -> None:
    alpha = served.sdk("alpha")
    dataset = alpha.create_dataset(unique("private-versions"))
    alpha.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 1}}])
    version = alpha.read_dataset_version(dataset_id=dataset.id, tag="latest")
    alpha.update_dataset_tag(dataset_id=dataset.id, as_of=version.as_of, tag="mine")
    with served.http("beta") as beta:
        base = f"/datasets/{dataset.id}"
        for answer in (
            beta.get(f"{base}/versions"),
            beta.get(f"{base}/version", params={"tag": "mine"}),
            beta.get(
                f"{base}/versions/diff", params={"from_version": "mine", "to_version": "latest"}
            ),
            beta.put(f"{base}/tags", json={"as_of": version.as_of.isoformat(), "tag": "theirs"}),
            beta.get("/examples", params={"dataset": str(dataset.id), "as_of": "mine"}),
        ):
            assert answer.status_code == 404, answer.text
        # A time, without a dataset: only the tenant's own history.
        assert beta.get("/examples", params={"as_of": version.as_of.isoformat()}).json() == []
    assert [v.tags for v in alpha.list_dataset_versions(dataset_id=dataset.id)] == [["mine"]]


def test_an_experiment_keeps_the_version_it_ran_on(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("experiment-version"))
    client.create_examples(
        dataset_id=dataset.id, examples=[{"inputs": {"q": q}, "outputs": {"a": q}} for q in (1, 2)]
    )
    results = evaluate(
        lambda inputs: {"a": inputs["q"]},
        data=dataset.name,
        client=client,
        experiment_prefix="versioned",
    )
    ran = list(results)
    client.flush()
    assert len(ran) == 2
    client.create_examples(dataset_id=dataset.id, examples=[{"inputs": {"q": 3}}])
    project = client.read_project(project_name=results.experiment_name)
    kept = project.metadata["dataset_version"]
    version = client.read_dataset_version(dataset_id=dataset.id, as_of=kept)
    assert questions(client, dataset.id, as_of=version.as_of) == [1, 2]
    assert questions(client, dataset.id) == [1, 2, 3]
