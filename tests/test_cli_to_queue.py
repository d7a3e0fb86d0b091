"""``evaldelta compare --to-queue NAME`` against a real server: the runs of the examples
that regressed, baseline and compared side by side, land in an annotation queue (made with
the compared keys as its rubric); the improved ones do not; sending again adds nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from evaldelta.cli.demo_data import REPETITIONS
from evaldelta.client.http import Client
from tests.conftest import Server
from tests.test_cli_compare import BASE, BETTER, CHEAPER, environment, invoke


def cli(server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evaldelta.cli.main", *args],
        env=environment(server),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def demo(shared_server: Server) -> Iterator[dict[str, str]]:
    loaded = cli(shared_server, "demo")
    assert loaded.returncode == 0, loaded.stderr
    with shared_server.http() as http:
        (dataset,) = http.get("/datasets", params={"name": "demo"}).json()
        sessions = http.get("/sessions", params={"reference_dataset": dataset["id"]}).json()
    yield {"dataset": dataset["id"], **{s["name"]: s["id"] for s in sessions}}


def regressed(server: Server, ids: dict[str, str], key: str, against: str) -> tuple[set[str], ...]:
    """The API's regressed and improved examples of one experiment on one key."""
    body = {
        "baseline_session_id": ids[BASE],
        "comparison_session_ids": [ids[against]],
        "feedback_key": key,
        "limit": 100,
    }
    with server.http() as http:
        answer = http.post(f"/datasets/{ids['dataset']}/runs/delta", json=body).json()
    lists = answer["feedback_deltas"][ids[against]]
    return set(lists["regressed_examples"]), set(lists["improved_examples"])


def queued(server: Server, name: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    client = Client(server.url, server.key)
    try:
        queue = client.annotation_queue(name)
        assert queue is not None
        return queue, client.queue_runs(str(queue["id"]))
    finally:
        client.close()


def test_regressed_examples_land_in_the_queue_both_sides_paired(
    shared_server: Server, demo: dict[str, str]
) -> None:
    args = ["compare", "--dataset", "demo", "--baseline", BASE, "--key", "correctness"]
    sent = cli(
        shared_server, *args, "--against", BETTER, "--against", CHEAPER, "--to-queue", "triage"
    )
    assert sent.returncode == 0, sent.stderr
    lost = {name: regressed(shared_server, demo, "correctness", name) for name in (BETTER, CHEAPER)}
    examples = lost[BETTER][0] | lost[CHEAPER][0]
    assert examples and lost[BETTER][1]  # the demo has both regressions and improvements
    # The root runs (the demo's repetitions) of each example on the baseline, and on each
    # experiment where it regressed.
    expected_runs = REPETITIONS * (len(examples) + len(lost[BETTER][0]) + len(lost[CHEAPER][0]))
    said = f"Added {expected_runs} runs to annotation queue 'triage'"
    assert said in sent.stderr, sent.stderr
    assert f"of {len(examples)} regressed examples" in sent.stderr
    assert sent.stdout.strip()  # the comparison table is still printed

    queue, runs = queued(shared_server, "triage")
    assert [i["feedback_key"] for i in queue["rubric_items"]] == ["correctness"]
    assert queue["default_dataset"] == demo["dataset"]
    assert len(runs) == expected_runs
    # Every queued run is a regressed example's, on the baseline or on an experiment where
    # that example regressed; improved-only examples are not there.
    session_of = {v: k for k, v in demo.items() if k != "dataset"}
    seen: dict[str, list[str]] = {}
    for run in runs:
        seen.setdefault(run["reference_example_id"], []).append(session_of[run["session_id"]])
    assert set(seen) == examples
    for example, names in seen.items():
        sides = [BASE] + [n for n in (BETTER, CHEAPER) if example in lost[n][0]]
        wanted = [name for name in sides for _ in range(REPETITIONS)]
        assert names == wanted, example
    improved_only = (lost[BETTER][1] | lost[CHEAPER][1]) - examples
    assert improved_only and not improved_only & set(seen)
    # Paired: an example's runs sit next to each other, its baseline run first.
    order = [r["reference_example_id"] for r in runs]
    for example in examples:
        at = [i for i, e in enumerate(order) if e == example]
        assert at == list(range(at[0], at[0] + len(at)))
        assert session_of[runs[at[0]]["session_id"]] == BASE

    again = invoke(
        shared_server,
        *args,
        "--against",
        BETTER,
        "--against",
        CHEAPER,
        "--to-queue",
        "triage",
        "--json",
    )
    assert again.returncode == 0, again.stderr
    assert "Added 0 runs to annotation queue 'triage'" in again.stderr
    assert again.stdout.lstrip().startswith("{")  # JSON on stdout stays JSON
    assert len(queued(shared_server, "triage")[1]) == expected_runs


def test_a_queue_that_exists_is_added_to(shared_server: Server, demo: dict[str, str]) -> None:
    with shared_server.http() as http:
        made = http.post("/annotation-queues", json={"name": "mine", "rubric_instructions": "x"})
        assert made.status_code == 200
    args = ["compare", "--dataset", "demo", "--baseline", BASE, "--against", CHEAPER]
    sent = invoke(shared_server, *args, "--key", "helpfulness", "--to-queue", "mine")
    assert sent.returncode == 0, sent.stderr
    lost, _ = regressed(shared_server, demo, "helpfulness", CHEAPER)
    queue, runs = queued(shared_server, "mine")
    assert queue["rubric_instructions"] == "x" and queue["id"] == made.json()["id"]
    assert len(runs) == 2 * REPETITIONS * len(lost)
    assert {r["reference_example_id"] for r in runs} == lost


def test_nothing_regressed_sends_nothing_and_makes_no_queue(
    shared_server: Server, demo: dict[str, str]
) -> None:
    args = ["compare", "--dataset", "demo", "--baseline", BASE, "--against", CHEAPER]
    assert regressed(shared_server, demo, "latency_s", CHEAPER)[0] == set()  # all faster
    sent = invoke(shared_server, *args, "--key", "latency_s", "--to-queue", "never-made")
    assert sent.returncode == 0, sent.stderr
    assert "No example regressed: nothing sent to annotation queue 'never-made'" in sent.stderr
    with shared_server.http() as http:
        assert http.get("/annotation-queues", params={"name": "never-made"}).json() == []
