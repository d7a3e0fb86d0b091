"""A shared dataset's runs and feedback through its token, on both stores: what the
read-only page reads of an example, and nothing beyond the dataset's experiments."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.page_world import PageWorld, seed


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"public-runs-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as server:
        yield server


@pytest.fixture(scope="module")
def worlds(served: Server) -> dict[str, PageWorld]:
    """Alpha's shared dataset, alpha's other dataset, and beta's dataset."""
    with served.http("alpha") as alpha, served.http("beta") as beta:
        return {
            "shared": seed(alpha, "public-shared"),
            "other": seed(alpha, "public-other"),
            "beta": seed(beta, "public-beta"),
        }


def share(server: Server, dataset: str, projects: bool) -> str:
    with server.http() as http:
        answer = http.put(f"/datasets/{dataset}/share", params={"share_projects": projects})
        assert answer.status_code == 200, answer.text
        return str(answer.json()["share_token"])


def anonymous(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/api/v1", timeout=30)


def test_runs_and_feedback_of_the_shared_experiments(
    served: Server, worlds: dict[str, PageWorld]
) -> None:
    world = worlds["shared"]
    token = share(served, world.dataset, projects=True)
    example = world.examples[1]["id"]
    with anonymous(served) as http:
        body = {"session": [world.candidate], "reference_example": [example], "is_root": True}
        found = http.post(f"/public/{token}/datasets/runs/query", json=body)
        assert found.status_code == 200, found.text
        runs = found.json()["runs"]
        assert [r["id"] for r in runs] == [world.runs[(world.candidate, example)]]
        assert runs[0]["outputs"] == {"answer": "candidate answers #1"}

        # No session named: every experiment of the dataset, and only those.
        every = http.post(f"/public/{token}/datasets/runs/query", json={"limit": 100}).json()
        assert {r["id"] for r in every["runs"]} == set(world.runs.values())

        scores = http.get(
            f"/public/{token}/datasets/feedback", params={"run": [r["id"] for r in runs]}
        )
        assert scores.status_code == 200, scores.text
        assert [(f["key"], f["score"]) for f in scores.json()] == [("correct", 0)]
        # A run of another dataset, named: not among the shared experiments' feedback.
        elsewhere = worlds["other"].runs[
            (worlds["other"].baseline, worlds["other"].examples[0]["id"])
        ]
        assert (
            http.get(f"/public/{token}/datasets/feedback", params={"run": [elsewhere]}).json() == []
        )


def test_nothing_outside_the_shared_dataset(served: Server, worlds: dict[str, PageWorld]) -> None:
    shared, other, beta = worlds["shared"], worlds["other"], worlds["beta"]
    token = share(served, shared.dataset, projects=True)
    with anonymous(served) as http:
        for session in (other.baseline, beta.baseline, str(uuid4())):
            body: dict[str, Any] = {"session": [shared.baseline, session]}
            answer = http.post(f"/public/{token}/datasets/runs/query", json=body)
            assert answer.status_code == 404, (session, answer.text)
            answer = http.get(f"/public/{token}/datasets/feedback", params={"session": [session]})
            assert answer.status_code == 404, (session, answer.text)
        for bad in (str(uuid4()), "not-a-token"):
            answer = http.post(f"/public/{bad}/datasets/runs/query", json={})
            assert answer.status_code in (404, 422)

    # Shared without its experiments: neither route reads them.
    token = share(served, shared.dataset, projects=False)
    with anonymous(served) as http:
        assert http.post(f"/public/{token}/datasets/runs/query", json={}).status_code == 404
        assert http.get(f"/public/{token}/datasets/feedback").status_code == 404
    # Unshared: at once.
    token = share(served, shared.dataset, projects=True)
    with served.http() as keyed:
        assert keyed.delete(f"/datasets/{shared.dataset}/share").status_code == 200
    with anonymous(served) as http:
        assert http.post(f"/public/{token}/datasets/runs/query", json={}).status_code == 404
        assert http.get(f"/public/{token}/datasets/feedback").status_code == 404
