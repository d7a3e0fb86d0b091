"""The CI gate teams drop in: ``gate --baseline-from``, ``evaldelta ci`` and ``action.yml``.

Experiments are made by the real SDK's ``evaluate()`` in a subprocess that runs inside
throwaway git repositories, so the git information is what the SDK itself records: two
runs on branch ``main`` (the older scoring 0 everywhere, a decoy) and a newer one on
branch ``feature``, the pull request's.  ``evaldelta ci`` runs as the action runs it (a
subprocess whose environment is the action's ``Gate`` step, read from ``action.yml``)
against a real server and a local fake of GitHub's comment endpoints.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse
from xml.etree import ElementTree as ET

import pytest
import typer.main
import yaml

from evaldelta.cli.baseline import newest_on_branch, recorded_branch
from evaldelta.cli.main import app
from tests.conftest import Server, run_server
from tests.support.fake_github import FakeGitHub, fake_github

pytestmark = pytest.mark.sdk

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "ghs_fake_token_that_must_never_be_printed"
REPOSITORY = "acme/agent"
PR = 7
# n = 0..5; the pull request loses example 5 against the newest main run.
PLAN = [
    ("main", "main-old", [0.0] * 6),
    ("main", "main-new", [1.0] * 6),
    ("feature", "pr", [1.0, 1.0, 1.0, 1.0, 1.0, 0.0]),
]

SEED = textwrap.dedent(
    """
    import json, os, sys
    from langsmith import Client, env
    url, key, dataset, plan = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    client = Client(api_url=url, api_key=key)
    names = {}
    for repo, prefix, scores in plan:
        os.chdir(repo)
        env.get_git_info.cache_clear()  # the SDK caches what git said
        def judge(inputs, scores=scores):
            return {"key": "judge", "score": scores[inputs["n"]]}
        result = client.evaluate(
            lambda inputs: inputs, data=dataset, evaluators=[judge], experiment_prefix=prefix
        )
        names[prefix] = result.experiment_name
    client.flush()
    print(json.dumps(names))
    """
)


def git_repo(path: Path, branch: str) -> Path:
    path.mkdir()
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", "-C", str(path)]
    subprocess.run([*git, "init", "-q", "-b", branch], check=True)
    (path / "README").write_text("x\n")
    subprocess.run([*git, "add", "README"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "x"], check=True)
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("ci")
    with run_server(tmp / "data") as server:
        client = server.sdk()
        dataset = client.create_dataset("agent-evals")
        client.create_examples(
            dataset_id=dataset.id, examples=[{"inputs": {"n": n}} for n in range(6)]
        )
        repos = {b: git_repo(tmp / f"repo-{b}", b) for b in ("main", "feature")}
        plan = [[str(repos[b]), prefix, scores] for b, prefix, scores in PLAN]
        done = subprocess.run(
            [sys.executable, "-c", SEED, server.url, server.key, dataset.name, json.dumps(plan)],
            capture_output=True,
            text=True,
            timeout=120,
            env={k: v for k, v in os.environ.items() if not k.startswith("LANGSMITH_")},
        )
        assert done.returncode == 0, done.stderr
        names = json.loads(done.stdout.strip().splitlines()[-1])
        examples = {e.inputs["n"]: str(e.id) for e in client.list_examples(dataset_id=dataset.id)}
        ids = {p: str(client.read_project(project_name=n).id) for p, n in names.items()}
        yield {"server": server, "names": names, "ids": ids, "examples": examples, "tmp": tmp}


def test_the_sdk_records_the_branch_where_the_gate_reads_it(world: dict[str, Any]) -> None:
    client = world["server"].sdk()
    project = client.read_project(project_id=world["ids"]["main-new"])
    assert project.metadata["git"]["branch"] == "main"
    assert recorded_branch({"extra": {"metadata": project.metadata}}) == "main"


def test_pytest_plugin_and_detached_checkouts() -> None:
    # The pytest plugin spreads git's fields at the top of the metadata.
    assert recorded_branch({"extra": {"metadata": {"branch": "main", "commit": "abc"}}}) == "main"
    # A detached checkout says "HEAD": that is no branch.
    detached = {"extra": {"metadata": {"git": {"branch": "HEAD"}}}}
    assert recorded_branch(detached) is None
    sessions = [
        {"id": "1", "name": "pr", "extra": {"metadata": {"branch": "main"}}},
        {"id": "2", "name": "older", "extra": {"metadata": {"git": {"branch": "main"}}}},
    ]
    assert newest_on_branch(sessions, "main")["id"] == "1"  # type: ignore[index]
    assert newest_on_branch(sessions, "main", exclude=["pr"])["id"] == "2"  # type: ignore[index]


def cli(server: Server, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("LANGSMITH_", "GITHUB_"))}
    return subprocess.run(
        [sys.executable, "-m", "evaldelta.cli.main", *args],
        env={**clean, "LANGSMITH_ENDPOINT": server.url, "LANGSMITH_API_KEY": server.key, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_gate_baseline_from_main_takes_the_newest_main_run(world: dict[str, Any]) -> None:
    names = world["names"]
    done = cli(
        world["server"],
        "gate",
        "--dataset",
        "agent-evals",
        "--baseline-from",
        "main",
        "--against",
        names["pr"],
        "--json",
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["baseline"] == names["main-new"]
    assert f"baseline: {names['main-new']}, the newest experiment on main" in done.stderr
    (row,) = data["rows"]
    assert (row["n_regressed"], row["n_unchanged"], row["n_improved"]) == (1, 5, 0)


def test_gate_baseline_from_a_branch_without_runs_says_so(world: dict[str, Any]) -> None:
    args = ["gate", "--dataset", "agent-evals", "--against", world["names"]["pr"]]
    done = cli(world["server"], *args, "--baseline-from", "release")
    assert done.returncode == 2
    assert "no experiment on dataset 'agent-evals' records that it ran on branch 'release'" in (
        " ".join(done.stderr.split())
    )
    both = cli(world["server"], *args, "--baseline-from", "main", "--baseline", "x")
    said = " ".join(both.stderr.replace("│", " ").split())
    assert both.returncode == 2 and "give --baseline or --baseline-from, not both" in said


# --- the action ---------------------------------------------------------------------------


def action() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "action.yml").read_text()))


def gate_step() -> dict[str, Any]:
    (step,) = [s for s in action()["runs"]["steps"] if s.get("name") == "Gate"]
    return dict(step)


def ci_envvars() -> set[str]:
    command = typer.main.get_command(app).commands["ci"]  # type: ignore[attr-defined]
    return {p.envvar for p in command.params if p.envvar}


def test_action_yml_runs_evaldelta_ci_with_every_input() -> None:
    spec = action()
    assert spec["runs"]["using"] == "composite"
    steps = spec["runs"]["steps"]
    assert steps[0]["uses"].startswith("actions/setup-python@")
    assert "pip install" in steps[1]["run"]
    step = gate_step()
    assert step["run"].strip() == "evaldelta ci"
    # Every input reaches a step, and the Gate step's variables are all options of ci.
    text = yaml.safe_dump(steps)
    for name in spec["inputs"]:
        assert f"inputs.{name}" in text, name
    assert set(step["env"]) <= ci_envvars()
    # Inputs are passed through the environment, never spliced into the script.
    assert "${{" not in step["run"] and "${{" not in steps[1]["run"]


def action_env(inputs: dict[str, str]) -> dict[str, str]:
    """The Gate step's environment for these inputs (defaults from action.yml), as the
    runner would build it."""
    spec = action()
    given = {name: str(v.get("default", "")) for name, v in spec["inputs"].items()} | inputs
    pattern = re.compile(r"^\$\{\{ inputs\.([a-z-]+) \}\}$")
    env = {}
    for name, expr in gate_step()["env"].items():
        match = pattern.match(expr)
        assert match, expr
        env[name] = given[match.group(1)]
    return env


def run_action(
    world: dict[str, Any], github: FakeGitHub, summary: Path, **inputs: str
) -> subprocess.CompletedProcess[str]:
    server: Server = world["server"]
    event = world["tmp"] / "event.json"
    event.write_text(json.dumps({"pull_request": {"number": PR}}))
    env = action_env(
        {
            "endpoint": server.url,
            "api-key": server.key,
            "dataset": "agent-evals",
            "against": world["names"]["pr"],
            "github-token": TOKEN,
            **inputs,
        }
    )
    runner = {
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": github.url,
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_EVENT_PATH": str(event),
    }
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LANGSMITH_", "GITHUB_", "EVALDELTA_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "evaldelta.cli.main", "ci"],
        env={**clean, **runner, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_action_comments_once_then_updates_that_comment(
    world: dict[str, Any], tmp_path: Path
) -> None:
    names, ids = world["names"], world["ids"]
    summary, junit = tmp_path / "summary.md", tmp_path / "gate.xml"
    with fake_github(TOKEN, REPOSITORY) as github:
        github.add(PR, "Nice work! (someone else's comment)")
        first = run_action(world, github, summary, junit=str(junit))
        assert first.returncode == 0, first.stderr
        (ours,) = [c for c in github.comments[PR] if "evaldelta-ci" in c["body"]]
        assert len(github.comments[PR]) == 2
        assert "**Gate: passed**" in ours["body"]
        assert f"against `{names['main-new']}`" in ours["body"]
        # The top regressed example: its inputs and a link into the page's drill-down.
        (link,) = re.findall(r"\[`\{\"n\":5\}`\]\(([^)]+)\)", ours["body"])
        url = urlparse(link)
        assert f"{url.scheme}://{url.netloc}" == world["server"].url and url.path == "/ui"
        query = parse_qs(url.query)
        assert query["baseline"] == [ids["main-new"]] and query["compare"] == [ids["pr"]]
        assert query["open"] == [f"regressed:{ids['pr']}:judge"]
        assert query["example"] == [world["examples"][5]]
        cases = ET.parse(junit).getroot().findall("./testsuite/testcase")
        assert [(c.get("name"), c.find("failure")) for c in cases] == [
            (f"judge in {names['pr']}", None)
        ]

        second = run_action(world, github, summary, junit=str(junit), **{"max-regressed": "0"})
        assert second.returncode == 1, second.stderr
        assert len(github.comments[PR]) == 2
        (again,) = [c for c in github.comments[PR] if "evaldelta-ci" in c["body"]]
        assert again["id"] == ours["id"]
        assert "**Gate: failed**" in again["body"]
        assert "1 examples regressed (allowed: 0)" in again["body"]
        methods = [m for m, _ in github.requests]
        assert methods.count("POST") == 1 and methods.count("PATCH") == 1
        (failed,) = ET.parse(junit).getroot().findall("./testsuite/testcase")
        failure = failed.find("failure")
        assert failure is not None and "allowed: 0" in (failure.get("message") or "")
    reports = summary.read_text()
    assert reports.count("evaldelta-ci dataset=") == 2 and "**Gate: passed**" in reports
    for done in (first, second):
        assert TOKEN not in done.stdout + done.stderr


def test_a_comment_github_refuses_is_reported_and_the_gate_still_decides(
    world: dict[str, Any], tmp_path: Path
) -> None:
    with fake_github("another-token", REPOSITORY) as github:
        done = run_action(world, github, tmp_path / "summary.md")
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stderr.split())
    assert "warning: the pull-request comment failed" in said and "401" in said
    assert TOKEN not in done.stdout + done.stderr
    assert github.comments == {}


def test_outside_a_pull_request_ci_says_why_it_does_not_comment(
    world: dict[str, Any], tmp_path: Path
) -> None:
    with fake_github(TOKEN, REPOSITORY) as github:
        (world["tmp"] / "event.json").unlink(missing_ok=True)
        env = {"GITHUB_REPOSITORY": REPOSITORY, "GITHUB_API_URL": github.url}
        done = cli(
            world["server"],
            "ci",
            "--dataset",
            "agent-evals",
            "--against",
            world["names"]["pr"],
            "--baseline-from",
            "main",
            **env,
        )
    assert done.returncode == 0, done.stderr
    assert "no pull-request comment: missing the pull request number, GITHUB_TOKEN" in " ".join(
        done.stderr.split()
    )
    assert github.requests == []
