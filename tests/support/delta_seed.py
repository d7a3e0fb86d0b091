"""Seeding and reading back delta test data through the public API, and calling the
delta endpoints: shared by the delta API and stream tests, and a scored dataset for tests
that need deltas to stream."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx

from tests.support.delta_reference import RefExample, RefFeedback, RefRun, reference_delta
from tests.support.ingest import multipart_body, unique
from tests.support.sse import delta_stream

Lists = dict[str, list[str]]  # {"improved_examples": [...], "regressed_examples": [...]}
Deltas = dict[str, dict[str, Lists]]  # key -> comparison session -> lists
RunFilter = Callable[[RefRun], bool]

# --- seeding through the public API ---------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return None if status == 204 else response.json()


def create_dataset(http: httpx.Client, name: str | None = None) -> str:
    return str(ok(http.post("/datasets", json={"name": name or unique("ds")}))["id"])


def create_examples(
    http: httpx.Client, dataset_id: str, created: list[datetime]
) -> list[dict[str, Any]]:
    """One example per timestamp, posted in the given order, with ``{"i": index}`` inputs."""
    body = [
        {
            "dataset_id": dataset_id,
            "id": str(uuid4()),
            "inputs": {"i": i},
            "outputs": {"i": i},
            "created_at": at.isoformat(),
        }
        for i, at in enumerate(created)
    ]
    rows: list[dict[str, Any]] = ok(http.post("/examples/bulk", json=body))
    assert len(rows) == len(body)
    return rows


def create_experiment(http: httpx.Client, dataset_id: str, name: str | None = None) -> str:
    body = {"name": name or unique("exp"), "reference_dataset_id": dataset_id}
    return str(ok(http.post("/sessions", json=body))["id"])


def run_post(
    session: dict[str, str],
    example_id: str | None,
    *,
    start: datetime,
    name: str = "Target",
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    parent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A finished run as the SDK posts it; ``session`` is ``{"session_id": ...}`` or
    ``{"session_name": ...}``; with ``parent`` it is a child in the parent's trace."""
    run_id = str(uuid4())
    dotted = f"{start:%Y%m%dT%H%M%S%fZ}{run_id}"
    return {
        "id": run_id,
        "name": name,
        "run_type": "chain",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(milliseconds=3)).isoformat(),
        "trace_id": parent["trace_id"] if parent else run_id,
        "dotted_order": f"{parent['dotted_order']}.{dotted}" if parent else dotted,
        "parent_run_id": parent["id"] if parent else None,
        "reference_example_id": example_id,
        "inputs": {"q": "?"},
        "outputs": {"a": "!"},
        "tags": tags or [],
        "extra": {"metadata": metadata or {}},
        **session,
    }


def post_runs(http: httpx.Client, runs: list[dict[str, Any]]) -> None:
    ok(http.post("/runs/batch", json={"post": runs}), 202)


def post_feedback_multipart(http: httpx.Client, feedback: list[dict[str, Any]]) -> None:
    """Feedback as ``feedback.<id>`` parts of ``/runs/multipart`` (how the SDK batches it)."""
    body, headers = multipart_body([(f"feedback.{item['id']}", item) for item in feedback])
    ok(http.post("/runs/multipart", content=body, headers=headers), 202)


def feedback(run: dict[str, Any] | None, key: str, score: Any, **fields: Any) -> dict[str, Any]:
    item = {"id": str(uuid4()), "key": key, "score": score, **fields}
    if run is not None:
        item.update(run_id=run["id"], trace_id=run["trace_id"])
    return item


def declare_lower_is_better(http: httpx.Client, key: str) -> None:
    body = {
        "feedback_key": key,
        "feedback_config": {"type": "continuous"},
        "is_lower_score_better": True,
    }
    assert ok(http.post("/feedback-configs", json=body))["is_lower_score_better"] is True


# --- reading the world back, and the reference answer -----------------------------------------


@dataclass
class World:
    examples: list[RefExample]
    runs: list[RefRun]
    feedback: list[RefFeedback]

    def expected(
        self,
        baseline: str,
        comparisons: list[str],
        key: str,
        *,
        lower: bool = False,
        filters: dict[str, RunFilter] | None = None,
        window: tuple[int, int] | None = None,
        comparative_experiment_id: str | None = None,
    ) -> dict[str, Lists]:
        """The reference's answer, in the API's shape."""
        got = reference_delta(
            self.examples,
            self.runs,
            self.feedback,
            UUID(baseline),
            [UUID(c) for c in comparisons],
            key,
            lower_is_better=lower,
            run_filters={UUID(s): f for s, f in (filters or {}).items()},
            window=window,
            comparative_experiment_id=(
                UUID(comparative_experiment_id) if comparative_experiment_id else None
            ),
        )
        return {
            str(session): {
                "improved_examples": [str(e) for e in improved],
                "regressed_examples": [str(e) for e in regressed],
            }
            for session, (improved, regressed) in got.items()
        }


