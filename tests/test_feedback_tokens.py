"""Presigned feedback tokens through the SDK, on both stores: a token made for a run and a
key takes feedback at its URL without an API key, until it expires, and that feedback
counts in a delta like any other."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from langsmith.utils import LangSmithError

from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.delta_seed import (
    create_dataset,
    create_examples,
    create_experiment,
    delta,
    post_runs,
    run_post,
)


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    data = tmp_path_factory.mktemp(f"tokens-{request.param}") / "data"
    with run_server(data, store=store_url(request.param, data)) as server:
        yield server


def _experiment_pair(http: httpx.Client) -> dict[str, Any]:
    """A dataset of two examples and two experiments over it, one run per example each."""
    dataset = create_dataset(http)
    now = datetime.now(UTC)
    examples = create_examples(http, dataset, [now, now + timedelta(seconds=1)])
    sessions = [create_experiment(http, dataset) for _ in range(2)]
    runs = {
        (s, e["id"]): run_post({"session_id": s}, e["id"], start=now)
        for s in sessions
        for e in examples
    }
    post_runs(http, list(runs.values()))
    return {"dataset": dataset, "examples": examples, "sessions": sessions, "runs": runs}


def test_a_token_url_takes_feedback_without_a_key_and_it_counts_in_the_delta(
    served: Server,
) -> None:
    sdk = served.sdk()
    with served.http() as http:
        world = _experiment_pair(http)
        baseline, candidate = world["sessions"]
        first, second = (e["id"] for e in world["examples"])
        for example in (first, second):
            run = world["runs"][(baseline, example)]
            sdk.create_feedback(run["id"], "helpful", score=0.5, session_id=baseline)
        # The candidate's feedback comes from people holding token URLs, not the API key.
        up = sdk.create_presigned_feedback_token(world["runs"][(candidate, first)]["id"], "helpful")
        down = sdk.create_presigned_feedback_token(
            world["runs"][(candidate, second)]["id"], "helpful"
        )
        assert up.url == f"{served.url}/feedback/tokens/{up.id}"
        assert up.expires_at - datetime.now(UTC) > timedelta(hours=2, minutes=59)
        answered = httpx.get(up.url, params={"score": 1})  # no API key at all
        assert answered.status_code == 200, answered.text
        sdk.create_feedback_from_token(down.url, 0, comment="wrong")
        lists = delta(http, world["dataset"], baseline, [candidate], "helpful")
        assert lists[candidate] == {"improved_examples": [first], "regressed_examples": [second]}

        left = {
            str(f.run_id): f
            for f in sdk.list_feedback(
                run_ids=[r["id"] for r in world["runs"].values()], feedback_key=["helpful"]
            )
        }
        by_token = left[world["runs"][(candidate, second)]["id"]]
        assert by_token.score == 0
        assert by_token.comment == "wrong"
        assert by_token.feedback_source is not None and by_token.feedback_source.type == "api"


def test_the_sdk_feedback_id_is_kept_and_a_second_use_replaces_the_first(served: Server) -> None:
    sdk = served.sdk()
    run_id = uuid4()
    feedback_id = uuid4()
    token = sdk.create_presigned_feedback_token(run_id, "thumbs", feedback_id=feedback_id)
    sdk.create_feedback_from_token(token.url, 1, metadata={"user": "ann"})
    sdk.create_feedback_from_token(token.id, 0)  # the token itself, as the SDK allows
    read = sdk.read_feedback(feedback_id)
    assert read.score == 0
    assert len(list(sdk.list_feedback(run_ids=[run_id]))) == 1


def test_tokens_are_made_in_batches_and_listed_without_their_secret(served: Server) -> None:
    sdk = served.sdk()
    run_id = uuid4()
    made = sdk.create_presigned_feedback_tokens(
        run_id, ["a", "b"], expiration=timedelta(days=1, hours=2, minutes=3)
    )
    assert len(made) == 2
    for token in made:
        left = token.expires_at - datetime.now(UTC)
        assert timedelta(days=1, hours=2) < left <= timedelta(days=1, hours=2, minutes=3)
    listed = list(sdk.list_presigned_feedback_tokens(run_id))
    assert sorted(t.expires_at for t in listed) == sorted(t.expires_at for t in made)
    secrets = {str(t.id) for t in made}
    for token in listed:
        assert str(token.id) not in secrets and not any(s in token.url for s in secrets)
        assert token.url.endswith("/feedback/tokens/{token}")
    assert list(sdk.list_presigned_feedback_tokens(uuid4())) == []
    # Another tenant's key lists nothing of this run.
    assert list(served.sdk("beta").list_presigned_feedback_tokens(run_id)) == []


def test_the_url_follows_the_prefix_the_token_was_made_under(served: Server) -> None:
    sdk = served.sdk(prefix="/api/v1")
    token = sdk.create_presigned_feedback_token(
        uuid4(), "k", expiration=datetime.now(UTC) + timedelta(minutes=5)
    )
    assert token.url == f"{served.url}/api/v1/feedback/tokens/{token.id}"
    assert httpx.post(token.url, json={"score": True}).status_code == 200


def test_unknown_and_expired_tokens_are_refused(served: Server) -> None:
    unknown = httpx.get(f"{served.url}/feedback/tokens/{uuid4()}", params={"score": 1})
    assert unknown.status_code == 404
    assert unknown.json() == {"detail": "Feedback token not found"}
    ends = datetime.now(UTC) + timedelta(seconds=2)
    short = served.sdk().create_presigned_feedback_token(uuid4(), "k", expiration=ends)
    assert httpx.get(short.url, params={"score": 1}).status_code == 200
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.1)
    gone = httpx.get(short.url, params={"score": 1})
    assert gone.status_code == 410
    assert gone.json() == {"detail": "This feedback token has expired"}
    with pytest.raises(LangSmithError):
        served.sdk().create_feedback_from_token(short.url, 1)


def test_a_score_the_token_config_does_not_allow_is_refused(served: Server) -> None:
    sdk = served.sdk()
    token = sdk.create_presigned_feedback_token(
        uuid4(), "stars", feedback_config={"type": "continuous", "min": 1, "max": 5}
    )
    too_high = httpx.get(token.url, params={"score": 6})
    assert too_high.status_code == 422
    assert too_high.json()["detail"][0]["loc"] == ["body", "score"]
    assert httpx.get(token.url, params={"score": 4}).status_code == 200
    labels = sdk.create_presigned_feedback_token(
        uuid4(),
        "verdict",
        feedback_config={
            "type": "categorical",
            "categories": [{"value": 0, "label": "no"}, {"value": 1, "label": "yes"}],
        },
    )
    assert httpx.get(labels.url, params={"score": 0.5}).status_code == 422
    assert httpx.get(labels.url, params={"score": 1}).status_code == 200


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        (
            {"expires_in": {"hours": 1}, "expires_at": "2099-01-01T00:00:00Z"},
            ["body", "expires_at"],
        ),
        ({"expires_at": "2000-01-01T00:00:00Z"}, ["body", "expires_at"]),
        ({"expires_in": {"days": -1}}, ["body", "FeedbackTokenCreate", "expires_in", "days"]),
    ],
)
def test_an_impossible_expiry_is_a_422_naming_it(
    served: Server, body: dict[str, Any], loc: list[str]
) -> None:
    with served.http() as http:
        answer = http.post(
            "/feedback/tokens", json={"run_id": str(uuid4()), "feedback_key": "k", **body}
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == loc


def test_the_store_keeps_no_secret(served: Server) -> None:
    token = served.sdk().create_presigned_feedback_token(uuid4(), "k")
    store = served.app.state.store
    found = store._list.rows("SELECT * FROM feedback_tokens", [])
    assert found
    assert all(str(token.id) not in str(row) for row in found)
