"""``list_examples`` through the SDK, on both stores: LangSmith's example filter language,
``metadata=``, ``example_ids=``, ``splits=``, ``limit``/``offset``; and every query
parameter the SDK can send to the example routes is honoured or refused with a 422 that
names it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langsmith.utils import LangSmithError

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.ingest import unique

# n -> metadata of each example of the dataset every test reads.
METADATA: dict[int, dict[str, Any]] = {
    0: {"lang": "en", "level": 1, "tags": ["a", "b"]},
    1: {"lang": "en", "level": 2, "tags": ["b"], "reviewed": None},
    2: {"lang": "fr", "level": 2, "reviewed": True},
    3: {"lang": "de", "nested": {"x": 1}},
    4: {},
}


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp(f"filters-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as running:
        yield running


@pytest.fixture(scope="module")
def dataset(served: Server) -> tuple[UUID, list[UUID]]:
    client = served.sdk()
    made = client.create_dataset(unique("filters"))
    created = client.create_examples(
        dataset_id=made.id,
        examples=[
            {"inputs": {"n": n}, "metadata": meta, "split": "train" if n < 2 else "test"}
            for n, meta in METADATA.items()
        ],
    )
    return made.id, [UUID(str(i)) for i in created["example_ids"]]


def listed(served: Server, dataset_id: UUID, **query: Any) -> list[int]:
    return [e.inputs["n"] for e in served.sdk().list_examples(dataset_id=dataset_id, **query)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("""has(metadata, '{"lang": "en"}')""", [0, 1]),
        ("""has(metadata, '{"lang": "en", "level": 2}')""", [1]),
        ("""has(metadata, '{"tags": ["b"]}')""", [0, 1]),  # lists: containment
        ("""has(metadata, '{"tags": ["a", "b"]}')""", [0]),
        ("""has(metadata, '{"nested": {"x": 1}}')""", [3]),
        ("""has(metadata, '{"reviewed": true}')""", [2]),
        ("""has(metadata, '{"dataset_split": ["test"]}')""", [2, 3, 4]),
        ("""exists(metadata, "reviewed")""", [1, 2]),  # a null value is there too
        ("""not(exists(metadata, "lang"))""", [4]),
        (
            """and(not(has(metadata, '{"lang": "en"}')), exists(metadata, "level"))""",
            [2],
        ),
        ("""or(has(metadata, '{"lang": "fr"}'), has(metadata, '{"lang": "de"}'))""", [2, 3]),
        ("""has(metadata, '{}')""", [0, 1, 2, 3, 4]),
        ("""has(metadata, '{"lang": "xx"}')""", []),
    ],
)
def test_the_example_filter_language(
    served: Server, dataset: tuple[UUID, list[UUID]], text: str, expected: list[int]
) -> None:
    assert listed(served, dataset[0], filter=text) == expected


@pytest.mark.parametrize(
    "text",
    [
        """eq(metadata, "x")""",  # runs' comparators are not examples'
        """has(inputs, '{"n": 1}')""",
        """has(metadata, 'not json')""",
        """has(metadata, '[1, 2]')""",
        """exists(metadata, 3)""",
        """and(""",
        """not(has(metadata, '{}'), has(metadata, '{}'))""",
        """search("x")""",
    ],
)
def test_a_filter_it_cannot_run_is_a_422_naming_filter(served: Server, text: str) -> None:
    with served.http() as http:
        answer = http.get("/examples", params={"filter": text})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", "filter"]


def test_metadata_ids_splits_limit_and_offset(
    served: Server, dataset: tuple[UUID, list[UUID]]
) -> None:
    dataset_id, ids = dataset
    client = served.sdk()
    assert listed(served, dataset_id, metadata={"lang": "en"}) == [0, 1]
    assert listed(served, dataset_id, metadata={"lang": "en", "level": 2}) == [1]
    picked = [e.id for e in client.list_examples(example_ids=[ids[3], ids[1]])]
    assert sorted(picked) == sorted([ids[1], ids[3]])
    assert listed(served, dataset_id, splits=["train"]) == [0, 1]
    assert listed(served, dataset_id, limit=2) == [0, 1]
    assert listed(served, dataset_id, offset=3) == [3, 4]
    assert listed(served, dataset_id, offset=1, limit=2) == [1, 2]
    # All at once: every one of them narrows the answer.
    both = listed(
        served,
        dataset_id,
        splits=["train"],
        metadata={"lang": "en"},
        filter="""exists(metadata, "reviewed")""",
        example_ids=ids,
    )
    assert both == [1]


def test_select_and_inline_urls_are_accepted(
    served: Server, dataset: tuple[UUID, list[UUID]]
) -> None:
    """``include_attachments`` selects ``attachment_urls``: present, and null (these
    examples have no attachments); absent when not selected.  ``inline_s3_urls=false``
    (storage keys instead of URLs) is refused: attachments have URLs only."""
    examples = list(served.sdk().list_examples(dataset_id=dataset[0], include_attachments=True))
    assert len(examples) == len(METADATA)
    with served.http() as http:
        rows = http.get(
            "/examples",
            params={
                "dataset": str(dataset[0]),
                "select": "attachment_urls",
                "inline_s3_urls": "true",
            },
        ).json()
        plain = http.get("/examples", params={"dataset": str(dataset[0])}).json()
        keys = http.get("/examples", params={"dataset": str(dataset[0]), "inline_s3_urls": False})
    assert keys.status_code == 422
    assert keys.json()["detail"][0]["loc"] == ["query", "inline_s3_urls"]
    assert all(r["attachment_urls"] is None for r in rows) and len(rows) == len(METADATA)
    assert all("attachment_urls" not in r for r in plain) and len(plain) == len(METADATA)


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"exclude_default_fields": True}, "exclude_default_fields"),
        ({"order": "random"}, "order"),
        ({"random_seed": 0.5}, "random_seed"),
        ({"descending": True}, "descending"),
        ({"full_text_contains": ["x"]}, "full_text_contains"),
        ({"made_up": "1"}, "made_up"),
        ({"select": "nonsense"}, "select"),
    ],
)
def test_a_parameter_it_does_not_serve_is_a_422_naming_it(
    served: Server, dataset: tuple[UUID, list[UUID]], params: dict[str, Any], name: str
) -> None:
    with served.http() as http:
        answer = http.get("/examples", params={"dataset": str(dataset[0]), **params})
    assert answer.status_code == 422, answer.text
    assert name in answer.json()["detail"][0]["loc"]
    # The SDK passes its extra keyword arguments on: they are refused too.
    with pytest.raises(LangSmithError, match=name):
        list(served.sdk().list_examples(dataset_id=dataset[0], **params))


def test_unknown_parameters_of_the_other_example_routes_are_refused(
    served: Server, dataset: tuple[UUID, list[UUID]]
) -> None:
    dataset_id, ids = dataset
    with served.http() as http:
        one = http.get(f"/examples/{ids[0]}", params={"made_up": 1})
        splits = http.get(f"/datasets/{dataset_id}/splits", params={"made_up": 1})
    for answer in (one, splits):
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["query", "made_up"]
