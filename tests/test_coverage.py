"""Coverage on the delta endpoints (``include_coverage``, ``include_examples``), on both
stores, with experiments the real SDK's ``evaluate()`` ran and recorded.

A hand-worked world: eight examples ``n = 0..7``, five of them (``n <= 4``) in split
``train``.  The baseline ran on the whole dataset; its evaluator gives ``n % 2`` and no score
at all for ``n = 7``.  The comparison ran on ``train`` only; its evaluator gives 1.0 and
raises for ``n = 1`` (the SDK logs that as feedback with ``error: true``).  So:

    both: 0 2 3 4          baseline only: 1 5 6     comparison only: none
    errored: baseline 7, comparison 1
    buckets: 0 2 4 improved, 3 unchanged, 1 5 6 baseline_only, 7 errored

and the experiments ran on different splits, which the SDK records in their metadata.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson
import pytest

from evaldelta.delta.coverage import bucket, version_fields
from tests.conftest import Server, run_server, store_url
from tests.support.coverage_world import seed_coverage_world
from tests.support.sse import parse_events

pytestmark = pytest.mark.sdk


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp(f"coverage-{request.param}") / "data"
    with run_server(data, store=store_url(request.param, Path(data))) as server:
        yield seed_coverage_world(server)


def _body(world: dict[str, Any], **flags: bool) -> dict[str, Any]:
    return {
        "baseline_session_id": world["baseline"],
        "comparison_session_ids": [world["comparison"]],
        "feedback_keys": ["judge"],
        **flags,
    }


def _stream(world: dict[str, Any], **flags: bool) -> tuple[dict[str, Any], dict[str, Any]]:
    """The comparison's object of the one ``judge`` chunk, and the ``end`` event's data."""
    server: Server = world["server"]
    with server.http() as http:
        response = http.post(
            f"/datasets/{world['dataset']}/runs/delta/stream", json=_body(world, **flags)
        )
    assert response.status_code == 200, response.text
    events = parse_events(response.content)
    chunk = orjson.loads(events[0].data or "")
    assert chunk["errors"] is None, chunk
    return chunk["feedback_deltas"]["judge"][world["comparison"]], orjson.loads(
        events[-1].data or ""
    )


EXPECTED_COUNTS = {
    "n_both": 4,
    "n_baseline_only": 3,
    "n_comparison_only": 0,
    "n_errored_baseline": 1,
    "n_errored_comparison": 1,
}


def test_coverage_counts_the_hand_worked_case(world: dict[str, Any]) -> None:
    delta, _ = _stream(world, include_coverage=True)
    coverage = delta["coverage"]
    assert {k: coverage[k] for k in EXPECTED_COUNTS} == EXPECTED_COUNTS
    # What the SDK recorded: the baseline saw both splits, the comparison only train.
    assert coverage["baseline_dataset_splits"] == ["test", "train"]
    assert coverage["comparison_dataset_splits"] == ["train"]
    assert any("different dataset splits" in w for w in coverage["warnings"])
    assert "examples" not in delta and "stats" not in delta


def test_coverage_is_the_same_on_the_paged_endpoint(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    body = {**_body(world, include_coverage=True), "limit": 2}
    body["feedback_key"] = body.pop("feedback_keys")[0]
    with server.http() as http:
        response = http.post(f"/datasets/{world['dataset']}/runs/delta", json=body)
    assert response.status_code == 200, response.text
    coverage = response.json()["feedback_deltas"][world["comparison"]]["coverage"]
    streamed, _ = _stream(world, include_coverage=True)
    assert coverage == streamed["coverage"]


def test_examples_are_listed_with_their_bucket(world: dict[str, Any]) -> None:
    delta, _ = _stream(world, include_examples=True)
    n_of = {v: k for k, v in world["examples"].items()}
    listed = {n_of[e["example_id"]]: e for e in delta["examples"]}
    assert {n: e["bucket"] for n, e in listed.items()} == {
        0: "improved",
        2: "improved",
        4: "improved",
        3: "unchanged",
        1: "baseline_only",
        5: "baseline_only",
        6: "baseline_only",
        7: "errored",
    }
    assert listed[0]["baseline_score"] == 0.0 and listed[0]["comparison_score"] == 1.0
    assert listed[1]["comparison_score"] is None and listed[1]["comparison_errored"] is True
    assert listed[7]["baseline_errored"] is True and listed[7]["baseline_score"] is None
    # The buckets agree with the lists LangSmith's shape already gives.
    improved = {n_of[e] for e in delta["improved_examples"]}
    assert improved == {n for n, e in listed.items() if e["bucket"] == "improved"}
    assert delta["regressed_examples"] == []


def test_default_answers_carry_no_coverage(world: dict[str, Any]) -> None:
    delta, end = _stream(world)
    assert set(delta) == {"improved_examples", "regressed_examples"}
    assert end == {}


def test_coverage_across_tenants_is_not_found(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    with server.http("beta") as http:
        response = http.post(
            f"/datasets/{world['dataset']}/runs/delta/stream",
            json=_body(world, include_coverage=True, include_examples=True),
        )
    assert response.status_code == 404


def test_a_flag_of_the_wrong_type_is_a_422_naming_it(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    with server.http() as http:
        response = http.post(
            f"/datasets/{world['dataset']}/runs/delta/stream",
            json=_body(world) | {"include_coverage": "sometimes"},
        )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "include_coverage"]


def _session(version: str | None, splits: list[str] | None) -> dict[str, Any]:
    return {"extra": {"metadata": {"dataset_version": version, "dataset_splits": splits}}}


def test_version_warnings_compare_times_not_spellings() -> None:
    same = version_fields(
        _session("2026-01-02T03:04:05+00:00", ["base"]),
        _session("2026-01-02T03:04:05Z", ["base"]),
    )
    assert same["warnings"] == []
    other = version_fields(
        _session("2026-01-02T03:04:05+00:00", ["base"]),
        _session("2026-01-03T00:00:00+00:00", ["base"]),
    )
    assert other["warnings"] == [
        "the experiments ran on different dataset versions "
        "(baseline 2026-01-02T03:04:05+00:00, comparison 2026-01-03T00:00:00+00:00)"
    ]
    # Nothing recorded on one side: nothing to warn about, and nothing invented.
    unknown = version_fields({"extra": None}, _session("2026-01-03T00:00:00+00:00", None))
    assert unknown["warnings"] == [] and unknown["baseline_dataset_version"] is None


def test_buckets_follow_the_paired_tie_rule() -> None:
    assert bucket(0.5, 0.5 + 1e-12, lower_is_better=False) == "unchanged"
    assert bucket(0.5, 0.75, lower_is_better=False) == "improved"
    assert bucket(0.5, 0.75, lower_is_better=True) == "regressed"
    assert bucket(None, 0.75, lower_is_better=False) == "comparison_only"
    assert bucket(None, None, lower_is_better=False) == "errored"


def test_the_paged_endpoint_lists_the_examples_of_its_window(world: dict[str, Any]) -> None:
    server: Server = world["server"]
    body = _body(world, include_examples=True)
    body["feedback_key"] = body.pop("feedback_keys")[0]
    streamed, _ = _stream(world, include_examples=True)
    pages = []
    with server.http() as http:
        for offset in (0, 3, 6):
            response = http.post(
                f"/datasets/{world['dataset']}/runs/delta",
                json={**body, "offset": offset, "limit": 3},
            )
            assert response.status_code == 200, response.text
            delta = response.json()["feedback_deltas"][world["comparison"]]
            # The window is the dataset's examples as listed (creation order, then id);
            # every example of this world is scored or errored on some side.
            window = http.get(
                "/examples", params={"dataset": world["dataset"], "offset": offset, "limit": 3}
            ).json()
            assert [e["example_id"] for e in delta["examples"]] == [e["id"] for e in window]
            assert set(delta["improved_examples"]) <= {e["id"] for e in window}
            pages.append(delta["examples"])
    assert [len(page) for page in pages] == [3, 3, 2]
    every = sorted((e for page in pages for e in page), key=lambda e: e["example_id"])
    assert every == streamed["examples"]


def test_a_value_without_a_score_is_a_result_not_an_error(world: dict[str, Any]) -> None:
    """Categorical feedback (a value, no score) on a scored example leaves it as it was;
    feedback with neither, or flagged as an error, makes it errored."""
    server: Server = world["server"]
    client = server.sdk()
    runs = {
        r.reference_example_id: r.id
        for r in client.list_runs(project_id=world["comparison"], is_root=True)
    }
    zero, three = (UUID(world["examples"][n]) for n in (0, 3))
    client.create_feedback(runs[zero], key="judge", value="fine", session_id=world["comparison"])
    client.create_feedback(
        runs[three], key="judge", score=None, comment="no verdict", session_id=world["comparison"]
    )
    client.flush()
    delta, _ = _stream(world, include_coverage=True, include_examples=True)
    assert delta["coverage"]["n_errored_comparison"] == 2  # n = 1 (raised) and n = 3
    listed = {e["example_id"]: e for e in delta["examples"]}
    assert listed[str(zero)]["comparison_errored"] is False
    # Still scored by its other feedback: errored, and still unchanged.
    assert listed[str(three)]["comparison_errored"] is True
    assert listed[str(three)]["bucket"] == "unchanged"
