"""Sharing, end to end on both stores: the SDK shares and unshares datasets and runs, a
client without a key reads them through the token, the public delta twins answer byte for
byte as the keyed endpoints do, and a token reads nothing beyond what it shares."""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from langsmith import Client
from langsmith.utils import LangSmithNotFoundError

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.ingest import new_run, patch_of, post_multipart, run_parts, unique
from tests.support.sse import parse_events

pytestmark = [pytest.mark.sdk, pytest.mark.filterwarnings("ignore::DeprecationWarning")]


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp(f"sharing-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as server:
        yield server


@dataclass
class World:
    """One tenant's dataset with three examples and two experiments on it, scored."""

    dataset: dict[str, Any]
    examples: list[dict[str, Any]]
    baseline: dict[str, Any]
    candidate: dict[str, Any]
    root: dict[str, Any]  # the baseline's run of the first example
    child: dict[str, Any]  # an llm run below ``root``


def seed(server: Server, tenant: str = "alpha") -> World:
    with server.http(tenant) as http:
        dataset = http.post("/datasets", json={"name": unique("shared")}).json()
        examples = [
            http.post("/examples", json={"dataset_id": dataset["id"], "inputs": {"n": n}}).json()
            for n in range(3)
        ]
        sessions = [
            http.post(
                "/sessions", json={"name": unique(side), "reference_dataset_id": dataset["id"]}
            ).json()
            for side in ("baseline", "candidate")
        ]
        parts, roots = [], []
        for session, scores in zip(sessions, ((0, 1, 0), (1, 1, 0)), strict=True):
            for example, score in zip(examples, scores, strict=True):
                run = new_run(session["name"], reference_example_id=example["id"])
                roots.append((run, score))
                parts += run_parts("post", run) + run_parts("patch", patch_of(run))
        root = roots[0][0]
        child = new_run(
            sessions[0]["name"],
            name="llm-step",
            run_type="llm",
            trace_id=root["id"],
            parent_run_id=root["id"],
            dotted_order=root["dotted_order"] + "." + new_run(None)["dotted_order"],
        )
        parts += run_parts("post", child) + run_parts("patch", patch_of(child))
        post_multipart(http, parts)
        for run, score in roots:
            http.post(
                "/feedback", json={"run_id": run["id"], "key": "correct", "score": score}
            ).raise_for_status()
    return World(dataset, examples, sessions[0], sessions[1], root, child)


def anonymous(server: Server) -> Client:
    """The SDK without any key, as someone handed a share link uses it."""
    return Client(api_url=server.url, api_key=None)


def delta_body(world: World) -> dict[str, Any]:
    return {
        "baseline_session_id": world.baseline["id"],
        "comparison_session_ids": [world.candidate["id"]],
        "feedback_key": "correct",
    }


def stream_body(world: World) -> dict[str, Any]:
    return {
        "baseline_session_id": world.baseline["id"],
        "comparison_session_ids": [world.candidate["id"]],
        "feedback_keys": ["correct", "missing"],
    }


def public(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/api/v1/public", timeout=60)


# --- datasets -------------------------------------------------------------------------------


def test_the_sdk_shares_a_dataset_and_a_keyless_client_reads_it(served: Server) -> None:
    world = seed(served)
    client = served.sdk()
    dataset_id = world.dataset["id"]
    with served.http() as http:  # before: not shared (the SDK's reader fails on null)
        assert http.get(f"/datasets/{dataset_id}/share").json() is None

    shared = client.share_dataset(dataset_id)
    token = str(shared["share_token"])
    assert uuid.UUID(token).version == 4
    assert shared["url"].endswith(f"/public/{token}/d")  # the SDK's idea of the web host
    assert str(client.read_dataset_shared_schema(dataset_id)["share_token"]) == token
    again = client.share_dataset(dataset_name=world.dataset["name"])
    assert str(again["share_token"]) == token  # sharing again keeps the link

    reader = anonymous(served)
    dataset = reader.read_shared_dataset(token)
    assert (str(dataset.id), dataset.name) == (dataset_id, world.dataset["name"])
    assert dataset.example_count == 3
    listed = list(reader.list_shared_examples(token))
    assert [str(e.id) for e in listed] == [e["id"] for e in world.examples]
    assert [e.inputs for e in listed] == [{"n": 0}, {"n": 1}, {"n": 2}]
    one = list(reader.list_shared_examples(token, example_ids=[world.examples[1]["id"]]))
    assert [str(e.id) for e in one] == [world.examples[1]["id"]]
    if "limit" in inspect.signature(Client.list_shared_examples).parameters:  # newer SDKs
        assert len(list(reader.list_shared_examples(token, limit=2))) == 2

    # Shared without its experiments: they stay private.
    with pytest.raises(LangSmithNotFoundError):
        list(reader.list_shared_projects(dataset_share_token=token))
    with public(served) as anon:
        refused = anon.post(f"/{token}/datasets/runs/delta", json=delta_body(world))
        assert refused.status_code == 404

    client.unshare_dataset(dataset_id)
    with pytest.raises(LangSmithNotFoundError):
        reader.read_shared_dataset(token)
    with pytest.raises(LangSmithNotFoundError):
        list(reader.list_shared_examples(token))
    with served.http() as http:
        assert http.get(f"/datasets/{dataset_id}/share").json() is None


def test_another_tenant_clones_a_shared_dataset(served: Server) -> None:
    """``clone_public_dataset`` reads through the token (sending a placeholder key, which
    the public routes ignore) and copies the examples into the caller's own tenant."""
    world = seed(served)
    token = str(served.sdk().share_dataset(world.dataset["id"])["share_token"])
    beta = served.sdk("beta")
    name = unique("cloned")
    clone = beta.clone_public_dataset(token, source_api_url=served.url, dataset_name=name)
    assert clone.name == name and str(clone.id) != world.dataset["id"]
    copied = list(beta.list_examples(dataset_id=clone.id))
    assert sorted(e.inputs["n"] for e in copied) == [0, 1, 2]


def test_shared_with_projects_the_experiments_and_deltas_are_public(served: Server) -> None:
    world = seed(served)
    dataset_id = world.dataset["id"]
    with served.http() as http:
        token = http.put(
            f"/datasets/{dataset_id}/share", params={"share_projects": "true"}, json={}
        ).json()["share_token"]
        keyed_page = http.post(f"/datasets/{dataset_id}/runs/delta", json=delta_body(world))
        keyed_stream = http.post(
            f"/datasets/{dataset_id}/runs/delta/stream", json=stream_body(world)
        )
    assert keyed_page.status_code == keyed_stream.status_code == 200

    projects = list(anonymous(served).list_shared_projects(dataset_share_token=token))
    assert {str(p.id) for p in projects} == {world.baseline["id"], world.candidate["id"]}
    with served.http() as http:  # with the statistics the keyed list has
        keyed = http.get(
            "/sessions", params={"reference_dataset": dataset_id, "include_stats": "true"}
        ).json()
    with public(served) as anon:
        assert anon.get(f"/{token}/datasets/sessions").json() == keyed
    named = anonymous(served).list_shared_projects(
        dataset_share_token=token, name=world.candidate["name"]
    )
    assert [str(p.id) for p in named] == [world.candidate["id"]]

    with public(served) as anon:
        page = anon.post(f"/{token}/datasets/runs/delta", json=delta_body(world))
        stream = anon.post(f"/{token}/datasets/runs/delta/stream", json=stream_body(world))
    assert page.status_code == 200 and page.content == keyed_page.content
    assert page.json()["feedback_deltas"][world.candidate["id"]] == {
        "improved_examples": [world.examples[0]["id"]],
        "regressed_examples": [],
    }
    assert stream.headers["content-type"].startswith("text/event-stream")
    assert stream.content == keyed_stream.content
    assert [e.event for e in parse_events(stream.content)] == ["data", "data", "end"]

    with served.http() as http:  # sharing again without projects takes them back
        again = http.put(f"/datasets/{dataset_id}/share", json={"dataset_id": dataset_id})
        assert again.json()["share_token"] == token
    with public(served) as anon:
        assert anon.post(f"/{token}/datasets/runs/delta", json=delta_body(world)).status_code == 404
        assert anon.get(f"/{token}/datasets/sessions").status_code == 404
        assert anon.get(f"/{token}/datasets").status_code == 200


# --- runs -----------------------------------------------------------------------------------


def test_the_sdk_shares_a_run_and_its_trace(served: Server) -> None:
    world = seed(served)
    client = served.sdk()
    root_id, child_id = world.root["id"], world.child["id"]
    assert client.run_is_shared(root_id) is False
    assert client.read_run_shared_link(root_id) is None

    link = client.share_run(root_id)
    token = link.rsplit("/", 2)[-2]
    assert link.endswith(f"/public/{token}/r")
    assert client.run_is_shared(root_id) is True
    assert client.share_run(root_id) == link  # a new random token offered: the old kept

    reader = anonymous(served)
    run = reader.read_shared_run(link)  # the link works as well as the token
    assert (str(run.id), run.name, run.outputs) == (root_id, world.root["name"], {})
    assert run.session_id is None  # the project is not shown
    child = reader.read_shared_run(token, child_id)
    assert (str(child.id), child.run_type) == (child_id, "llm")
    trace = list(reader.list_shared_runs(token))
    assert [str(r.id) for r in trace] == [root_id, child_id]
    assert [str(r.id) for r in reader.list_shared_runs(token, run_ids=[child_id])] == [child_id]

    # Another run of the same experiment is not part of the share.
    other = world.examples[1]
    with served.http() as http:
        runs = http.post(
            "/runs/query",
            json={"session": [world.baseline["id"]], "reference_example": [other["id"]]},
        ).json()["runs"]
    with pytest.raises(LangSmithNotFoundError):
        reader.read_shared_run(token, runs[0]["id"])
    assert list(reader.list_shared_runs(token, run_ids=[runs[0]["id"]])) == []

    client.unshare_run(root_id)
    assert client.run_is_shared(root_id) is False
    with pytest.raises(LangSmithNotFoundError):
        reader.read_shared_run(token)
    with pytest.raises(LangSmithNotFoundError):
        list(reader.list_shared_runs(token))


def test_a_shared_child_run_never_shows_its_parent(served: Server) -> None:
    world = seed(served)
    token = served.sdk().share_run(world.child["id"]).rsplit("/", 2)[-2]
    with public(served) as anon:
        assert anon.get(f"/{token}/run").json()["id"] == world.child["id"]
        assert anon.get(f"/{token}/run/{world.root['id']}").status_code == 404
        ids = [r["id"] for r in anon.post(f"/{token}/runs/query", json={}).json()["runs"]]
    assert ids == [world.child["id"]]


def test_what_share_bodies_say_is_checked(served: Server) -> None:
    world = seed(served)
    with served.http() as http:
        dataset_path = f"/datasets/{world.dataset['id']}/share"
        wrong = http.put(dataset_path, json={"dataset_id": str(uuid.uuid4())})
        assert wrong.status_code == 422
        assert wrong.json()["detail"][0]["loc"] == ["body", "dataset_id"]
        run_path = f"/runs/{world.root['id']}/share"
        wrong = http.put(run_path, json={"run_id": world.child["id"]})
        assert wrong.json()["detail"][0]["loc"] == ["body", "run_id"]
        not_random = http.put(run_path, json={"share_token": str(uuid.uuid1())})
        assert not_random.status_code == 422
        assert not_random.json()["detail"][0]["loc"] == ["body", "share_token"]
        chosen = str(uuid.uuid4())
        taken = http.put(run_path, json={"share_token": chosen})
        assert taken.json() == {"run_id": world.root["id"], "share_token": chosen}
        clash = http.put(f"/runs/{world.child['id']}/share", json={"share_token": chosen})
        assert clash.status_code == 409
        unknown = http.put(f"/runs/{uuid.uuid4()}/share", json={})
        assert unknown.status_code == 404


# --- what a token never reads ---------------------------------------------------------------


@pytest.fixture(scope="module")
def two_tenants(served: Server) -> tuple[World, World, World]:
    """Alpha's shared dataset, alpha's other dataset, beta's shared dataset."""
    return seed(served, "alpha"), seed(served, "alpha"), seed(served, "beta")


def _share(server: Server, tenant: str, world: World, projects: bool = True) -> str:
    with server.http(tenant) as http:
        response = http.put(
            f"/datasets/{world.dataset['id']}/share",
            params={"share_projects": str(projects).lower()},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["share_token"])


def _run_token(server: Server, tenant: str, run_id: str) -> str:
    with server.http(tenant) as http:
        return str(http.put(f"/runs/{run_id}/share", json={}).json()["share_token"])


def test_a_token_reads_only_what_it_shares(
    served: Server, two_tenants: tuple[World, World, World]
) -> None:
    mine, other, theirs = two_tenants
    token = _share(served, "alpha", mine)
    their_token = _share(served, "beta", theirs)
    run_token = _run_token(served, "alpha", mine.root["id"])
    private = _share(served, "alpha", other, projects=False)

    def delta(world: World, sessions_of: World) -> dict[str, Any]:
        return {
            **delta_body(world),
            "baseline_session_id": sessions_of.baseline["id"],
            "comparison_session_ids": [sessions_of.candidate["id"]],
        }

    with public(served) as anon:
        unknown = anon.get(f"/{uuid.uuid4()}/datasets")
        assert unknown.status_code == 404
        refusals = [
            # another dataset's experiments, of this tenant and of another
            anon.post(f"/{token}/datasets/runs/delta", json=delta(mine, other)),
            anon.post(f"/{token}/datasets/runs/delta", json=delta(mine, theirs)),
            anon.post(
                f"/{token}/datasets/runs/delta/stream",
                json={**stream_body(mine), "comparison_session_ids": [other.candidate["id"]]},
            ),
            anon.post(f"/{their_token}/datasets/runs/delta", json=delta(theirs, mine)),
            # a run's token is no dataset's, a dataset's token no run's
            anon.get(f"/{run_token}/datasets"),
            anon.get(f"/{run_token}/examples"),
            anon.post(f"/{run_token}/datasets/runs/delta", json=delta_body(mine)),
            anon.get(f"/{token}/run"),
            anon.post(f"/{token}/runs/query", json={}),
            # a run's token reads no run of another trace, of its tenant or another's
            anon.get(f"/{run_token}/run/{theirs.root['id']}"),
            anon.get(f"/{run_token}/run/{other.root['id']}"),
            # shared without projects
            anon.post(f"/{private}/datasets/runs/delta", json=delta_body(other)),
            anon.get(f"/{private}/datasets/sessions"),
        ]
        assert [r.status_code for r in refusals] == [404] * len(refusals)
        assert all(r.content == unknown.content for r in refusals)  # nothing told apart

        # Each token reads its own: the right dataset, the right examples.
        assert anon.get(f"/{token}/datasets").json()["id"] == mine.dataset["id"]
        assert anon.get(f"/{their_token}/datasets").json()["id"] == theirs.dataset["id"]
        ids = {e["id"] for e in anon.get(f"/{token}/examples").json()}
        assert ids == {e["id"] for e in mine.examples}
        foreign = anon.get(f"/{token}/examples", params={"id": [theirs.examples[0]["id"]]})
        assert foreign.json() == []

        # A key sent along is ignored: it neither opens nor closes anything.
        for headers in ({"x-api-key": served.keys["beta"]}, {"x-api-key": "evd_nonsense"}):
            assert anon.get(f"/{token}/datasets", headers=headers).status_code == 200
            assert anon.get(f"/{uuid.uuid4()}/datasets", headers=headers).status_code == 404

        # Tokens that are no UUID: 422 naming the token, never a 500.
        for garbage in ("not-a-token", "0" * 300, "%00", "1e3"):
            answer = anon.get(f"/{garbage}/datasets")
            assert answer.status_code == 422, (garbage, answer.text)
            assert answer.json()["detail"][0]["loc"] == ["path", "share_token"]


def test_unsharing_closes_every_route_at_once(
    served: Server, two_tenants: tuple[World, World, World]
) -> None:
    mine = two_tenants[0]
    token = _share(served, "alpha", mine)
    run_token = _run_token(served, "alpha", mine.child["id"])
    reads = [
        ("GET", f"/{token}/datasets", None),
        ("GET", f"/{token}/examples", None),
        ("GET", f"/{token}/datasets/sessions", None),
        ("POST", f"/{token}/datasets/runs/delta", delta_body(mine)),
        ("POST", f"/{token}/datasets/runs/delta/stream", stream_body(mine)),
        ("GET", f"/{run_token}/run", None),
        ("GET", f"/{run_token}/run/{mine.child['id']}", None),
        ("POST", f"/{run_token}/runs/query", {}),
    ]
    with public(served) as anon:
        assert [anon.request(m, p, json=b).status_code for m, p, b in reads] == [200] * 8
        with served.http() as http:
            assert http.delete(f"/datasets/{mine.dataset['id']}/share").status_code == 200
            assert http.delete(f"/runs/{mine.child['id']}/share").status_code == 200
        assert [anon.request(m, p, json=b).status_code for m, p, b in reads] == [404] * 8


def test_another_tenant_cannot_share_read_or_unshare(
    served: Server, two_tenants: tuple[World, World, World]
) -> None:
    mine = two_tenants[0]
    token = _share(served, "alpha", mine)
    dataset_path = f"/datasets/{mine.dataset['id']}/share"
    run_path = f"/runs/{mine.root['id']}/share"
    with served.http("beta") as beta:
        for method in ("PUT", "GET", "DELETE"):
            assert beta.request(method, dataset_path).status_code == 404
            assert beta.request(method, run_path).status_code == 404
    with public(served) as anon:  # alpha's share is untouched
        assert anon.get(f"/{token}/datasets").status_code == 200


def test_deleting_a_shared_dataset_ends_its_share(tmp_path: Path) -> None:
    with run_server(tmp_path / "data") as server:
        world = seed(server)
        token = _share(server, "alpha", world)
        with server.http() as http:
            assert http.delete(f"/datasets/{world.dataset['id']}").status_code == 200
        with public(server) as anon:
            assert anon.get(f"/{token}/datasets").status_code == 404
