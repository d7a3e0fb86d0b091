"""Annotation queues through the SDK's own methods, on DuckDB and on chDB: queues with a
rubric, runs added by id and by key, listed, read at an index and taken out, reviews by two
reviewers of one tenant, tenants kept apart, and bad input refused with a 4xx."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from langsmith import Client
from langsmith import schemas as ls_schemas
from langsmith.utils import LangSmithError, LangSmithNotFoundError

from evaldelta.server.auth import create_key
from evaldelta.store import open_store
from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.ingest import unique

pytestmark = [pytest.mark.sdk, pytest.mark.filterwarnings("ignore::DeprecationWarning")]

# Newer SDKs add runs by their full key, and give queues a rubric of feedback keys.
BY_KEY = "runs" in inspect.signature(Client.add_runs_to_annotation_queue).parameters
RUBRIC = "rubric_items" in inspect.signature(Client.create_annotation_queue).parameters
LIST_RUNS = hasattr(Client, "list_runs_from_annotation_queue")
INSTRUCTIONS = "rubric_instructions" in inspect.signature(Client.create_annotation_queue).parameters


def queued_runs(client: Any, queue_id: UUID, limit: int | None = None) -> list[Any]:
    """``list_runs_from_annotation_queue``; before the SDK had it (0.3.45), its route read
    through the SDK's own request and run schema."""
    if LIST_RUNS:
        return list(client.list_runs_from_annotation_queue(queue_id, limit=limit))
    path = f"/annotation-queues/{queue_id}/runs"
    answer = client.request_with_retries("GET", path, params={"limit": limit or 100})
    return [ls_schemas.RunWithAnnotationQueueInfo(**run) for run in answer.json()]


@dataclass
class World:
    server: Server
    client: Any
    second_key: str  # another API key of tenant alpha: a second reviewer
    project: str
    run_ids: list[UUID]


