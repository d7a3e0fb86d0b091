"""Feedback deltas over HTTP: ``/runs/delta`` and ``/runs/delta/stream`` on a real server.

Every expected answer comes from ``tests/delta_reference.py`` fed with what the API itself
returns for examples, root runs and feedback, never from hard-coded lists: the data is
written once by the real SDK's ``evaluate()`` and once through plain httpx (faster, for
the 160-example paging test), read back, and the endpoints must agree with the reference
on it.  Validation and tenant isolation are checked here too; the streaming behaviour
(incremental delivery, disconnects, in-band errors) is in ``test_delta_stream.py``.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from langsmith.run_helpers import get_current_run_tree

from tests.conftest import Server
from tests.support.delta_seed import (
    Lists,
    RunFilter,
    World,
    all_pages,
    create_dataset,
    create_examples,
    create_experiment,
    declare_lower_is_better,
    delta,
    feedback,
    flipped,
    nonempty,
    ok,
    post_feedback_multipart,
    post_runs,
    read_world,
    run_post,
    stream,
    unique,
)

# --- end to end with the SDK's evaluate() -----------------------------------------------------

N_EXAMPLES = 8
E2E_KEYS = ["quality", "exact", "error_size", "label", "broken", "never_used"]


class Target:
    """A target whose answer depends on the example and on which repetition this is; it
    tags its root run ``rep<i>`` and records the example's parity in the run's metadata."""

    def __init__(self, wrong_by: Callable[[int, int], int]) -> None:
        self.wrong_by = wrong_by
        self.calls: dict[int, int] = {}
        self.lock = threading.Lock()

    def __call__(self, inputs: dict[str, Any]) -> dict[str, Any]:
        n = inputs["n"]
        with self.lock:
            rep = self.calls.get(n, 0)
            self.calls[n] = rep + 1
        run = get_current_run_tree()
        assert run is not None
        run.add_tags([f"rep{rep}"])
        run.add_metadata({"parity": "even" if n % 2 == 0 else "odd"})
        return {"answer": 2 * n + self.wrong_by(n, rep)}


def quality(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> dict[str, Any]:
    off = abs(outputs["answer"] - reference_outputs["answer"])
    return {"key": "quality", "score": max(0.0, 1 - off / 4)}


def exact(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> bool:
    return bool(outputs["answer"] == reference_outputs["answer"])


def error_size(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> dict[str, Any]:
    return {"key": "error_size", "score": abs(outputs["answer"] - reference_outputs["answer"])}


def label(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"key": "label", "value": "even" if outputs["answer"] % 2 == 0 else "odd"}


def broken(outputs: dict[str, Any]) -> dict[str, Any]:
    raise RuntimeError("evaluator exploded")


def summary_quality(outputs: list[Any], reference_outputs: list[Any]) -> dict[str, Any]:
    """Experiment-level feedback under a per-example key: it must never count."""
    return {"key": "quality", "score": 100.0}


@pytest.fixture(scope="module")
def e2e(shared_server: Server) -> Iterator[dict[str, Any]]:
    """A dataset and three experiments written by the real SDK's evaluate()."""
    client = shared_server.sdk()
    dataset = client.create_dataset(unique("e2e"))
    client.create_examples(
        dataset_id=dataset.id,
        examples=[{"inputs": {"n": n}, "outputs": {"answer": 2 * n}} for n in range(N_EXAMPLES)],
    )
    targets = {
        # odd examples off by one; example 4 right on the first repetition only
        "baseline": (Target(lambda n, rep: n % 2 + (2 * rep if n == 4 else 0)), 2),
        # every odd example fixed; 6 broken; 2 wrong on the third repetition only
        "fix": (Target(lambda n, rep: 3 * (n == 6) + 4 * (n == 2 and rep == 2)), 3),
        # right on the first repetition, off by n % 3 on the second
        "flaky": (Target(lambda n, rep: (n % 3) * rep), 2),
    }
    sessions = {}
    for prefix, (target, repetitions) in targets.items():
        results = client.evaluate(
            target,
            data=dataset.name,
            experiment_prefix=prefix,
            num_repetitions=repetitions,
            evaluators=[quality, exact, error_size, label, broken],
            summary_evaluators=[summary_quality],
        )
        sessions[prefix] = str(client.read_project(project_name=results.experiment_name).id)
    client.flush()
    with shared_server.http() as http:
        world = read_world(http, str(dataset.id), list(sessions.values()))
    assert len(world.examples) == N_EXAMPLES
    assert len([r for r in world.runs if r.is_root]) == N_EXAMPLES * (2 + 3 + 2)
    yield {"dataset": str(dataset.id), "world": world, **sessions}


