"""The official langsmith SDK's evaluate() runs end to end against a real evaldelta server."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Server, run_server, store_url

pytestmark = pytest.mark.sdk

N_EXAMPLES = 10
REPETITIONS = 2


def target(inputs: dict[str, Any]) -> dict[str, Any]:
    n = inputs["n"]
    return {"answer": n * 2 if n % 3 else n}


def exact_match(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> dict[str, Any]:
    score = 1.0 if outputs["answer"] == reference_outputs["answer"] else 0.25
    return {"key": "exact_match", "score": score}


def is_short(outputs: dict[str, Any]) -> bool:
    return outputs["answer"] < 10


def tone(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"key": "tone", "value": "even" if outputs["answer"] % 2 == 0 else "odd"}


def always_fails(outputs: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("evaluator exploded")


def pass_rate(
    outputs: list[dict[str, Any]], reference_outputs: list[dict[str, Any]]
) -> dict[str, Any]:
    hits = sum(o["answer"] == r["answer"] for o, r in zip(outputs, reference_outputs, strict=True))
    return {"key": "pass_rate", "score": hits / len(outputs)}


def expected_answer(n: int) -> int:
    return n * 2 if n % 3 else n


@pytest.fixture(
    params=[(True, "duckdb"), (False, "duckdb"), (True, "chdb")],
    ids=["zstd-duckdb", "uncompressed-duckdb", "zstd-chdb"],
)
def sdk_server(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    zstd, kind = request.param
    store = store_url(kind, tmp_path / "data")
    with run_server(tmp_path / "data", zstd_compression=zstd, store=store) as running:
        yield running


def test_evaluate_end_to_end(sdk_server: Server) -> None:
    client = sdk_server.sdk()
    dataset = client.create_dataset("arith", description="doubling")
    client.create_examples(
        dataset_id=dataset.id,
        examples=[
            {"inputs": {"n": n}, "outputs": {"answer": n * 2}, "metadata": {"idx": n}}
            for n in range(N_EXAMPLES)
        ],
    )
    results = client.evaluate(
        target,
        data=dataset.name,
        evaluators=[exact_match, is_short, tone, always_fails],
        summary_evaluators=[pass_rate],
        experiment_prefix="exp",
        num_repetitions=REPETITIONS,
    )
    experiment = results.experiment_name
    client.flush()

    examples = list(client.list_examples(dataset_id=dataset.id))
    assert len(examples) == N_EXAMPLES
    assert all(e.dataset_id == dataset.id for e in examples)
    n_of = {e.id: e.inputs["n"] for e in examples}

    project = client.read_project(project_name=experiment, include_stats=True)
    assert project.reference_dataset_id == dataset.id
    runs = list(client.list_runs(project_name=experiment, is_root=True))
    assert len(runs) == N_EXAMPLES * REPETITIONS
    assert Counter(r.reference_example_id for r in runs) == {e: REPETITIONS for e in n_of}
    for run in runs:
        assert run.name == "Target" and run.session_id == project.id
        assert run.outputs == {"answer": expected_answer(n_of[run.reference_example_id])}
        assert run.end_time is not None

    feedback = list(client.list_feedback(run_ids=[r.id for r in runs]))
    by_key: dict[str, list[Any]] = {}
    for fb in feedback:
        # SDKs before 0.4 name a failing evaluator's feedback after its wrapper.
        key = "always_fails" if fb.key == "wrapper" else fb.key
        by_key.setdefault(key, []).append(fb)
    failing_key = by_key["always_fails"][0].key
    assert {k: len(v) for k, v in by_key.items()} == {
        "exact_match": 20,
        "is_short": 20,
        "tone": 20,
        "always_fails": 20,
    }
    run_by_id = {r.id: r for r in runs}
    for fb in by_key["exact_match"]:
        n = n_of[run_by_id[fb.run_id].reference_example_id]
        assert fb.score == (1.0 if expected_answer(n) == n * 2 else 0.25)
        assert fb.session_id == project.id
    for fb in by_key["is_short"]:
        assert fb.score is (expected_answer(n_of[run_by_id[fb.run_id].reference_example_id]) < 10)
    assert {fb.value for fb in by_key["tone"]} <= {"even", "odd"}
    assert all(fb.score is None and fb.value is None for fb in by_key["always_fails"])
    assert all("evaluator exploded" in (fb.comment or "") for fb in by_key["always_fails"])

    summary = [f for f in client.list_feedback(session=[project.id]) if f.key == "pass_rate"]
    assert len(summary) == 1 and summary[0].run_id is None

    stats = project.feedback_stats or {}
    assert project.run_count == N_EXAMPLES * REPETITIONS
    assert stats["exact_match"]["n"] == 20
    hits = sum(expected_answer(n) == n * 2 for n in range(N_EXAMPLES))
    expected_avg = (hits + 0.25 * (N_EXAMPLES - hits)) / N_EXAMPLES
    assert stats["exact_match"]["avg"] == pytest.approx(expected_avg)
    assert stats[failing_key]["errors"] == 20
    assert sum(stats["tone"]["values"].values()) == 20
    session_stats = getattr(project, "session_feedback_stats", None)
    if session_stats is None:  # SDKs before 0.4 drop the field: read what the server sent
        with sdk_server.http() as http:
            found = http.get(f"/sessions/{project.id}", params={"include_stats": True})
            session_stats = found.json()["session_feedback_stats"]
    assert session_stats["pass_rate"]["avg"] == pytest.approx(hits / N_EXAMPLES)

    # The evaluators' own runs land in a project the SDK never created explicitly.
    evaluator_runs = list(client.list_runs(project_name="evaluators", is_root=True))
    assert len(evaluator_runs) == 4 * N_EXAMPLES * REPETITIONS + 1
