"""``evaldelta ci``: the gate as a CI step, what the GitHub Action runs (docs/ci.md).

It runs ``gate``'s comparison and checks, appends the Markdown report to the step summary
(``$GITHUB_STEP_SUMMARY``), and on a pull request posts it as one comment that later runs
update in place (found by a hidden marker).  Every option also reads an environment
variable, so the action passes its inputs without building a command line.  Exit codes are
``gate``'s: 0 passed, 1 failed, 2 usage or connection error.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from evaldelta.cli.common import client_for, err, fail, out
from evaldelta.cli.compare import check_threshold_keys, per_key, run_comparison
from evaldelta.cli.github import DEFAULT_API, GitHub
from evaldelta.cli.junit import write_junit
from evaldelta.cli.options import cannot_write
from evaldelta.cli.regressed import load_excerpts
from evaldelta.cli.report import Thresholds, gate_failures, markdown, table
from evaldelta.client.http import ApiError


def _opt(flag: str, env: str, help: str, metavar: str | None = None) -> Any:
    """An option that also reads environment variable ``env`` (help shows its name)."""
    return typer.Option(flag, envvar=env, help=help + ".", metavar=metavar)


Many = list[str] | None


def marker(dataset: str) -> str:
    """The hidden line that finds this gate's comment again (one per dataset)."""
    return f"<!-- evaldelta-ci dataset={json.dumps(dataset)} -->"


def pull_request_number(event_path: str | None) -> int | None:
    """The pull request of the workflow's event file (``$GITHUB_EVENT_PATH``), if any."""
    if not event_path or not Path(event_path).is_file():
        return None
    event = json.loads(Path(event_path).read_text(encoding="utf-8"))
    number = (event.get("pull_request") or {}).get("number") or event.get("number")
    return int(number) if isinstance(number, int) else None


