"""A small, realistic demo: a Q&A dataset and three experiments, loaded through the API.

For the dataset ``demo``: ``demo-baseline`` is the current prompt; ``demo-better-prompt``
answers more questions correctly and more helpfully, as fast; ``demo-cheaper-model`` is
much faster but less helpful. Each ran twice per example (repetitions), scored by four
evaluators: ``correctness`` (boolean), ``helpfulness`` (1-5), ``latency_s`` (seconds,
lower is better) and ``tone`` (categorical, no score).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import orjson

from evaldelta.client.http import ApiError, Client

VARIANTS = {
    # experiment "<dataset>-<variant>": (chance to be right, helpfulness shift, latency factor)
    "baseline": (0.70, 0.0, 1.0),
    "better-prompt": (0.88, 0.4, 1.0),
    "cheaper-model": (0.55, -0.5, 0.45),
}
REPETITIONS = 2
TOPICS = ["billing", "refunds", "shipping", "passwords", "invoices", "accounts"]


def _multipart(parts: list[tuple[str, Any]]) -> list[tuple[str, tuple[None, bytes, str]]]:
    return [(name, (None, orjson.dumps(body), "application/json")) for name, body in parts]


def experiment_names(dataset_name: str) -> dict[str, str]:
    """Variant -> experiment name. Experiment names are unique per tenant, so they carry
    the dataset's name: a second demo under another ``--name`` does not collide."""
    return {variant: f"{dataset_name}-{variant}" for variant in VARIANTS}


def load_demo(
    client: Client, *, dataset_name: str = "demo", n_examples: int = 60, seed: int = 7
) -> dict[str, Any]:
    """Create the demo dataset and experiments; returns the dataset and experiment names.

    Every name is checked before anything is written, so a clash leaves nothing behind."""
    names = experiment_names(dataset_name)
    if client.request("GET", "/datasets", params={"name": dataset_name, "limit": 1}):
        raise ApiError(f"a dataset named {dataset_name!r} already exists; pass another --name")
    for experiment in names.values():
        if client.request("GET", "/sessions", params={"name": experiment, "limit": 1}):
            raise ApiError(
                f"an experiment named {experiment!r} already exists; pass another --name"
            )
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
    for variant, (p_right, helpful_shift, speed) in VARIANTS.items():
        name = names[variant]
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
    return {"dataset": dataset_name, "examples": len(examples), "experiments": names}