def test_sdk_written_data_as_the_sdk_wrote_it(e2e: dict[str, Any]) -> None:
    """The reference is fed what the SDK really produced: repetitions, tags, metadata,
    null scores for categorical and failing evaluators, booleans, summary feedback."""
    world: World = e2e["world"]
    keys = {f.key for f in world.feedback}
    assert keys == {"quality", "exact", "error_size", "label", "broken"}
    assert {f.score for f in world.feedback if f.key in ("label", "broken")} == {None}
    assert {type(f.score) for f in world.feedback if f.key == "exact"} == {bool}
    assert [f for f in world.feedback if f.run_id is None and f.key == "quality"]
    flaky = [r for r in world.runs if r.session_id == UUID(e2e["flaky"])]
    tags = sorted(t for r in flaky for t in r.fields["tags"])
    assert tags == ["rep0"] * N_EXAMPLES + ["rep1"] * N_EXAMPLES
    assert all(r.fields["metadata"]["parity"] in ("even", "odd") for r in flaky)


@pytest.mark.parametrize("prefix", ["/api/v1", ""])
def test_sdk_experiments_match_reference(
    shared_server: Server, e2e: dict[str, Any], prefix: str
) -> None:
    world: World = e2e["world"]
    baseline = e2e["baseline"]
    comparisons = [e2e["fix"], e2e["flaky"], baseline]  # the baseline too: empty lists
    with shared_server.http(prefix=prefix) as http:
        got = stream(http, e2e["dataset"], baseline, comparisons, E2E_KEYS)
        for key in E2E_KEYS:
            want = world.expected(baseline, comparisons, key)
            assert got[key] == want, key
            assert delta(http, e2e["dataset"], baseline, comparisons, key) == want, key
    empty: Lists = {"improved_examples": [], "regressed_examples": []}
    for key in ("label", "broken", "never_used"):  # null scores only, or nobody's key
        assert got[key] == dict.fromkeys(comparisons, empty)
    assert got["quality"][baseline] == empty
    fix = got["quality"][e2e["fix"]]
    assert fix["improved_examples"] and fix["regressed_examples"]  # the data says something


def test_lower_is_better_flips_direction(shared_server: Server) -> None:
    """Declaring a key lower-is-better through /feedback-configs swaps the two lists."""
    key = unique("latency")
    with shared_server.http() as http:
        dataset = create_dataset(http)
        examples = create_examples(http, dataset, [datetime(2026, 1, 1, tzinfo=UTC)] * 4)
        base, cand = create_experiment(http, dataset), create_experiment(http, dataset)
        runs, fb = [], []
        for session, scores in ((base, [1, 2, 3, 4]), (cand, [2, 2, 1, 9])):
            for example, score in zip(examples, scores, strict=True):
                run = run_post({"session_id": session}, example["id"], start=datetime.now(UTC))
                runs.append(run)
                fb.append(feedback(run, key, score))
        post_runs(http, runs)
        post_feedback_multipart(http, fb)
        world = read_world(http, dataset, [base, cand])

        before = stream(http, dataset, base, [cand], [key])[key]
        assert before == world.expected(base, [cand], key)
        assert nonempty(before)
        declare_lower_is_better(http, key)
        after = stream(http, dataset, base, [cand], [key])[key]
        assert after == world.expected(base, [cand], key, lower=True)
        assert after == flipped(before)
        assert delta(http, dataset, base, [cand], key) == after