def ci(
    dataset: Annotated[
        str, _opt("--dataset", "EVALDELTA_DATASET", "Dataset name or id", "NAME_OR_ID")
    ],
    against: Annotated[
        Many,
        _opt(
            "--against",
            "EVALDELTA_AGAINST",
            "Experiment under test, name or id; repeatable, whitespace-separated in the env",
            "EXPERIMENT",
        ),
    ] = None,
    baseline: Annotated[
        str | None, _opt("--baseline", "EVALDELTA_BASELINE", "Baseline, name or id", "EXPERIMENT")
    ] = None,
    baseline_branch: Annotated[
        str | None,
        _opt(
            "--baseline-from",
            "EVALDELTA_BASELINE_FROM",
            "Baseline: the newest experiment that ran on this branch (only when no "
            "--baseline is given)",
            "BRANCH",
        ),
    ] = None,
    key: Annotated[Many, _opt("--key", "EVALDELTA_KEYS", "Feedback keys", "KEY")] = None,
    alpha: Annotated[
        float, _opt("--alpha", "EVALDELTA_ALPHA", "Significance level, Holm-adjusted")
    ] = 0.05,
    max_regressed: Annotated[
        Many,
        _opt("--max-regressed", "EVALDELTA_MAX_REGRESSED", "Fail above N regressed", "N|KEY=N"),
    ] = None,
    min_mean_delta: Annotated[
        Many,
        _opt(
            "--min-mean-delta",
            "EVALDELTA_MIN_MEAN_DELTA",
            "Fail when the better-signed mean change is below X",
            "X|KEY=X",
        ),
    ] = None,
    fail_on_missing: Annotated[
        bool,
        _opt("--fail-on-missing", "EVALDELTA_FAIL_ON_MISSING", "Fail on one-sided examples"),
    ] = False,
    fail_on_errors: Annotated[
        bool,
        _opt("--fail-on-errors", "EVALDELTA_FAIL_ON_ERRORS", "Fail on errored evaluations"),
    ] = False,
    junit: Annotated[
        Path | None, _opt("--junit", "EVALDELTA_JUNIT", "Write a JUnit XML report", "FILE")
    ] = None,
    endpoint: Annotated[
        str | None, _opt("--endpoint", "LANGSMITH_ENDPOINT", "evaldelta server URL", "URL")
    ] = None,
    api_key: Annotated[
        str | None, _opt("--api-key", "LANGSMITH_API_KEY", "evaldelta API key", "KEY")
    ] = None,
    page_url: Annotated[
        str | None,
        _opt("--page-url", "EVALDELTA_PAGE_URL", "Public URL of the page for links", "URL"),
    ] = None,
    summary: Annotated[
        Path | None,
        _opt("--summary", "GITHUB_STEP_SUMMARY", "Append the Markdown report here", "FILE"),
    ] = None,
    comment: Annotated[
        bool,
        _opt("--comment/--no-comment", "EVALDELTA_COMMENT", "Comment on the pull request"),
    ] = True,
    pr: Annotated[
        int | None,
        _opt("--pr", "EVALDELTA_PR", "Pull request number (default: from the event)", "N"),
    ] = None,
    repository: Annotated[
        str | None, _opt("--repository", "GITHUB_REPOSITORY", "OWNER/NAME", "OWNER/NAME")
    ] = None,
    github_api: Annotated[
        str, _opt("--github-api", "GITHUB_API_URL", "GitHub REST API base URL", "URL")
    ] = DEFAULT_API,
    github_token: Annotated[
        str | None,
        _opt("--github-token", "GITHUB_TOKEN", "Token allowed to comment", "TOKEN"),
    ] = None,
) -> None:
    """Gate a pull request's experiment in CI: step summary, one updated PR comment."""
    limits = Thresholds(
        alpha=alpha,
        max_regressed=per_key(max_regressed, int, "--max-regressed"),
        min_mean_delta=per_key(min_mean_delta, float, "--min-mean-delta"),
        fail_on_missing=fail_on_missing,
        fail_on_errors=fail_on_errors,
    )
    if baseline:
        baseline_branch = None  # an explicit baseline wins (the action always sends a branch)
    client = client_for(endpoint, api_key)
    try:
        result = run_comparison(
            client,
            dataset,
            baseline,
            against,
            key,
            None,
            alpha,
            False,
            examples=True,
            baseline_branch=baseline_branch,
        )
        if page_url:
            result.page_url = page_url
        load_excerpts(client, result)
    except ApiError as exc:
        raise fail(exc) from exc
    finally:
        client.close()
    check_threshold_keys(result, limits)
    reasons = gate_failures(result, limits)
    report = f"{marker(result.dataset)}\n{markdown(result, reasons)}"
    out.print(table(result))
    try:
        if junit is not None:
            write_junit(result, limits, junit)
        if summary is not None:
            with summary.open("a", encoding="utf-8") as f:
                f.write(report + "\n")
    except OSError as exc:
        raise cannot_write(exc) from exc
    number = pr if pr is not None else pull_request_number(os.environ.get("GITHUB_EVENT_PATH"))
    if comment:
        _comment(report, result.dataset, number, repository, github_api, github_token)
    if reasons:
        err.print("[bold red]GATE FAILED[/bold red]")
        for reason in reasons:
            err.print(Text(f"  ✗ {reason}"))
        raise typer.Exit(1)
    err.print("[bold green]GATE PASSED[/bold green]")


def _comment(
    report: str,
    dataset: str,
    number: int | None,
    repository: str | None,
    api: str,
    token: str | None,
) -> None:
    """Post or update the pull request's comment; say why when there is none to post.  A
    comment that cannot be posted (a fork's read-only token) is reported, and the gate's
    own outcome still decides the exit code."""
    missing = [
        name
        for name, value in (("the pull request number", number), ("GITHUB_REPOSITORY", repository))
        if value is None
    ] + (["GITHUB_TOKEN"] if not token else [])
    if missing:
        err.print(Text(f"no pull-request comment: missing {', '.join(missing)}", style="dim"))
        return
    if number is None or repository is None or token is None:  # said above; for mypy
        return
    try:
        github = GitHub(token, repository, api)
        try:
            action, found = github.upsert_comment(number, marker(dataset), report)
        finally:
            github.close()
    except ApiError as exc:
        err.print(Text(f"warning: the pull-request comment failed: {exc.message}", style="yellow"))
        return
    err.print(Text(f"{action} comment {found.get('html_url') or found.get('id')}", style="dim"))
