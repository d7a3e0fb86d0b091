"""Every query parameter of the example, split and version routes, read from the served
OpenAPI schema (so a new one cannot be added untested), changes the answer when sent, or
is refused with a 422 naming it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Server
from tests.support.ingest import unique

ROUTES = [
    "/api/v1/examples",
    "/api/v1/examples/{example_id}",
    "/api/v1/datasets/{dataset_id}/splits",
    "/api/v1/datasets/{dataset_id}/versions",
    "/api/v1/datasets/{dataset_id}/version",
    "/api/v1/datasets/{dataset_id}/versions/diff",
]

# Accepted, yet no answer can change (none today: inline_s3_urls=false, storage keys
# instead of URLs, is refused since attachments have URLs and no storage keys).
NO_EFFECT: dict[tuple[str, str], str] = {}
REFUSED = {
    ("/api/v1/examples", name)
    for name in (
        "inline_s3_urls",
        "exclude_default_fields",
        "order",
        "random_seed",
        "descending",
        "full_text_contains",
    )
}
REFUSED_VALUE = {"exclude_default_fields": "true", "order": "random", "random_seed": "0.5"}
REFUSED_VALUE |= {"descending": "true", "full_text_contains": "x", "inline_s3_urls": "false"}


@pytest.fixture(scope="module")
def world(shared_server: Server) -> dict[str, Any]:
    """A dataset with two versions (the second adds a split, an example and metadata), a
    tag on the first, and a second dataset."""
    client = shared_server.sdk()
    dataset = client.create_dataset(unique("params"))
    ids = client.create_examples(
        dataset_id=dataset.id, examples=[{"inputs": {"n": n}} for n in range(3)]
    )["example_ids"]
    first = client.read_dataset_version(dataset_id=dataset.id, tag="latest").as_of
    client.update_dataset_tag(dataset_id=dataset.id, as_of=first, tag="first")
    client.update_example(ids[0], metadata={"k": "v"}, split="train")
    other = client.create_dataset(unique("params-other"))
    return {
        "dataset_id": str(dataset.id),
        "example_id": str(ids[0]),
        "first": first.isoformat(),
        "other": str(other.id),
        "created": dataset.created_at.isoformat(),
    }


def cases(world: dict[str, Any]) -> dict[tuple[str, str], tuple[dict[str, str], dict[str, str]]]:
    """(route, parameter) -> (the query without it, the query with it): the two answers
    must differ."""
    d, first = world["dataset_id"], world["first"]
    examples = "/api/v1/examples"
    one = "/api/v1/examples/{example_id}"
    versions = "/api/v1/datasets/{dataset_id}/versions"
    version = "/api/v1/datasets/{dataset_id}/version"
    diff = "/api/v1/datasets/{dataset_id}/versions/diff"
    return {
        (examples, "dataset"): ({}, {"dataset": world["other"]}),
        (examples, "id"): ({"dataset": d}, {"dataset": d, "id": world["example_id"]}),
        (examples, "as_of"): ({"dataset": d}, {"dataset": d, "as_of": world["created"]}),
        (examples, "splits"): ({"dataset": d}, {"dataset": d, "splits": "train"}),
        (examples, "metadata"): ({"dataset": d}, {"dataset": d, "metadata": '{"k": "v"}'}),
        (examples, "filter"): ({"dataset": d}, {"dataset": d, "filter": 'exists(metadata, "k")'}),
        (examples, "select"): ({"dataset": d}, {"dataset": d, "select": "attachment_urls"}),
        (examples, "offset"): ({"dataset": d}, {"dataset": d, "offset": "1"}),
        (examples, "limit"): ({"dataset": d}, {"dataset": d, "limit": "1"}),
        (one, "as_of"): ({}, {"as_of": first}),
        (one, "dataset"): ({}, {"dataset": world["other"]}),
        ("/api/v1/datasets/{dataset_id}/splits", "as_of"): ({}, {"as_of": "first"}),
        (versions, "search"): ({}, {"search": "FIRST"}),
        (versions, "offset"): ({}, {"offset": "1"}),
        (versions, "limit"): ({}, {"limit": "1"}),
        (version, "as_of"): ({}, {"as_of": first}),
        (version, "tag"): ({}, {"tag": "first"}),
        (diff, "from_version"): (
            {"from_version": "latest", "to_version": "latest"},
            {"from_version": "first", "to_version": "latest"},
        ),
        (diff, "to_version"): (
            {"from_version": "latest", "to_version": "latest"},
            {"from_version": "latest", "to_version": "first"},
        ),
    }


def query_params(server: Server, path: str) -> list[str]:
    operation = server.app.openapi()["paths"][path]["get"]
    return [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]


def test_every_query_parameter_changes_the_answer_or_is_refused(
    shared_server: Server, world: dict[str, Any]
) -> None:
    table = cases(world)
    seen = 0
    with httpx.Client(
        base_url=shared_server.url, headers={"x-api-key": shared_server.key}, timeout=30
    ) as http:
        for path in ROUTES:
            url = path.format(dataset_id=world["dataset_id"], example_id=world["example_id"])
            for name in query_params(shared_server, path):
                seen += 1
                key = (path, name)
                if key in REFUSED:
                    answer = http.get(
                        url, params={"dataset": world["dataset_id"], name: REFUSED_VALUE[name]}
                    )
                    assert answer.status_code == 422, (key, answer.text)
                    assert answer.json()["detail"][0]["loc"] == ["query", name]
                    continue
                if key in NO_EFFECT:
                    without = http.get(url, params={"dataset": world["dataset_id"]})
                    with_it = http.get(
                        url, params={"dataset": world["dataset_id"], name: NO_EFFECT[key]}
                    )
                    assert with_it.status_code == 200 and with_it.json() == without.json()
                    continue
                assert key in table, f"{path}: no case for query parameter {name!r}"
                without_q, with_q = table[key]
                without, with_it = http.get(url, params=without_q), http.get(url, params=with_q)
                assert without.status_code == 200, (key, without.text)
                assert (with_it.status_code, with_it.text) != (200, without.text), key
    assert seen == len(cases(world)) + len(REFUSED) + len(NO_EFFECT)


def test_as_of_between_versions_reads_the_earlier_one(
    shared_server: Server, world: dict[str, Any]
) -> None:
    """A sanity check of the as_of case above: it is the version, not an error."""
    client = shared_server.sdk()
    first = datetime.fromisoformat(world["first"])
    listed = list(
        client.list_examples(
            dataset_id=world["dataset_id"], as_of=first + timedelta(microseconds=1)
        )
    )
    assert len(listed) == 3 and all("k" not in e.metadata for e in listed)
