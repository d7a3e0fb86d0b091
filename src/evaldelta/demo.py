"""A small, realistic demo: a Q&A dataset and three experiments, loaded through the API.

``demo-baseline`` is the current prompt; ``demo-better-prompt`` answers more questions
correctly; ``demo-cheaper-model`` is faster but worse. Each ran twice per example
(repetitions), scored by four evaluators: ``correctness`` (boolean), ``helpfulness``
(1-5), ``latency_s`` (seconds, lower is better) and ``tone`` (categorical, no score).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import orjson

from evaldelta.client import ApiError, Client

EXPERIMENTS = {
    # name: (chance to be right, helpfulness shift, latency factor)
    "demo-baseline": (0.70, 0.0, 1.0),
    "demo-better-prompt": (0.88, 0.4, 1.1),
    "demo-cheaper-model": (0.55, -0.5, 0.45),
}
REPETITIONS = 2
TOPICS = ["billing", "refunds", "shipping", "passwords", "invoices", "accounts"]


def _multipart(parts: list[tuple[str, Any]]) -> list[tuple[str, tuple[None, bytes, str]]]:
    return [(name, (None, orjson.dumps(body), "application/json")) for name, body in parts]


def load_demo(
    client: Client, *, dataset_name: str = "evaldelta-demo", n_examples: int = 60, seed: int = 7
) -> dict[str, Any]:
    """Create the demo dataset and experiments; returns the dataset and experiment names."""
    if client.request("GET", "/datasets", params={"name": dataset_name, "limit": 1}):
        raise ApiError(f"a dataset named {dataset_name!r} already exists; pass another --name")
    rng = random.Random(seed)
    dataset = client.request(
        "POST",
        "/datasets",
        json={
            "name": dataset_name,
            "description": "evaldelta demo: support questions",
        },
    )
    examples = client.request(
        "POST",
        "/examples/bulk",
        json=[
            {
                "dataset_id": dataset["id"],
                "inputs": {"question": f"How do I fix my {TOPICS[i % len(TOPICS)]} problem #{i}?"},
                "outputs": {"answer": f"Answer {i}"},
                "metadata": {"topic": TOPICS[i % len(TOPICS)]},
            }
            for i in range(n_examples)
        ],
    )
    client.request(
        "POST",
        "/feedback-configs",
        json={
            "feedback_key": "latency_s",
            "feedback_config": {"type": "continuous", "min": 0},
            "is_lower_score_better": True,
        },
    )
    difficulty = [rng.random() for _ in examples]
    start = datetime.now(UTC) - timedelta(hours=1)
    for name, (p_right, helpful_shift, speed) in EXPERIMENTS.items():
        session = client.request(
            "POST",
            "/sessions",
            json={
                "name": name,
                "reference_dataset_id": dataset["id"],
                "extra": {"metadata": {"num_repetitions": REPETITIONS}},
            },
        )
        parts: list[tuple[str, Any]] = []
        for example, hard in zip(examples, difficulty, strict=True):
            for _ in range(REPETITIONS):
                run_id = str(uuid4())
                right = rng.random() < p_right * (1.2 - 0.4 * hard)
                began = start + timedelta(seconds=rng.random() * 600)
                latency = max(0.05, rng.gauss(2.0 + 2 * hard, 0.4) * speed)
                stamp = began.strftime("%Y%m%dT%H%M%S%fZ")
                parts.append(
                    (
                        f"post.{run_id}",
                        {
                            "id": run_id,
                            "name": "Target",
                            "run_type": "chain",
                            "trace_id": run_id,
                            "dotted_order": f"{stamp}{run_id}",
                            "session_name": name,
                            "reference_example_id": example["id"],
                            "start_time": began.isoformat(),
                            "end_time": (began + timedelta(seconds=latency)).isoformat(),
                            "inputs": example["inputs"],
                            "outputs": {
                                "answer": example["outputs"]["answer"]
                                if right
                                else "I am not sure."
                            },
                        },
                    )
                )
                helpful = min(5, max(1, round(rng.gauss(3.2 + helpful_shift + right, 0.8))))
                scores = {
                    "correctness": right,
                    "helpfulness": helpful,
                    "latency_s": round(latency, 3),
                }
                for key, score in scores.items():
                    fid = str(uuid4())
                    parts.append(
                        (
                            f"feedback.{fid}",
                            {
                                "id": fid,
                                "run_id": run_id,
                                "trace_id": run_id,
                                "key": key,
                                "score": score,
                                "session_id": session["id"],
                            },
                        )
                    )
                fid = str(uuid4())
                parts.append(
                    (
                        f"feedback.{fid}",
                        {
                            "id": fid,
                            "run_id": run_id,
                            "trace_id": run_id,
                            "key": "tone",
                            "value": rng.choice(["friendly", "neutral", "curt"]),
                            "session_id": session["id"],
                        },
                    )
                )
        for i in range(0, len(parts), 500):
            client.request("POST", "/runs/multipart", files=_multipart(parts[i : i + 500]))
    return {"dataset": dataset_name, "experiments": list(EXPERIMENTS)}