def test_sdk_lower_is_better_key(shared_server: Server, e2e: dict[str, Any]) -> None:
    """``error_size`` (how far off the answer is) counts as improved when it shrinks."""
    world: World = e2e["world"]
    baseline, comparisons = e2e["baseline"], [e2e["fix"], e2e["flaky"]]
    with shared_server.http() as http:
        before = stream(http, e2e["dataset"], baseline, comparisons, ["error_size"])
        declare_lower_is_better(http, "error_size")
        try:
            after = stream(http, e2e["dataset"], baseline, comparisons, ["error_size"])
            paged = delta(http, e2e["dataset"], baseline, comparisons, "error_size")
        finally:
            ok(http.delete("/feedback-configs", params={"feedback_key": "error_size"}), 204)
    want = world.expected(baseline, comparisons, "error_size", lower=True)
    assert after["error_size"] == paged == want
    assert after["error_size"] == flipped(before["error_size"])
    assert nonempty(want)
    # Lower error is exactly higher quality here, so the two keys must now agree.
    assert want == world.expected(baseline, comparisons, "quality")


def test_sdk_experiments_with_filters(shared_server: Server, e2e: dict[str, Any]) -> None:
    """Per-session filters on what the target set (tags, metadata) and on the run name."""
    world: World = e2e["world"]
    baseline, fix, flaky = e2e["baseline"], e2e["fix"], e2e["flaky"]
    filters = {
        baseline: ['and(eq(metadata_key, "parity"), eq(metadata_value, "even"))'],
        fix: ['eq(name, "Target")', 'not(has(tags, "rep2"))'],
        flaky: ['has(tags, "rep0")'],
    }
    predicates: dict[str, RunFilter] = {
        baseline: lambda r: r.fields["metadata"].get("parity") == "even",
        fix: lambda r: r.fields["name"] == "Target" and "rep2" not in r.fields["tags"],
        flaky: lambda r: "rep0" in r.fields["tags"],
    }
    keys = ["quality", "exact", "error_size"]
    with shared_server.http() as http:
        got = stream(http, e2e["dataset"], baseline, [fix, flaky], keys, filters)
        for key in keys:
            want = world.expected(baseline, [fix, flaky], key, filters=predicates)
            assert got[key] == want, key
            assert (
                delta(http, e2e["dataset"], baseline, [fix, flaky], key, filters=filters) == want
            ), key
        # Filters only on the comparisons: the baseline's odd examples count again.
        only_cmp = {fix: filters[fix], flaky: filters[flaky]}
        got_cmp = stream(http, e2e["dataset"], baseline, [fix, flaky], ["quality"], only_cmp)
    want_cmp = world.expected(
        baseline, [fix, flaky], "quality", filters={s: predicates[s] for s in only_cmp}
    )
    assert got_cmp["quality"] == want_cmp
    # Each filter changes the answer, so the test would notice one being ignored.
    assert want_cmp != world.expected(baseline, [fix, flaky], "quality")
    assert got["quality"] != want_cmp


def test_sdk_experiments_filtered_on_feedback(shared_server: Server, e2e: dict[str, Any]) -> None:
    """A filter on the runs' own feedback (``exact`` true) restricts which repetitions
    count for another key, inside the same query that averages that key's feedback."""
    world: World = e2e["world"]
    baseline, fix, flaky = e2e["baseline"], e2e["fix"], e2e["flaky"]
    exact_runs = {f.run_id for f in world.feedback if f.key == "exact" and f.score is True}
    text = 'and(eq(feedback_key, "exact"), eq(feedback_score, 1))'
    with shared_server.http() as http:
        got = stream(http, e2e["dataset"], baseline, [fix, flaky], ["quality"], {flaky: [text]})
    want = world.expected(
        baseline, [fix, flaky], "quality", filters={flaky: lambda r: r.id in exact_runs}
    )
    assert got["quality"] == want
    assert want != world.expected(baseline, [fix, flaky], "quality")


# --- paging /runs/delta over a larger dataset, seeded with httpx -------------------------------

N_PAGED = 160
PAGED_KEY = "score"


