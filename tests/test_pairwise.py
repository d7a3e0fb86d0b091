"""Pairwise experiments through the official SDK, on DuckDB and on chDB: evaluate((a, b))
creates a comparative experiment, its feedback is stored and listed, and the delta
endpoints count it alone.  Also: a key's first feedback config becomes the key's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from typer.testing import CliRunner

from evaldelta.cli.main import app
from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.sse import delta_stream

N_EXAMPLES = 12
A_WRONG = {1, 5, 9}  # experiment A answers these wrongly
B_WRONG = {1, 4, 7, 10}  # experiment B these
# B against A (the baseline): B is right where A is wrong (5, 9), wrong where A is right
# (4, 7, 10), and both are judged alike on the rest.
B_WINS, B_LOSSES = {5, 9}, {4, 7, 10}


@pytest.fixture(scope="module", params=STORE_KINDS)
def pair_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    data = tmp_path_factory.mktemp(f"pairwise-{request.param}") / "data"
    with run_server(data, store=store_url(request.param, data)) as running:
        yield running


def _target(wrong: set[int]) -> Any:
    def target(inputs: dict[str, Any]) -> dict[str, Any]:
        n = inputs["n"]
        return {"answer": -1 if n in wrong else n * 2}

    return target


def prefer_correct(runs: list[Any], example: Any) -> dict[str, Any]:
    """A pairwise evaluator: 1 for each run that answers right, 0 for one that does not."""
    want = example.outputs["answer"]
    return {
        "key": "preferred",
        "scores": {run.id: int(run.outputs["answer"] == want) for run in runs},
    }


@pytest.fixture(scope="module")
def experiments(pair_server: Server) -> dict[str, Any]:
    """A dataset and two experiments on it, A (the baseline) and B."""
    client = pair_server.sdk()
    dataset = client.create_dataset(f"pairs-{uuid4().hex[:8]}")
    client.create_examples(
        dataset_id=dataset.id,
        examples=[
            {"inputs": {"n": n}, "outputs": {"answer": n * 2}, "metadata": {"n": n}}
            for n in range(N_EXAMPLES)
        ],
    )
    a = client.evaluate(_target(A_WRONG), data=dataset.name, experiment_prefix="a")
    b = client.evaluate(_target(B_WRONG), data=dataset.name, experiment_prefix="b")
    client.flush()
    examples = {e.metadata["n"]: str(e.id) for e in client.list_examples(dataset_id=dataset.id)}
    return {
        "dataset": str(dataset.id),
        "a": client.read_project(project_name=a.experiment_name),
        "b": client.read_project(project_name=b.experiment_name),
        "examples": examples,
    }


@pytest.mark.parametrize("randomize_order", [False, True])
def test_evaluate_pairwise_end_to_end(
    pair_server: Server, experiments: dict[str, Any], randomize_order: bool
) -> None:
    client = pair_server.sdk()
    a, b = experiments["a"], experiments["b"]
    results = client.evaluate(
        (a.name, b.name),
        evaluators=[prefer_correct],
        randomize_order=randomize_order,
        experiment_prefix="pref",
    )
    pairwise = results.comparative_experiment
    assert pairwise.reference_dataset_id == UUID(experiments["dataset"])
    assert len(list(results)) == N_EXAMPLES

    # The comparative experiment is listed under its dataset, with its experiments' names.
    with pair_server.http() as http:
        listed = http.get(
            f"/datasets/{experiments['dataset']}/comparative", params={"id": str(pairwise.id)}
        ).json()
    assert [c["id"] for c in listed] == [str(pairwise.id)]
    assert {e["name"] for e in listed[0]["experiments_info"]} == {a.name, b.name}
    assert listed[0]["name"] == pairwise.name

    # Each example's two scores are stored under the experiment, as one group per example.
    feedback = list(client.list_feedback(comparative_experiment_id=pairwise.id))
    assert len(feedback) == 2 * N_EXAMPLES
    assert all(f.key == "preferred" for f in feedback)
    groups: dict[Any, list[Any]] = {}
    for f in feedback:
        groups.setdefault(f.feedback_group_id, []).append(f)
    assert len(groups) == N_EXAMPLES and all(len(g) == 2 for g in groups.values())
    assert {f.session_id for f in feedback} == {a.id, b.id}
    assert listed[0]["feedback_stats"]["preferred"]["n"] == 2 * N_EXAMPLES
    # The experiments' own statistics keep to their own evaluations.
    for side in (a, b):
        stats = client.read_project(project_id=side.id, include_stats=True).feedback_stats
        assert "preferred" not in (stats or {})

    # The delta counts the pairwise feedback: B improved where it won, regressed where it lost.
    ids = experiments["examples"]
    body = {
        "baseline_session_id": str(a.id),
        "comparison_session_ids": [str(b.id)],
        "feedback_key": "preferred",
        "comparative_experiment_id": str(pairwise.id),
        "include_stats": True,
    }
    with pair_server.http() as http:
        got = http.post(f"/datasets/{experiments['dataset']}/runs/delta", json=body).json()
        without = http.post(
            f"/datasets/{experiments['dataset']}/runs/delta",
            json={**body, "comparative_experiment_id": None},
        ).json()
    delta = got["feedback_deltas"][str(b.id)]
    assert set(delta["improved_examples"]) == {ids[n] for n in B_WINS}
    assert set(delta["regressed_examples"]) == {ids[n] for n in B_LOSSES}
    stats = delta["stats"]["pairwise"]
    assert (stats["wins"], stats["ties"], stats["losses"]) == (2, N_EXAMPLES - 5, 3)
    assert stats["win_rate"] == pytest.approx(0.4)
    assert stats["p_value"] == pytest.approx(1.0)  # 2 of 5: no evidence either way
    # Without the comparative experiment, its feedback does not count at all.
    assert without["feedback_deltas"][str(b.id)]["improved_examples"] == []
    assert without["feedback_deltas"][str(b.id)]["regressed_examples"] == []
    assert "pairwise" not in (without["feedback_deltas"][str(b.id)]["stats"] or {})


def test_stream_counts_the_pairwise_feedback(
    pair_server: Server, experiments: dict[str, Any]
) -> None:
    client = pair_server.sdk()
    a, b = experiments["a"], experiments["b"]
    pairwise = client.evaluate((a.id, b.id), evaluators=[prefer_correct]).comparative_experiment
    ids = experiments["examples"]
    body = {
        "baseline_session_id": str(a.id),
        "comparison_session_ids": [str(b.id)],
        "feedback_keys": ["preferred"],
        "comparative_experiment_id": str(pairwise.id),
    }
    with pair_server.http() as http:
        raw = http.post(f"/datasets/{experiments['dataset']}/runs/delta/stream", json=body)
    deltas, errors = delta_stream(raw.content, ["preferred"], [str(b.id)])
    assert errors == {}
    delta = deltas["preferred"][str(b.id)]
    assert set(delta["improved_examples"]) == {ids[n] for n in B_WINS}
    assert set(delta["regressed_examples"]) == {ids[n] for n in B_LOSSES}


def test_create_list_delete(pair_server: Server, experiments: dict[str, Any]) -> None:
    client = pair_server.sdk()
    a, b = experiments["a"], experiments["b"]
    dataset = experiments["dataset"]
    name = f"cmp-{uuid4().hex[:8]}"
    made = client.create_comparative_experiment(
        name, experiments=[a.id, b.id], description="A vs B", metadata={"by": "test"}
    )
    assert made.name == name and made.description == "A vs B"
    assert made.metadata == {"by": "test"}
    assert made.reference_dataset_id == UUID(dataset)
    with pair_server.http() as http:
        base = f"/datasets/{dataset}/comparative"
        assert [c["id"] for c in http.get(base, params={"name": name}).json()] == [str(made.id)]
        found = http.get(base, params={"name_contains": name[4:].upper()}).json()
        assert [c["id"] for c in found] == [str(made.id)]
        assert http.get(base, params={"name": "nobody"}).json() == []
        # The same create sent again (a retry) answers the same; another under its id is 409.
        again = {"id": str(made.id), "name": name, "experiment_ids": [str(a.id), str(b.id)]}
        assert http.post("/datasets/comparative", json=again).json()["id"] == str(made.id)
        clash = {**again, "name": "other"}
        assert http.post("/datasets/comparative", json=clash).status_code == 409
        assert http.delete(f"/datasets/comparative/{made.id}").status_code == 200
        assert http.get(base, params={"name": name}).json() == []
        assert http.delete(f"/datasets/comparative/{made.id}").status_code == 404
        delta = http.post(
            f"/datasets/{dataset}/runs/delta",
            json={
                "baseline_session_id": str(a.id),
                "comparison_session_ids": [str(b.id)],
                "feedback_key": "preferred",
                "comparative_experiment_id": str(made.id),
            },
        )
        assert delta.status_code == 404


def test_sorting_and_paging(pair_server: Server, experiments: dict[str, Any]) -> None:
    a, b = experiments["a"], experiments["b"]
    tag = uuid4().hex[:8]
    with pair_server.http() as http:
        made = [
            http.post(
                "/datasets/comparative",
                json={"name": f"{tag}-{letter}", "experiment_ids": [str(a.id), str(b.id)]},
            ).json()["id"]
            for letter in "cab"
        ]
        base = f"/datasets/{experiments['dataset']}/comparative"
        by_name = http.get(
            base, params={"name_contains": tag, "sort_by": "name", "sort_by_desc": False}
        ).json()
        newest = http.get(base, params={"name_contains": tag}).json()
        page = http.get(base, params={"name_contains": tag, "limit": 1, "offset": 1}).json()
    assert [c["name"][-1] for c in by_name] == ["a", "b", "c"]
    assert [c["id"] for c in newest] == made[::-1]
    assert [c["id"] for c in page] == [made[1]]


def test_wrong_dataset_or_tenant_is_404(pair_server: Server, experiments: dict[str, Any]) -> None:
    a, b = experiments["a"], experiments["b"]
    client = pair_server.sdk()
    other = client.create_dataset(f"other-{uuid4().hex[:8]}")
    stranger = client.create_project(f"s-{uuid4().hex[:8]}", reference_dataset_id=other.id)
    with pair_server.http() as http, pair_server.http("beta") as beta:
        mixed = {"experiment_ids": [str(a.id), str(stranger.id)]}
        got = http.post("/datasets/comparative", json=mixed)
        assert got.status_code == 404 and str(stranger.id) in got.json()["detail"]
        elsewhere = {"experiment_ids": [str(a.id)], "reference_dataset_id": str(other.id)}
        assert http.post("/datasets/comparative", json=elsewhere).status_code == 404
        theirs = {"experiment_ids": [str(a.id), str(b.id)]}
        assert beta.post("/datasets/comparative", json=theirs).status_code == 404
        mine = http.post("/datasets/comparative", json=theirs).json()
        assert beta.get(f"/datasets/{experiments['dataset']}/comparative").status_code == 404
        assert beta.delete(f"/datasets/comparative/{mine['id']}").status_code == 404
        # Not listed under another dataset, and no delta there counts it.
        assert http.get(f"/datasets/{other.id}/comparative").json() == []
        body = {
            "baseline_session_id": str(stranger.id),
            "comparison_session_ids": [str(stranger.id)],
            "feedback_key": "preferred",
            "comparative_experiment_id": mine["id"],
        }
        assert http.post(f"/datasets/{other.id}/runs/delta", json=body).status_code == 404
        empty = http.post("/datasets/comparative", json={"experiment_ids": []})
        assert empty.status_code == 422
        assert empty.json()["detail"][0]["loc"] == ["body", "experiment_ids"]


def test_deleting_a_dataset_deletes_its_comparative_experiments(pair_server: Server) -> None:
    """They go with it: not deletable afterwards, and a dataset made again under the
    same id starts without them."""
    dataset_id = str(uuid4())
    with pair_server.http() as http:
        create = {"id": dataset_id, "name": f"gone-{uuid4().hex[:8]}"}
        http.post("/datasets", json=create).raise_for_status()
        sessions = [
            http.post(
                "/sessions",
                json={"name": f"gone-{uuid4().hex[:8]}", "reference_dataset_id": dataset_id},
            ).json()["id"]
            for _ in range(2)
        ]
        made = http.post("/datasets/comparative", json={"experiment_ids": sessions}).json()
        assert http.delete(f"/datasets/{dataset_id}").status_code == 200
        assert http.delete(f"/datasets/comparative/{made['id']}").status_code == 404
        http.post("/datasets", json=create).raise_for_status()
        assert http.get(f"/datasets/{dataset_id}/comparative").json() == []


def test_first_feedback_config_becomes_the_keys(
    pair_server: Server, experiments: dict[str, Any]
) -> None:
    client = pair_server.sdk()
    a = experiments["a"]
    run = next(client.list_runs(project_id=a.id, is_root=True, limit=1))
    key = f"tone-{uuid4().hex[:8]}"
    assert list(client.list_feedback_configs(feedback_key=[key])) == []
    first = {
        "type": "categorical",
        "categories": [{"value": 0, "label": "rude"}, {"value": 1, "label": "kind"}],
    }
    client.create_feedback(run.id, key, value="kind", score=1, feedback_config=first)
    configs = list(client.list_feedback_configs(feedback_key=[key]))
    assert len(configs) == 1
    assert configs[0].feedback_config["type"] == "categorical"
    assert [c["label"] for c in configs[0].feedback_config["categories"]] == ["rude", "kind"]
    # A later, different config for the key does not replace the first.
    client.create_feedback(
        run.id, key, score=0.5, feedback_config={"type": "continuous", "min": 0, "max": 1}
    )
    again = list(client.list_feedback_configs(feedback_key=[key]))
    assert again[0].feedback_config["type"] == "categorical"
    assert again[0].modified_at == configs[0].modified_at


def _cli(server: Server, *args: str) -> Any:
    env = {"LANGSMITH_ENDPOINT": server.url, "LANGSMITH_API_KEY": server.key, "COLUMNS": "200"}
    result = CliRunner().invoke(app, list(args), env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def test_compare_pairwise_on_the_command_line(
    pair_server: Server, experiments: dict[str, Any]
) -> None:
    client = pair_server.sdk()
    a, b = experiments["a"], experiments["b"]
    pairwise = client.evaluate((a.id, b.id), evaluators=[prefer_correct]).comparative_experiment
    dataset = experiments["dataset"]
    ran = _cli(pair_server, "compare", "--dataset", dataset, "--pairwise", pairwise.name, "--json")
    assert ran.exit_code == 0, ran.output
    data = orjson.loads(ran.stdout)
    assert (data["baseline"], data["pairwise"]) == (a.name, pairwise.name)
    [row] = data["rows"]
    assert (row["key"], row["comparison"]) == ("preferred", b.name)
    assert (row["n_improved"], row["n_unchanged"], row["n_regressed"]) == (2, N_EXAMPLES - 5, 3)
    assert row["win_rate"] == pytest.approx(0.4)
    assert row["win_rate_ci_low"] < 0.4 < row["win_rate_ci_high"]
    assert row["p_value"] == pytest.approx(1.0) and row["verdict"] == "unclear"

    # The other way round, by id: A is the comparison, and wins what B lost.
    ran = _cli(
        pair_server,
        "compare",
        "--dataset",
        dataset,
        "--pairwise",
        str(pairwise.id),
        "--baseline",
        b.name,
        "--against",
        a.name,
    )
    assert ran.exit_code == 0, ran.output
    assert "wins" in ran.stdout and "win rate" in ran.stdout
    line = next(x for x in ran.stdout.splitlines() if "preferred" in x)
    assert re.search(r"\b3\s.*\b7\s.*\b2\s.*60%", line), line

    missing = _cli(pair_server, "compare", "--dataset", dataset, "--pairwise", "nobody")
    assert missing.exit_code != 0 and "no pairwise experiment 'nobody'" in missing.output


def tone(outputs: dict[str, Any]) -> dict[str, Any]:
    """An evaluator that says how to read its key, as LangSmith's evaluators may."""
    config = {"type": "categorical", "categories": [{"value": 0, "label": "odd"}, {"value": 1}]}
    return {"key": "parity-tone", "score": outputs["answer"] % 2, "feedback_config": config}


