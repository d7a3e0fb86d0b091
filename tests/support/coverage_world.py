"""The hand-worked coverage world (tests/test_coverage.py's docstring works it out): eight
examples, a baseline on the whole dataset with one unscored example, and a comparison on
split ``train`` whose evaluator raises on one example, both made by the SDK's
``evaluate()``."""

from __future__ import annotations

from typing import Any

from tests.conftest import Server

TRAIN = {0, 1, 2, 3, 4}


def baseline_judge(inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs["n"]
    return {"key": "judge", "score": None if n == 7 else float(n % 2)}


def comparison_judge(run: Any, example: Any) -> dict[str, Any]:
    # The (run, example) signature: the SDK then keeps the function as it is, and every
    # release names the error feedback after the key in its source (0.3's SDK names it
    # "wrapper" for the (inputs, ...) signatures it wraps).
    if example.inputs["n"] == 1:
        raise RuntimeError("judge timed out")
    return {"key": "judge", "score": 1.0}


def echo(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"n": inputs["n"]}


def seed_coverage_world(server: Server, name: str = "coverage") -> dict[str, Any]:
    """Seed the world on ``server``; its ids and experiment names."""
    client = server.sdk()
    dataset = client.create_dataset(name)
    client.create_examples(
        dataset_id=dataset.id,
        examples=[
            {"inputs": {"n": n}, "split": "train" if n in TRAIN else "test"} for n in range(8)
        ],
    )
    base = client.evaluate(
        echo, data=dataset.name, evaluators=[baseline_judge], experiment_prefix="base"
    )
    train = list(client.list_examples(dataset_id=dataset.id, splits=["train"]))
    comp = client.evaluate(
        echo, data=train, evaluators=[comparison_judge], experiment_prefix="comp"
    )
    client.flush()
    examples = {e.inputs["n"]: str(e.id) for e in client.list_examples(dataset_id=dataset.id)}
    return {
        "server": server,
        "dataset": str(dataset.id),
        "dataset_name": name,
        "examples": examples,
        "baseline": str(client.read_project(project_name=base.experiment_name).id),
        "comparison": str(client.read_project(project_name=comp.experiment_name).id),
        "baseline_name": base.experiment_name,
        "comparison_name": comp.experiment_name,
    }