@pytest.fixture(scope="module")
def paged(shared_server: Server) -> Iterator[dict[str, Any]]:
    """160 examples (created in threes at the same instant, posted shuffled), a baseline
    and two experiments (one addressed by name in the run posts) with 0-2 repetitions per
    example, booleans and null scores, and feedback that must not count: on child runs,
    on the experiment, on a run that never arrived, on another dataset's example, and
    for a comparative experiment nobody asked for."""
    rng = random.Random(1984)
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    created = [t0 + timedelta(seconds=i // 3) for i in range(N_PAGED)]
    rng.shuffle(created)
    with shared_server.http() as http:
        dataset = create_dataset(http)
        examples = create_examples(http, dataset, created)
        other = create_dataset(http)
        foreign = create_examples(http, other, [t0])[0]
        names = [unique("base"), unique("cand"), unique("cand")]
        sessions = [create_experiment(http, dataset, name) for name in names]
        comparative = str(uuid4())
        runs, fb = [], []
        for index, session in enumerate(sessions):
            addr = {"session_name": names[2]} if index == 2 else {"session_id": session}
            for example in [*examples, foreign]:
                for rep in range(rng.choice([0, 1, 1, 1, 2])):
                    root = run_post(
                        addr,
                        example["id"],
                        start=t0 + timedelta(minutes=rep),
                        tags=[rng.choice(["blue", "green"])],
                        metadata={"shard": rng.choice(["a", "b"])},
                    )
                    runs.append(root)
                    for _ in range(rng.choice([1, 1, 2])):
                        fb.append(
                            feedback(
                                root,
                                PAGED_KEY,
                                rng.choice([None, True, False, 0, 0.25, 0.5, 1, 1, 2]),
                            )
                        )
                    if rng.random() < 0.1:
                        fb.append(
                            feedback(root, PAGED_KEY, 9, comparative_experiment_id=comparative)
                        )
                    if rng.random() < 0.1:
                        child = run_post(addr, example["id"], start=t0, parent=root)
                        runs.append(child)
                        fb.append(feedback(child, PAGED_KEY, -9))
            fb.append(feedback(None, PAGED_KEY, 5, session_id=session))  # summary
            lost = {"id": str(uuid4()), "trace_id": str(uuid4())}  # a run that never came
            fb.append(feedback(lost, PAGED_KEY, 7, session_id=session))
        created = http.post(
            "/datasets/comparative",
            json={"id": comparative, "experiment_ids": sessions, "name": unique("pairwise")},
        )
        ok(created)
        post_runs(http, runs)
        post_feedback_multipart(http, fb[1:])
        ok(http.post("/feedback", json=fb[0]))
        world = read_world(http, dataset, sessions)
    assert len(world.examples) == N_PAGED
    assert len(world.runs) == len(runs) and len(world.feedback) == len(fb)
    yield {
        "dataset": dataset,
        "world": world,
        "sessions": sessions,
        "comparative": comparative,
    }


@pytest.mark.parametrize(
    "window",
    [(0, 100), (100, 100), (0, 1), (37, 7), (99, 2), (150, 100), (159, 1), (160, 5), (1000, 100)],
)
def test_page_holds_the_window_of_examples(
    shared_server: Server, paged: dict[str, Any], window: tuple[int, int]
) -> None:
    """A page's lists are exactly the improved/regressed examples among the dataset's
    examples ``offset .. offset+limit`` in (created_at, id) order, in that order."""
    baseline, *comparisons = paged["sessions"]
    offset, limit = window
    with shared_server.http() as http:
        got = delta(
            http, paged["dataset"], baseline, comparisons, PAGED_KEY, offset=offset, limit=limit
        )
    world: World = paged["world"]
    assert got == world.expected(baseline, comparisons, PAGED_KEY, window=window)
    order = sorted(world.examples, key=lambda e: (e.created_at, e.id))
    in_window = {str(e.id) for e in order[offset : offset + limit]}
    assert all(set(ids) <= in_window for v in got.values() for ids in v.values())


def test_pages_concatenate_to_the_whole(shared_server: Server, paged: dict[str, Any]) -> None:
    baseline, *comparisons = paged["sessions"]
    world: World = paged["world"]
    whole = world.expected(baseline, comparisons, PAGED_KEY)
    assert all(v["improved_examples"] and v["regressed_examples"] for v in whole.values())
    with shared_server.http() as http:
        dataset = paged["dataset"]
        by_100 = all_pages(
            http, dataset, baseline, comparisons, PAGED_KEY, limit=100, total=N_PAGED
        )
        by_7 = all_pages(http, dataset, baseline, comparisons, PAGED_KEY, limit=7, total=N_PAGED)
        streamed = stream(http, dataset, baseline, comparisons, [PAGED_KEY])[PAGED_KEY]
        default = delta(http, dataset, baseline, comparisons, PAGED_KEY)
    assert by_100 == by_7 == streamed == whole
    assert default == world.expected(baseline, comparisons, PAGED_KEY, window=(0, 100))
    assert default != whole  # the default page really is one page


def test_paged_with_filters_and_comparative_experiment(
    shared_server: Server, paged: dict[str, Any]
) -> None:
    baseline, first, second = paged["sessions"]
    world: World = paged["world"]
    comparative = paged["comparative"]
    filters = {
        first: ['has(tags, "blue")'],
        second: ['has(tags, "green")', 'and(eq(metadata_key, "shard"), eq(metadata_value, "b"))'],
    }
    predicates: dict[str, RunFilter] = {
        first: lambda r: "blue" in r.fields["tags"],
        second: lambda r: "green" in r.fields["tags"] and r.fields["metadata"]["shard"] == "b",
    }
    with shared_server.http() as http:
        got = all_pages(
            http,
            paged["dataset"],
            baseline,
            [first, second],
            PAGED_KEY,
            limit=50,
            total=N_PAGED,
            filters=filters,
        )
        cmp = all_pages(
            http,
            paged["dataset"],
            baseline,
            [first, second],
            PAGED_KEY,
            limit=100,
            total=N_PAGED,
            comparative_experiment_id=comparative,
        )
    unfiltered = world.expected(baseline, [first, second], PAGED_KEY)
    assert got == world.expected(baseline, [first, second], PAGED_KEY, filters=predicates)
    assert got[first] != unfiltered[first] and got[second] != unfiltered[second]
    want_cmp = world.expected(
        baseline, [first, second], PAGED_KEY, comparative_experiment_id=comparative
    )
    assert cmp == want_cmp
    assert want_cmp != unfiltered


# --- validation before the first byte, and tenant isolation ----------------------------------

STREAM, SINGLE = "/runs/delta/stream", "/runs/delta"


@pytest.fixture(scope="module")
def v(shared_server: Server) -> dict[str, str]:
    """Two datasets of tenant alpha with one experiment each, one of tenant beta."""
    ids: dict[str, str] = {}
    for tenant, names in (("alpha", ("", "other_")), ("beta", ("beta_",))):
        with shared_server.http(tenant) as http:
            for name in names:
                dataset = create_dataset(http)
                ids[f"{name}dataset"] = dataset
                ids[f"{name}session"] = create_experiment(http, dataset)
                ids[f"{name}session2"] = create_experiment(http, dataset)
    return ids


def body_for(endpoint: str, v: dict[str, str], **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "baseline_session_id": v["session"],
        "comparison_session_ids": [v["session2"]],
    }
    body.update({"feedback_keys": ["k"]} if endpoint == STREAM else {"feedback_key": "k"})
    body.update(changes)
    return {k: val for k, val in body.items() if val is not ...}


def post_delta(
    server: Server, endpoint: str, dataset: str, body: dict[str, Any], tenant: str = "alpha"
) -> httpx.Response:
    with server.http(tenant) as http:
        response = http.post(f"/datasets/{dataset}{endpoint}", json=body)
    # Rejected before the first byte: a plain JSON error, never the start of a stream.
    assert response.headers["content-type"].startswith("application/json"), response.headers
    return response


def detail_of(response: httpx.Response, status: int = 422) -> list[dict[str, Any]]:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    assert all({"loc", "msg", "type"} <= set(item) for item in detail)
    return list(detail)


def locs(detail: list[dict[str, Any]]) -> list[list[Any]]:
    return [item["loc"] for item in detail]


def fake_ids(n: int) -> list[str]:
    return [str(uuid4()) for _ in range(n)]


@pytest.mark.parametrize("endpoint", [STREAM, SINGLE])
@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("comparison_session_ids", lambda v: {"comparison_session_ids": []}),
        ("comparison_session_ids", lambda v: {"comparison_session_ids": ...}),
        ("comparison_session_ids", lambda v: {"comparison_session_ids": ["1234"]}),
        ("baseline_session_id", lambda v: {"baseline_session_id": "not-a-uuid"}),
        ("baseline_session_id", lambda v: {"baseline_session_id": ...}),
        ("filters", lambda v: {"filters": {"not-a-uuid": ["eq(name, 'x')"]}}),
        ("filters", lambda v: {"filters": {v["session"]: "eq(name, 'x')"}}),
        ("filters", lambda v: {"filters": ["eq(name, 'x')"]}),
    ],
)
def test_malformed_bodies_are_422_naming_the_field(
    shared_server: Server,
    v: dict[str, str],
    endpoint: str,
    field: str,
    changes: Callable[[dict[str, str]], dict[str, Any]],
) -> None:
    body = body_for(endpoint, v, **changes(v))
    response = post_delta(shared_server, endpoint, v["dataset"], body)
    assert any(field in loc for loc in locs(detail_of(response)))


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("comparison_session_ids", {"comparison_session_ids": fake_ids(11)}),
        ("feedback_keys", {"feedback_keys": []}),
        ("feedback_keys", {"feedback_keys": [f"k{i}" for i in range(101)]}),
        ("feedback_keys", {"feedback_keys": ...}),
        ("feedback_keys", {"feedback_keys": "k"}),
    ],
)
def test_stream_bounds(
    shared_server: Server, v: dict[str, str], field: str, changes: dict[str, Any]
) -> None:
    response = post_delta(shared_server, STREAM, v["dataset"], body_for(STREAM, v, **changes))
    assert any(field in loc for loc in locs(detail_of(response)))