def test_an_evaluators_feedback_config_becomes_the_keys(
    pair_server: Server, experiments: dict[str, Any]
) -> None:
    client = pair_server.sdk()
    dataset = client.read_dataset(dataset_id=experiments["dataset"])
    client.evaluate(_target(set()), data=dataset.name, evaluators=[tone])
    client.flush()
    [config] = list(client.list_feedback_configs(feedback_key=["parity-tone"]))
    assert config.feedback_config["type"] == "categorical"
    assert config.feedback_config["categories"][0] == {"value": 0, "label": "odd"}
    assert config.is_lower_score_better is False


def test_gate_on_a_pairwise_experiment(pair_server: Server, experiments: dict[str, Any]) -> None:
    """B loses 3 and wins 2: no significant difference, the gate passes; a limit on the
    examples B may lose fails it."""
    client = pair_server.sdk()
    a, b = experiments["a"], experiments["b"]
    pairwise = client.evaluate((a.id, b.id), evaluators=[prefer_correct]).comparative_experiment
    select = ["gate", "--dataset", experiments["dataset"], "--pairwise", str(pairwise.id)]
    passed = _cli(pair_server, *select)
    assert passed.exit_code == 0, passed.output
    failed = _cli(pair_server, *select, "--max-regressed", "preferred=2")
    assert failed.exit_code == 1, failed.output
    assert "3 examples regressed (allowed: 2)" in failed.output
