"""Deltas follow a run wherever the order of ingest puts it.

Feedback carries a copy of its run's project, example and root flag (the delta reads
feedback alone), so every order in which a run and its feedback can arrive must leave the
delta as if they had arrived in the obvious order: feedback before its run, a patch before
its post that moves the run into the experiment, a patch that moves the run to another
example or under a parent, feedback re-sent or edited with a new score.  Each test drives a
real server over HTTP and reads ``/runs/delta``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import run_server
from tests.support.delta_seed import (
    create_dataset,
    create_examples,
    create_experiment,
    delta,
    feedback,
    ok,
    post_feedback_multipart,
    post_runs,
    run_post,
)

T0 = datetime(2026, 2, 1, tzinfo=UTC)


class Setup:
    """A dataset of three examples, a baseline scoring 0.5 on each, and a candidate."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.dataset = create_dataset(http)
        created = [T0 + timedelta(seconds=i) for i in range(3)]
        self.examples = [e["id"] for e in create_examples(http, self.dataset, created)]
        self.baseline = create_experiment(http, self.dataset)
        self.candidate = create_experiment(http, self.dataset)
        runs = [run_post({"session_id": self.baseline}, e, start=T0) for e in self.examples]
        post_runs(http, runs)
        post_feedback_multipart(http, [feedback(r, "score", 0.5) for r in runs])

    def lists(self) -> dict[str, list[str]]:
        found = delta(self.http, self.dataset, self.baseline, [self.candidate], "score")
        return found[self.candidate]

    def candidate_run(self, example: int, **fields: Any) -> dict[str, Any]:
        run = run_post({"session_id": self.candidate}, self.examples[example], start=T0)
        return {**run, **fields}


# --- the scenarios, also run together under a changed writer limit -------------------------


def feedback_before_its_run(http: httpx.Client) -> None:
    """Feedback that arrives before its run counts once the run arrives."""
    world = Setup(http)
    good, bad = world.candidate_run(0), world.candidate_run(2)
    post_feedback_multipart(http, [feedback(good, "score", 1.0), feedback(bad, "score", 0.0)])
    assert world.lists() == {"improved_examples": [], "regressed_examples": []}

    post_runs(http, [good, bad])
    assert world.lists() == {
        "improved_examples": [world.examples[0]],
        "regressed_examples": [world.examples[2]],
    }


def patch_before_its_post(http: httpx.Client) -> None:
    """A patch before its post, then the post moves the run into the experiment."""
    world = Setup(http)
    run = world.candidate_run(1)
    patch = {
        "id": run["id"],
        "trace_id": run["id"],
        "dotted_order": run["dotted_order"],
        "end_time": (T0 + timedelta(seconds=1)).isoformat(),
        "outputs": {"a": 1},
    }
    ok(http.post("/runs/batch", json={"patch": [patch]}), 202)
    post_feedback_multipart(http, [feedback(run, "score", 1.0)])
    assert world.lists()["improved_examples"] == []

    post_runs(http, [run])
    assert world.lists() == {"improved_examples": [world.examples[1]], "regressed_examples": []}


# --- the orders ----------------------------------------------------------------------------


def test_feedback_before_its_run_counts_once_the_run_arrives(http: httpx.Client) -> None:
    feedback_before_its_run(http)


def test_a_patch_before_its_post_then_the_post_moves_the_run_into_the_experiment(
    http: httpx.Client,
) -> None:
    patch_before_its_post(http)


def test_a_patch_that_moves_a_run_to_another_example_moves_its_feedback(
    http: httpx.Client,
) -> None:
    world = Setup(http)
    run = world.candidate_run(0)
    post_runs(http, [run])
    post_feedback_multipart(http, [feedback(run, "score", 0.0)])
    assert world.lists()["regressed_examples"] == [world.examples[0]]

    moved = {
        "id": run["id"],
        "trace_id": run["id"],
        "dotted_order": run["dotted_order"],
        "reference_example_id": world.examples[2],
    }
    ok(http.post("/runs/batch", json={"patch": [moved]}), 202)
    assert world.lists() == {"improved_examples": [], "regressed_examples": [world.examples[2]]}