@pytest.fixture(scope="module", params=STORE_KINDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    directory: Path = tmp_path_factory.mktemp(f"queues-{request.param}") / "data"
    url = store_url(request.param, directory)
    store = open_store(url)
    _, second_key = create_key(store, "alpha")
    store.close()
    with run_server(directory, store=url) as server:
        client = server.sdk()
        project = unique("queued")
        run_ids = [uuid4() for _ in range(4)]
        for n, run_id in enumerate(run_ids):
            client.create_run(
                "answer", {"n": n}, "chain", project_name=project, id=run_id, outputs={"a": n}
            )
        client.flush()
        for run_id in run_ids:
            client.read_run(run_id)
        yield World(server, client, second_key, project, run_ids)


def http_of(world: World, key: str | None = None) -> httpx.Client:
    return httpx.Client(
        base_url=world.server.url + "/api/v1",
        headers={"x-api-key": key or world.server.key},
        timeout=60,
    )


def test_a_queue_is_created_read_listed_changed_and_deleted(world: World) -> None:
    client = world.client
    name = unique("review")
    extra: dict[str, Any] = {}
    if INSTRUCTIONS:
        extra["rubric_instructions"] = "Score each answer."
    if RUBRIC:
        client.create_feedback_config("helpful", feedback_config={"type": "continuous"})
        extra["rubric_items"] = [
            {"feedback_key": "correct", "description": "Is the answer right?"},
            {
                "feedback_key": "helpful",
                "is_required": True,
                "visible_if": {"join": "all", "rules": [{"key": "correct", "op": "is_not_empty"}]},
            },
        ]
    made = client.create_annotation_queue(name=name, description="first look", **extra)
    read = client.read_annotation_queue(made.id)
    assert (read.name, read.description) == (name, "first look")
    assert getattr(read, "rubric_instructions", None) == extra.get("rubric_instructions")
    if RUBRIC:
        assert read.rubric_items is not None
        assert [i["feedback_key"] for i in read.rubric_items] == ["correct", "helpful"]
        assert read.rubric_items[0]["feedback_config"] is None  # "correct" has no config
        assert read.rubric_items[1]["feedback_config"].feedback_config["type"] == "continuous"
        assert read.rubric_items[1]["visible_if"]["rules"][0]["op"] == "is_not_empty"

    other = client.create_annotation_queue(name=unique("other"))
    listed = {q.id for q in client.list_annotation_queues()}
    assert {made.id, other.id} <= listed
    assert [q.id for q in client.list_annotation_queues(name=name)] == [made.id]
    assert [q.id for q in client.list_annotation_queues(queue_ids=[other.id])] == [other.id]
    assert made.id in {q.id for q in client.list_annotation_queues(name_contains=name[3:].upper())}
    assert len(list(client.list_annotation_queues(limit=1))) == 1

    changes: dict[str, Any] = {"rubric_instructions": "Be strict."} if INSTRUCTIONS else {}
    if RUBRIC:
        # "helpful" leaves out its conditions: it keeps them; "correct" is dropped.
        changes["rubric_items"] = [{"feedback_key": "helpful", "description": "Useful?"}]
    client.update_annotation_queue(made.id, name=name + "-2", **changes)
    read = client.read_annotation_queue(made.id)
    assert (read.name, read.description) == (name + "-2", "first look")
    assert getattr(read, "rubric_instructions", None) == changes.get("rubric_instructions")
    if RUBRIC:
        assert read.rubric_items is not None
        (helpful,) = read.rubric_items
        assert helpful["description"] == "Useful?"
        assert helpful["visible_if"]["rules"][0]["key"] == "correct"
    client.delete_annotation_queue(made.id)
    with pytest.raises(LangSmithNotFoundError):
        client.read_annotation_queue(made.id)
    assert client.read_annotation_queue(other.id).id == other.id


def test_runs_are_queued_once_in_order_and_taken_out(world: World) -> None:
    client = world.client
    queue = client.create_annotation_queue(name=unique("runs"))
    first, second, third, fourth = world.run_ids
    client.add_runs_to_annotation_queue(queue.id, run_ids=[second, first])
    if BY_KEY:
        run = client.read_run(third)
        client.add_runs_to_annotation_queue(
            queue.id,
            runs=[{"run_id": run.id, "session_id": run.session_id, "start_time": run.start_time}],
        )
    else:
        client.add_runs_to_annotation_queue(queue.id, run_ids=[third])
    client.add_runs_to_annotation_queue(queue.id, run_ids=[first, fourth])  # first: again
    queued = queued_runs(client, queue.id)
    assert [r.id for r in queued] == [second, first, third, fourth]
    assert queued[1].outputs == {"a": 0}
    assert all(r.added_at is not None and r.last_reviewed_time is None for r in queued)
    assert [r.id for r in queued_runs(client, queue.id, limit=2)] == [
        second,
        first,
    ]
    assert client.read_annotation_queue(queue.id).id == queue.id
    with http_of(world) as http:
        listed = http.get("/annotation-queues", params={"ids": [str(queue.id)]}).json()
        assert [q["total_runs"] for q in listed] == [4]

    with http_of(world) as http:
        found = http.get(f"/annotation-queues/{third}/queues").json()
        assert queue.id in {UUID(q["id"]) for q in found}
        assert http.get(f"/annotation-queues/{uuid4()}/queues").status_code == 404
    assert client.get_run_from_annotation_queue(queue.id, index=2).id == third
    with pytest.raises(LangSmithNotFoundError):
        client.get_run_from_annotation_queue(queue.id, index=4)

    client.delete_run_from_annotation_queue(queue.id, run_id=first)
    assert [r.id for r in queued_runs(client, queue.id)] == [
        second,
        third,
        fourth,
    ]
    assert client.read_run(first).id == first  # the run itself stays
    with pytest.raises(LangSmithNotFoundError):
        client.delete_run_from_annotation_queue(queue.id, run_id=first)

    client.delete_annotation_queue(queue.id)
    with pytest.raises(LangSmithNotFoundError):
        queued_runs(client, queue.id)
    assert client.read_run(second).id == second


def test_reviews_say_who_reviewed_what_with_their_feedback(world: World) -> None:
    client = world.client
    queue = client.create_annotation_queue(name=unique("reviewed"))
    first, second = world.run_ids[:2]
    with http_of(world) as me, http_of(world, world.second_key) as other:
        me.patch(f"/annotation-queues/{queue.id}", json={"num_reviewers_per_item": 2})
        client.add_runs_to_annotation_queue(queue.id, run_ids=[first, second])
        # The SDK's run objects drop queue_run_id; the wire shape has it.
        listed = me.get(f"/annotation-queues/{queue.id}/runs").json()
        items = {UUID(r["id"]): r["queue_run_id"] for r in listed}

        # I score the first run, then mark it reviewed.
        session = client.read_run(first).session_id
        client.create_feedback(
            first, key="correct", score=0.25, comment="half right", session_id=session
        )
        reviewed_at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        answer = me.patch(
            f"/annotation-queues/{queue.id}/runs/{first}",  # by its run's id: the same item
            json={"last_reviewed_time": reviewed_at.isoformat()},
        )
        assert answer.status_code == 200, answer.text

        def ids(http: httpx.Client, status: str) -> list[UUID]:
            found = http.get(f"/annotation-queues/{queue.id}/runs", params={"status": status})
            return [UUID(r["id"]) for r in found.raise_for_status().json()]

        assert ids(me, "needs_my_review") == [second]
        assert ids(me, "needs_others_review") == [first]
        assert ids(other, "needs_my_review") == [first, second]
        assert ids(me, "completed") == []
        # The other reviewer marks it done too: two reviewers, so it is completed.
        done = other.post(f"/annotation-queues/status/{items[first]}", json={"status": "completed"})
        assert done.status_code == 200, done.text
        assert ids(me, "completed") == ids(other, "completed") == [first]
        assert me.get(f"/annotation-queues/{queue.id}/size").json() == {"size": 2}
        size = me.get(f"/annotation-queues/{queue.id}/size", params={"status": "completed"})
        assert size.json() == {"size": 1}

        reviews = me.get(f"/annotation-queues/{queue.id}/reviews").raise_for_status().json()
        assert [(r["reviewer"], r["run_id"], r["status"]) for r in reviews] == [
            (world.second_key[:8], str(first), "completed"),
            (world.server.key[:8], str(first), "completed"),
        ]
        assert datetime.fromisoformat(reviews[1]["reviewed_at"]) == reviewed_at
        assert [(f["key"], f["score"], f["comment"]) for f in reviews[1]["feedback"]] == [
            ("correct", 0.25, "half right")
        ]
    queued = {r.id: r for r in queued_runs(client, queue.id)}
    assert queued[first].last_reviewed_time is not None
    assert queued[second].last_reviewed_time is None


def test_tenants_never_see_each_others_queues(world: World) -> None:
    alpha = world.client
    beta = world.server.sdk("beta")
    queue = alpha.create_annotation_queue(name=unique("private"))
    alpha.add_runs_to_annotation_queue(queue.id, run_ids=world.run_ids[:1])
    assert queue.id not in {q.id for q in beta.list_annotation_queues()}
    for call in (
        lambda: beta.read_annotation_queue(queue.id),
        lambda: beta.update_annotation_queue(queue.id, name="mine now"),
        lambda: beta.delete_annotation_queue(queue.id),
        lambda: beta.add_runs_to_annotation_queue(queue.id, run_ids=world.run_ids[1:2]),
        lambda: queued_runs(beta, queue.id),
        lambda: beta.get_run_from_annotation_queue(queue.id, index=0),
        lambda: beta.delete_run_from_annotation_queue(queue.id, run_id=world.run_ids[0]),
    ):
        with pytest.raises(LangSmithNotFoundError):
            call()
    # Beta's own queue cannot take alpha's run: to beta it does not exist.
    theirs = beta.create_annotation_queue(name=unique("theirs"))
    with pytest.raises(LangSmithNotFoundError):
        beta.add_runs_to_annotation_queue(theirs.id, run_ids=world.run_ids[:1])
    with http_of(world) as http:
        item = http.get(f"/annotation-queues/{queue.id}/runs").json()[0]["queue_run_id"]
    with http_of(world, world.server.keys["beta"]) as http:
        assert http.post(f"/annotation-queues/status/{item}", json={}).status_code == 404
        assert http.get(f"/annotation-queues/{queue.id}/reviews").status_code == 404
        run_queues = http.get(f"/annotation-queues/{world.run_ids[0]}/queues")
        assert run_queues.status_code == 404
    assert alpha.read_annotation_queue(queue.id).name == queue.name
    assert [r.id for r in queued_runs(alpha, queue.id)] == world.run_ids[:1]


def test_bad_input_is_refused_with_a_clear_4xx(world: World) -> None:
    client = world.client
    queue = client.create_annotation_queue(name=unique("strict"))
    unknown = uuid4()
    with pytest.raises(LangSmithNotFoundError, match=str(unknown)):
        client.add_runs_to_annotation_queue(queue.id, run_ids=[world.run_ids[0], unknown])
    assert queued_runs(client, queue.id) == []  # nothing added
    run = client.read_run(world.run_ids[0])
    with http_of(world) as http:
        wrong_session = [
            {"run_id": str(run.id), "session_id": str(uuid4()), "start_time": "2026-01-01T00:00Z"}
        ]
        answer = http.post(f"/annotation-queues/{queue.id}/runs/by-key", json=wrong_session)
        assert answer.status_code == 404, answer.text

        def refused(method: str, path: str, loc: list[Any], **kwargs: Any) -> None:
            answer = http.request(method, path, **kwargs)
            assert answer.status_code == 422, answer.text
            assert any(e["loc"][: len(loc)] == loc for e in answer.json()["detail"]), answer.text

        base = f"/annotation-queues/{queue.id}"
        refused("POST", "/annotation-queues", ["body", "name"], json={})
        refused(
            "POST",
            "/annotation-queues",
            ["body", "enable_reservations"],
            json={"name": unique("q"), "enable_reservations": True},
        )
        twice = [{"feedback_key": "k"}, {"feedback_key": "k"}]
        refused("PATCH", base, ["body"], json={"rubric_items": twice})
        refused("POST", f"{base}/runs", ["body"], json=["not-a-run-id"])
        refused(
            "POST", f"{base}/runs/by-key", ["body", 0, "session_id"], json=[{"run_id": str(run.id)}]
        )
        refused("GET", f"{base}/run/-1", ["path", "index"])
        refused("GET", f"{base}/runs", ["query", "status"], params={"status": "someday"})
        refused("GET", f"{base}/runs", ["query", "archived"], params={"archived": "true"})
        refused(
            "GET",
            "/annotation-queues",
            ["query", "tag_value_id"],
            params={"tag_value_id": str(uuid4())},
        )
        assert (
            http.post(
                f"{base}/runs", content=b"{", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        assert http.patch(f"{base}/runs/{uuid4()}", json={}).status_code == 404
    with pytest.raises(LangSmithError):
        client.create_annotation_queue(name=unique("dup"), queue_id=queue.id)