def paged_get(http: httpx.Client, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    while True:
        page = ok(http.get(path, params={**params, "offset": len(rows), "limit": 100}))
        rows += page
        if len(page) < 100:
            return rows


def query_runs(http: httpx.Client, sessions: list[str], *, is_root: bool) -> list[dict[str, Any]]:
    body: dict[str, Any] = {"session": sessions, "is_root": is_root, "limit": 100}
    runs: list[dict[str, Any]] = []
    while True:
        page = ok(http.post("/runs/query", json=body))
        runs += page["runs"]
        if not page["cursors"]["next"]:
            return runs
        body["cursor"] = page["cursors"]["next"]


def read_world(http: httpx.Client, dataset_id: str, sessions: list[str]) -> World:
    """The dataset's examples, the sessions' runs and their feedback, as the API lists them."""
    examples = [
        RefExample(UUID(e["id"]), datetime.fromisoformat(e["created_at"]))
        for e in paged_get(http, "/examples", {"dataset": dataset_id})
    ]
    runs = []
    for is_root in (True, False):
        for r in query_runs(http, sessions, is_root=is_root):
            assert (r["parent_run_id"] is None) is is_root
            example = r["reference_example_id"]
            fields = {
                "name": r["name"],
                "tags": r["tags"] or [],
                "metadata": (r["extra"] or {}).get("metadata") or {},
            }
            runs.append(
                RefRun(
                    UUID(r["id"]),
                    UUID(r["session_id"]),
                    UUID(example) if example else None,
                    is_root,
                    fields,
                )
            )
    rows = paged_get(http, "/feedback", {"session": sessions})
    fb = [
        RefFeedback(
            UUID(f["run_id"]) if f["run_id"] else None,
            f["key"],
            f["score"],
            UUID(f["comparative_experiment_id"]) if f["comparative_experiment_id"] else None,
        )
        for f in rows
    ]
    return World(examples, runs, fb)


# --- calling the endpoints --------------------------------------------------------------------


def stream(
    http: httpx.Client,
    dataset_id: str,
    baseline: str,
    comparisons: list[str],
    keys: list[str],
    filters: dict[str, list[str]] | None = None,
) -> Deltas:
    """The stream's answer, after checking its framing and shape strictly."""
    body = {
        "baseline_session_id": baseline,
        "comparison_session_ids": comparisons,
        "feedback_keys": keys,
        "filters": filters,
    }
    response = http.post(f"/datasets/{dataset_id}/runs/delta/stream", json=body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].split(";")[0] == "text/event-stream"
    deltas, errors = delta_stream(response.content, keys, comparisons)
    assert errors == {}, errors
    return deltas


def delta(
    http: httpx.Client,
    dataset_id: str,
    baseline: str,
    comparisons: list[str],
    key: str,
    **extra: Any,
) -> dict[str, Lists]:
    body = {
        "baseline_session_id": baseline,
        "comparison_session_ids": comparisons,
        "feedback_key": key,
        **extra,
    }
    answer = ok(http.post(f"/datasets/{dataset_id}/runs/delta", json=body))
    assert set(answer) == {"feedback_deltas"}
    assert set(answer["feedback_deltas"]) == set(comparisons)
    deltas: dict[str, Lists] = answer["feedback_deltas"]
    return deltas


def all_pages(
    http: httpx.Client,
    dataset_id: str,
    baseline: str,
    comparisons: list[str],
    key: str,
    *,
    limit: int,
    total: int,
    **extra: Any,
) -> dict[str, Lists]:
    """Concatenation of the pages ``offset = 0, limit, 2*limit, ...`` up to ``total``."""
    out: dict[str, Lists] = {
        c: {"improved_examples": [], "regressed_examples": []} for c in comparisons
    }
    for offset in range(0, total, limit):
        page = delta(
            http, dataset_id, baseline, comparisons, key, offset=offset, limit=limit, **extra
        )
        for session, lists in page.items():
            for name, ids in lists.items():
                out[session][name] += ids
    return out


def flipped(lists: dict[str, Lists]) -> dict[str, Lists]:
    return {
        s: {
            "improved_examples": v["regressed_examples"],
            "regressed_examples": v["improved_examples"],
        }
        for s, v in lists.items()
    }


def nonempty(lists: dict[str, Lists]) -> bool:
    return any(ids for v in lists.values() for ids in v.values())


# --- a scored dataset ------------------------------------------------------------------------


def stream_path(world: dict[str, Any]) -> str:
    """The delta stream route of a world made by ``seed_scored``."""
    return f"/datasets/{world['dataset']}/runs/delta/stream"


def stream_body(world: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """A stream request of ``keys``: the world's first session against all the others."""
    baseline, *others = world["sessions"]
    return {
        "baseline_session_id": baseline,
        "comparison_session_ids": others,
        "feedback_keys": keys,
    }


def seed_scored(
    http: httpx.Client,
    *,
    examples: int,
    experiments: int,
    keys: list[str],
    score: Callable[[int, int, str], Any],
    start: datetime,
) -> dict[str, Any]:
    """A dataset of ``examples`` and ``experiments`` experiments on it, whose runs are scored
    on every key: ``score(experiment_rank, example_index, key)``, called in that nesting.
    Returns ``{"dataset": id, "sessions": [baseline id, *comparison ids]}``."""
    dataset = create_dataset(http)
    rows = create_examples(http, dataset, [start + timedelta(seconds=i) for i in range(examples)])
    sessions = [create_experiment(http, dataset) for _ in range(experiments)]
    runs, scores = [], []
    for rank, session in enumerate(sessions):
        for index, example in enumerate(rows):
            run = run_post({"session_id": session}, example["id"], start=start)
            runs.append(run)
            scores += [feedback(run, key, score(rank, index, key)) for key in keys]
    # In slices, so that large worlds stay under the server's body size limit.
    for first in range(0, len(runs), 500):
        post_runs(http, runs[first : first + 500])
    for first in range(0, len(scores), 5000):
        post_feedback_multipart(http, scores[first : first + 5000])
    return {"dataset": dataset, "sessions": sessions}
