"""The SDK's pytest plugin as CI runs it: one suite, run three times in a row (a new commit
each time) against one server, in a subprocess exactly as a user's CI would.  Read back
through the SDK: one dataset, its examples updated in place, three complete experiments
with their ``pass`` and logged feedback, every root run ended with its outputs and
example, and the plugin's git tags on the dataset's versions.  On both stores."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.cli_process import command_env
from tests.support.ingest import unique

T = TypeVar("T")
RUNS = 3

SUITE = """
import os

import pytest
from langsmith import testing as t

OWNER = os.environ["SUITE_OWNER"]


@pytest.mark.langsmith(metadata={"owner": OWNER}, split="smoke")
@pytest.mark.parametrize("n", [1, 2, 3])
def test_doubles(n):
    t.log_inputs({"n": n})
    t.log_reference_outputs({"double": 2 * n})
    t.log_outputs({"double": n + n})
    t.log_feedback(key="closeness", score=1.0)
    assert n + n == 2 * n


@pytest.mark.langsmith
def test_answers():
    t.log_inputs({"question": "six times seven"})
    t.log_reference_outputs({"answer": 42})
    t.log_outputs({"answer": 41})
    t.log_feedback(key="closeness", score=0.5)
    assert 41 == 42
"""


def git(repo: Path, *args: str) -> str:
    env = {
        **command_env(repo),
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@example.com",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@example.com",
    }
    done = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def eventually(read: Callable[[], T], ok: Callable[[T], bool], timeout: float = 30) -> T:
    """``read()`` once ``ok`` of it holds (the server applies writes in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if ok(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


@pytest.fixture(params=STORE_KINDS)
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    directory = tmp_path / "data"
    with run_server(directory, store=store_url(request.param, directory)) as running:
        yield running


def run_suite(served: Server, repo: Path, suite_name: str, run: int) -> tuple[str, str]:
    """Commit, then run the suite as CI does; the commit's sha and pytest's output."""
    (repo / "CHANGES").write_text(f"run {run}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", f"change {run}")
    env = {
        **command_env(repo),
        "LANGSMITH_ENDPOINT": served.url,
        "LANGSMITH_API_KEY": served.key,
        "LANGSMITH_TEST_SUITE": suite_name,
        "LANGSMITH_TRACING": "true",
        "SUITE_OWNER": f"run-{run}",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_suite.py"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    # One test fails on purpose; the suite itself (and the plugin's session end) must not.
    assert done.returncode == 1, output
    assert "1 failed, 3 passed" in output, output
    # Nothing the plugin sent was refused (the SDK logs such failures and goes on).
    assert "Failed to" not in output and "LangSmith" not in output, output
    return git(repo, "rev-parse", "HEAD"), output


def test_three_ci_runs_make_three_complete_experiments(served: Server, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    (repo / "test_suite.py").write_text(textwrap.dedent(SUITE))
    suite_name = unique("ci-suite")
    shas = [run_suite(served, repo, suite_name, run)[0] for run in range(1, RUNS + 1)]

    client = served.sdk()
    datasets = list(client.list_datasets(dataset_name=suite_name))
    assert len(datasets) == 1
    dataset = datasets[0]

    # Examples: one per test case, updated in place (the owner of the last run), with
    # their splits where the plugin reads them.
    examples = list(client.list_examples(dataset_id=dataset.id))
    assert len(examples) == 4
    by_kind = {("n" in e.inputs): e for e in examples}
    doubles = [e for e in examples if "n" in e.inputs]
    assert sorted(e.inputs["n"] for e in doubles) == [1, 2, 3]
    assert all(e.metadata == {"owner": f"run-{RUNS}", "dataset_split": ["smoke"]} for e in doubles)
    assert by_kind[False].metadata == {"dataset_split": ["base"]}
    assert by_kind[False].outputs == {"answer": 42}
    example_ids = {e.id for e in examples}

    experiments = list(client.list_projects(reference_dataset_id=dataset.id))
    assert len(experiments) == RUNS
    for experiment in experiments:
        roots = eventually(
            lambda e=experiment: list(client.list_runs(project_id=e.id, is_root=True)),
            lambda runs: len(runs) == 4 and all(r.end_time for r in runs),
        )
        assert len(roots) == 4, experiment.name
        for root in roots:
            assert root.end_time is not None and root.end_time >= root.start_time
            assert root.reference_example_id in example_ids
            assert root.outputs in ({"double": 2}, {"double": 4}, {"double": 6}, {"answer": 41})
        assert {r.reference_example_id for r in roots} == example_ids
        run_ids = [r.id for r in roots]
        feedback = eventually(
            lambda ids=run_ids: list(client.list_feedback(run_ids=ids)),
            lambda found: len(found) == 8,
        )
        scores = sorted((f.key, f.score) for f in feedback)
        assert scores == [
            *[("closeness", 0.5)],
            *[("closeness", 1.0)] * 3,
            ("pass", 0),
            *[("pass", 1)] * 3,
        ], experiment.name
        assert experiment.metadata["__ls_runner"] == "pytest"
        assert experiment.metadata["dataset_version"]

    # The plugin's tags: each run's commit at that run's version, the branch at the last.
    tags = {
        tag: version.as_of
        for version in client.list_dataset_versions(dataset_id=dataset.id)
        for tag in version.tags or []
    }
    assert set(tags) == {*(f"git:commit:{sha}" for sha in shas), "git:branch:main"}
    assert tags["git:branch:main"] == tags[f"git:commit:{shas[-1]}"]
    assert len({tags[f"git:commit:{sha}"] for sha in shas}) == RUNS
    # Each run's examples are readable as they were then.
    for run, sha in enumerate(shas, start=1):
        then = client.list_examples(dataset_id=dataset.id, as_of=f"git:commit:{sha}")
        owners = {e.metadata.get("owner") for e in then if "n" in e.inputs}
        assert owners == {f"run-{run}"}