def test_stream_accepts_the_bounds_themselves(shared_server: Server, v: dict[str, str]) -> None:
    """10 comparison sessions (the baseline repeated) and 100 keys are allowed."""
    comparisons = [v["session2"], v["session"]] * 5
    keys = [f"k{i}" for i in range(100)]
    with shared_server.http() as http:
        got = stream(http, v["dataset"], v["session"], comparisons, keys)
    assert set(got) == set(keys)


@pytest.mark.parametrize(
    ("field", "changes"),
    [
        ("limit", {"limit": 0}),
        ("limit", {"limit": 101}),
        ("offset", {"offset": -1}),
        ("limit", {"limit": "ten"}),
        ("feedback_key", {"feedback_key": ""}),
        ("feedback_key", {"feedback_key": ...}),
        ("comparative_experiment_id", {"comparative_experiment_id": "nope"}),
    ],
)
def test_single_key_bounds(
    shared_server: Server, v: dict[str, str], field: str, changes: dict[str, Any]
) -> None:
    response = post_delta(shared_server, SINGLE, v["dataset"], body_for(SINGLE, v, **changes))
    assert any(field in loc for loc in locs(detail_of(response)))


@pytest.mark.parametrize("endpoint", [STREAM, SINGLE])
def test_malformed_dataset_id_and_body(
    shared_server: Server, v: dict[str, str], endpoint: str
) -> None:
    response = post_delta(shared_server, endpoint, "not-a-uuid", body_for(endpoint, v))
    assert ["path", "dataset_id"] in locs(detail_of(response))
    with shared_server.http() as http:
        response = http.post(
            f"/datasets/{v['dataset']}{endpoint}",
            content=b"{not json",
            headers={"content-type": "application/json"},
        )
    assert response.headers["content-type"].startswith("application/json")
    detail_of(response)


