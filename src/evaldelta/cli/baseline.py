"""``gate --baseline-from BRANCH``: the newest experiment on the dataset that ran on a branch.

Where the branch is recorded: the SDK's ``evaluate()`` puts git information under the
experiment's ``metadata.git`` (``branch``, ``commit``, …); its pytest plugin puts the same
fields at the top of ``metadata``.  Either is read; a top-level ``branch`` comes first (the
plugin's, or one a team sets with ``evaluate(metadata=...)`` where CI checks out a
detached commit, which git reports as branch ``HEAD``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from evaldelta.client.http import ApiError, Client


def recorded_branch(session: dict[str, Any]) -> str | None:
    """The branch an experiment's metadata says it ran on, if any."""
    metadata = (session.get("extra") or {}).get("metadata") or {}
    if not isinstance(metadata, dict):
        return None
    git = metadata.get("git")
    # A top-level ``branch`` first: the pytest plugin's, or one a team set on purpose.
    for branch in (metadata.get("branch"), git.get("branch") if isinstance(git, dict) else None):
        if isinstance(branch, str) and branch and branch != "HEAD":
            return branch
    return None


def newest_on_branch(
    sessions: Iterable[dict[str, Any]], branch: str, exclude: Iterable[str] = ()
) -> dict[str, Any] | None:
    """The first session (they come newest first) recorded on ``branch``, skipping the
    ids and names in ``exclude`` (the experiments being compared)."""
    skip = set(exclude)
    for session in sessions:
        if str(session["id"]) in skip or session.get("name") in skip:
            continue
        if recorded_branch(session) == branch:
            return session
    return None


def baseline_from(client: Client, dataset: dict[str, Any], branch: str, against: list[str]) -> str:
    """The id of the newest experiment on ``dataset`` that ran on ``branch``, not one of
    ``against``; an error naming the branch when there is none."""
    found = newest_on_branch(client.experiments(str(dataset["id"])), branch, against)
    if found is None:
        raise ApiError(
            f"no experiment on dataset {dataset['name']!r} records that it ran on branch "
            f"{branch!r} (metadata git.branch or branch); run the evaluation on {branch} "
            "first, or name the baseline with --baseline",
            404,
        )
    return str(found["id"])