def test_a_run_reposted_under_a_parent_no_longer_counts(http: httpx.Client) -> None:
    world = Setup(http)
    parent = world.candidate_run(1)
    run = world.candidate_run(1)
    post_runs(http, [parent, run])
    post_feedback_multipart(http, [feedback(parent, "score", 0.5), feedback(run, "score", 1.0)])
    assert world.lists()["improved_examples"] == [world.examples[1]]

    # The same run sent again as a child of ``parent``: only root runs count.
    post_runs(http, [{**run, "parent_run_id": parent["id"], "trace_id": parent["id"]}])
    assert world.lists() == {"improved_examples": [], "regressed_examples": []}


def test_resent_and_edited_feedback_counts_with_its_latest_score(http: httpx.Client) -> None:
    world = Setup(http)
    run = world.candidate_run(0)
    post_runs(http, [run])
    item = feedback(run, "score", 1.0)
    post_feedback_multipart(http, [item])
    assert world.lists()["improved_examples"] == [world.examples[0]]

    post_feedback_multipart(http, [{**item, "score": 0.0}])  # the same id, a new score
    assert world.lists() == {"improved_examples": [], "regressed_examples": [world.examples[0]]}

    ok(http.patch(f"/feedback/{item['id']}", json={"score": 0.5}))
    assert world.lists() == {"improved_examples": [], "regressed_examples": []}
    ok(http.patch(f"/feedback/{item['id']}", json={"score": 1}))
    assert world.lists() == {"improved_examples": [world.examples[0]], "regressed_examples": []}


def test_new_examples_show_up_in_the_next_delta(http: httpx.Client) -> None:
    """Example ids are kept between deltas; a write to examples must never leave them stale."""
    world = Setup(http)
    run = world.candidate_run(0)
    post_runs(http, [run])
    post_feedback_multipart(http, [feedback(run, "score", 1.0)])
    assert world.lists()["improved_examples"] == [world.examples[0]]

    # An example created earlier than all others comes first and shifts every position.
    first = create_examples(http, world.dataset, [T0 - timedelta(days=1)])[0]["id"]
    pair = [run_post({"session_id": s}, first, start=T0) for s in (world.baseline, world.candidate)]
    post_runs(http, pair)
    post_feedback_multipart(
        http, [feedback(pair[0], "score", 1.0), feedback(pair[1], "score", 0.0)]
    )
    assert world.lists() == {
        "improved_examples": [world.examples[0]],
        "regressed_examples": [first],
    }

    ok(http.delete(f"/examples/{world.examples[0]}"), 200)
    assert world.lists() == {"improved_examples": [], "regressed_examples": [first]}


def test_a_reopened_store_gives_the_same_answer(tmp_path: Path) -> None:
    """The copies are stored, not rebuilt in memory: a restarted server answers the same."""
    data = tmp_path / "data"
    with run_server(data, tenants=("alpha",)) as server, server.http() as client:
        world = Setup(client)
        run = world.candidate_run(2)
        post_feedback_multipart(client, [feedback(run, "score", 0.0)])
        post_runs(client, [run])
        assert world.lists()["regressed_examples"] == [world.examples[2]]
    # The same tenant (found by name) with a fresh key.
    with run_server(data, tenants=("alpha",)) as server, server.http() as client:
        world.http = client
        assert world.lists() == {
            "improved_examples": [],
            "regressed_examples": [world.examples[2]],
        }


def test_many_runs_awaited_by_feedback(http: httpx.Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """When much feedback awaits its runs, the writer matches a batch's run ids in the store
    instead of reading every awaited id: the answer is the same."""
    from evaldelta.store.duckdb import feedback as duckdb_feedback

    monkeypatch.setattr(duckdb_feedback, "WAITING_READ_LIMIT", 0)
    feedback_before_its_run(http)
    patch_before_its_post(http)