@pytest.mark.parametrize("endpoint", [STREAM, SINGLE])
def test_filter_for_a_session_not_in_the_request(
    shared_server: Server, v: dict[str, str], endpoint: str
) -> None:
    stranger = str(uuid4())
    body = body_for(endpoint, v, filters={stranger: ['eq(name, "Target")']})
    detail = detail_of(post_delta(shared_server, endpoint, v["dataset"], body))
    assert detail[0]["loc"] == ["body", "filters", stranger]
    assert stranger in detail[0]["msg"]


@pytest.mark.parametrize("endpoint", [STREAM, SINGLE])
@pytest.mark.parametrize(
    ("text", "position"),
    [('eq(name, "x"', 12), ('eq(colour, "x")', 3), ("and(eq(name, 'a'), bogus(1))", 19)],
)
def test_filter_that_does_not_compile_names_the_position(
    shared_server: Server, v: dict[str, str], endpoint: str, text: str, position: int
) -> None:
    """The second string of the comparison's filters is bad: 422 pointing at it."""
    session = v["session2"]
    body = body_for(endpoint, v, filters={session: ['eq(name, "Target")', text]})
    detail = detail_of(post_delta(shared_server, endpoint, v["dataset"], body))
    assert detail[0]["loc"] == ["body", "filters", session, 1]
    assert f"position {position}" in detail[0]["msg"]


