"""A small world for the page's views: one dataset, a baseline and a candidate experiment
whose `correct` scores moved both ways, seeded through the HTTP API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx

# Per example: the baseline's and the candidate's `correct`. Examples 1 and 4 regress,
# example 2 improves, the rest stay.
BASELINE = [1, 1, 0, 1, 1, 0]
CANDIDATE = [1, 0, 1, 1, 0, 0]


@dataclass
class PageWorld:
    dataset: str
    examples: list[dict[str, Any]]
    baseline: str
    candidate: str
    runs: dict[tuple[str, str], str]  # (session id, example id) -> root run id

    @property
    def regressed(self) -> list[str]:
        return [
            e["id"] for e, b, c in zip(self.examples, BASELINE, CANDIDATE, strict=True) if c < b
        ]

    @property
    def improved(self) -> list[str]:
        return [
            e["id"] for e, b, c in zip(self.examples, BASELINE, CANDIDATE, strict=True) if c > b
        ]


def output(session_name: str, i: int) -> str:
    return f"{session_name} answers #{i}"


def seed(http: httpx.Client, name: str) -> PageWorld:
    dataset = http.post("/datasets", json={"name": name}).json()
    start = datetime(2026, 3, 1, tzinfo=UTC)
    examples = http.post(
        "/examples/bulk",
        json=[
            {
                "dataset_id": dataset["id"],
                "inputs": {"question": f"{name} question {i}"},
                "outputs": {"answer": f"reference {i}"},
                "created_at": (start + timedelta(minutes=i)).isoformat(),
            }
            for i in range(len(BASELINE))
        ],
    ).json()
    sessions, runs, posts, feedback = {}, {}, [], []
    for n, (session_name, scores) in enumerate((("baseline", BASELINE), ("candidate", CANDIDATE))):
        session = http.post(
            "/sessions",
            json={
                "name": f"{name}-{session_name}",
                "reference_dataset_id": dataset["id"],
                "start_time": (start + timedelta(days=n)).isoformat(),
            },
        ).json()
        sessions[session_name] = session["id"]
        for i, example in enumerate(examples):
            run_id = str(uuid4())
            runs[(session["id"], example["id"])] = run_id
            posts.append(
                {
                    "id": run_id,
                    "trace_id": run_id,
                    "name": "target",
                    "run_type": "chain",
                    "start_time": (start + timedelta(days=n, seconds=i)).isoformat(),
                    "end_time": (start + timedelta(days=n, seconds=i + 1)).isoformat(),
                    "session_id": session["id"],
                    "reference_example_id": example["id"],
                    "inputs": example["inputs"],
                    "outputs": {"answer": output(session_name, i)},
                }
            )
            feedback.append({"run_id": run_id, "key": "correct", "score": scores[i]})
    assert http.post("/runs/batch", json={"post": posts}).status_code == 202
    for item in feedback:
        assert http.post("/feedback", json=item).status_code == 200
    return PageWorld(dataset["id"], examples, sessions["baseline"], sessions["candidate"], runs)