@pytest.mark.parametrize("endpoint", [STREAM, SINGLE])
def test_unknown_things_are_404(shared_server: Server, v: dict[str, str], endpoint: str) -> None:
    cases: list[tuple[str, dict[str, Any]]] = [
        (str(uuid4()), {}),  # unknown dataset
        (v["dataset"], {"comparison_session_ids": [str(uuid4())]}),  # unknown session
        (v["dataset"], {"comparison_session_ids": [v["other_session"]]}),  # other dataset's
        (v["dataset"], {"baseline_session_id": v["other_session"]}),
        (v["other_dataset"], {}),  # our sessions asked of our other dataset
    ]
    for dataset, changes in cases:
        response = post_delta(shared_server, endpoint, dataset, body_for(endpoint, v, **changes))
        assert response.status_code == 404, (dataset, changes, response.text)
        assert isinstance(response.json()["detail"], str)


@pytest.mark.parametrize("endpoint", [STREAM, SINGLE])
def test_tenants_cannot_see_each_other(
    shared_server: Server, v: dict[str, str], endpoint: str
) -> None:
    beta: dict[str, Any] = {
        "baseline_session_id": v["beta_session"],
        "comparison_session_ids": [v["beta_session2"]],
    }
    cases: list[tuple[str, str, dict[str, Any]]] = [
        ("alpha", v["beta_dataset"], beta),  # beta's dataset and sessions
        ("alpha", v["dataset"], {"comparison_session_ids": [v["beta_session"]]}),
        ("alpha", v["beta_dataset"], {}),  # beta's dataset with our sessions
        ("beta", v["dataset"], {}),  # alpha's everything, asked by beta
        ("beta", v["beta_dataset"], {"comparison_session_ids": [v["session"]]}),
    ]
    for tenant, dataset, changes in cases:
        body = body_for(endpoint, v, **changes)
        response = post_delta(shared_server, endpoint, dataset, body, tenant)
        assert response.status_code == 404, (tenant, dataset, changes, response.text)
    with shared_server.http("beta") as http:  # and beta's own request works
        url = f"/datasets/{v['beta_dataset']}{endpoint}"
        response = http.post(url, json=body_for(endpoint, v, **beta))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("endpoint", [STREAM, SINGLE])
@pytest.mark.parametrize("headers", [{}, {"x-api-key": "evd_not-a-key"}])
def test_no_key_is_401(
    shared_server: Server, v: dict[str, str], endpoint: str, headers: dict[str, str]
) -> None:
    url = f"{shared_server.url}/api/v1/datasets/{v['dataset']}{endpoint}"
    response = httpx.post(url, json=body_for(endpoint, v), headers=headers)
    assert response.status_code == 401, response.text
    assert response.headers["content-type"].startswith("application/json")
