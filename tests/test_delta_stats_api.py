"""``include_stats`` on both delta endpoints, on a real server over real HTTP.

The test seeds hand-built runs and feedback (repetitions, ties, missing sides, null scores,
a child run, a boolean key, a lower-is-better key declared through ``/feedback-configs``),
derives the per-example means itself from what it seeded, and checks that every ``stats``
object is exactly ``paired_stats`` of those means, that the p-values are SciPy's, and that
the stream's ``end`` event carries Holm-adjusted p-values equal to a hand computation.  It
also checks that without ``include_stats`` the responses are LangSmith's, byte for byte.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import numpy as np
import orjson
import pytest
from scipy import stats as sps

from evaldelta.delta.stats import paired_stats
from tests.conftest import Server
from tests.support.sse import delta_stream, parse_events

KEYS = ["quality", "correct", "latency"]  # latency: lower is better
LOWER_IS_BETTER = {"latency"}
N_EXAMPLES = 18
QUALITY = [0.0, 0.25, 0.5, 0.75, 1.0]  # dyadic: sums are exact, so are the means

Means = dict[str, float]  # example id -> mean score


@dataclass
class SeededRun:
    id: str
    session: str
    example: str
    scores: dict[str, float | bool | None]
    parent: SeededRun | None = None


@dataclass
class World:
    dataset: str
    examples: list[str]
    baseline: str
    comparisons: list[str]
    runs: list[SeededRun] = field(default_factory=list)

    def means(self, session: str, key: str) -> Means:
        """Per example: the mean of the key's non-null scores over the session's root runs
        (repetitions averaged, booleans as 1/0), worked out here from what was seeded."""
        scores: dict[str, list[float]] = defaultdict(list)
        for run in self.runs:
            score = run.scores.get(key)
            if run.session == session and run.parent is None and score is not None:
                scores[run.example].append(float(score))
        return {example: sum(s) / len(s) for example, s in scores.items()}

    def expected(self, comparison: str, key: str) -> dict[str, Any]:
        return paired_stats(
            self.means(self.baseline, key),
            self.means(comparison, key),
            lower_is_better=key in LOWER_IS_BETTER,
        )

    def diffs(self, comparison: str, key: str) -> np.ndarray[Any, Any]:
        base, comp = self.means(self.baseline, key), self.means(comparison, key)
        return np.array([comp[e] - base[e] for e in sorted(comp) if e in base])


# --- seeding through the public API ---------------------------------------------------------


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _scores(rng: random.Random, profile: str) -> dict[str, float | bool | None]:
    """One run's scores: ``c2`` is clearly better and faster, ``c1`` a coin toss."""
    if profile == "c2":
        return {
            "quality": rng.choice(QUALITY[2:]),
            "correct": rng.random() < 0.9,
            "latency": rng.randint(4, 12) / 8,
        }
    return {
        "quality": rng.choice(QUALITY),
        "correct": rng.random() < 0.6,
        "latency": rng.randint(8, 24) / 8,
    }


def _plan(world: World) -> None:
    """Which runs exist, with which scores; the first examples are the hand-made cases."""
    rng = random.Random(20240611)
    sessions = {world.baseline: "base", world.comparisons[0]: "c1", world.comparisons[1]: "c2"}
    ex = world.examples
    for s_index, (session, profile) in enumerate(sessions.items()):
        for i, example in enumerate(ex):
            if i == 0 and profile == "base":
                continue  # example 0: never run in the baseline (missing baseline)
            if i == 1 and profile == "c1":
                continue  # example 1: never run in c1 (missing comparison)
            repetitions = 1 + (i + s_index) % 3
            for _ in range(repetitions):
                world.runs.append(SeededRun(str(uuid4()), session, example, _scores(rng, profile)))
    base, c1, c2 = world.baseline, *world.comparisons

    def runs_of(session: str, example: str) -> list[SeededRun]:
        return [r for r in world.runs if r.session == session and r.example == example]

    # Example 2: the same mean reached through different repetitions (0.75 everywhere): a tie.
    for session, values in ((base, [0.5, 1.0]), (c1, [0.75]), (c2, [1.0, 0.5, 0.75])):
        world.runs = [r for r in world.runs if not (r.session == session and r.example == ex[2])]
        for value in values:
            world.runs.append(
                SeededRun(str(uuid4()), session, ex[2], {"quality": value, "correct": True})
            )
    # Example 3: c1's quality scores are all null, so quality is missing on c1's side.
    for run in runs_of(c1, ex[3]):
        run.scores["quality"] = None
    # Example 4: a child run's feedback never counts, only the root run's.
    root = runs_of(c2, ex[4])[0]
    world.runs.append(
        SeededRun(str(uuid4()), c2, ex[4], {"quality": 0.0, "correct": False}, parent=root)
    )


def _multipart(world: World) -> list[tuple[str, tuple[None, bytes, str]]]:
    start = datetime(2024, 6, 1, tzinfo=UTC)
    parts: list[tuple[str, Any]] = []
    dotted_orders: dict[str, str] = {}  # parents come before their children
    for n, run in enumerate(world.runs):
        began = start + timedelta(seconds=n)
        dotted = f"{began:%Y%m%dT%H%M%S%fZ}{run.id}"
        parent = run.parent
        parts.append(
            (
                f"post.{run.id}",
                {
                    "id": run.id,
                    "name": "Target" if parent is None else "Child",
                    "run_type": "chain",
                    "session_id": run.session,
                    "reference_example_id": run.example,
                    "start_time": began.isoformat(),
                    "end_time": (began + timedelta(milliseconds=5)).isoformat(),
                    "trace_id": parent.id if parent else run.id,
                    "parent_run_id": parent.id if parent else None,
                    "dotted_order": f"{dotted_orders[parent.id]}.{dotted}" if parent else dotted,
                    "inputs": {},
                    "outputs": {},
                },
            )
        )
        dotted_orders[run.id] = dotted
        for key, score in run.scores.items():
            fid = str(uuid4())
            body = {"id": fid, "run_id": run.id, "trace_id": parent.id if parent else run.id}
            parts.append((f"feedback.{fid}", {**body, "key": key, "score": score}))
        fid = str(uuid4())  # a categorical key: a value, no score; never in any statistic
        parts.append(
            (f"feedback.{fid}", {"id": fid, "run_id": run.id, "key": "tone", "value": "friendly"})
        )
    return [(name, (None, orjson.dumps(body), "application/json")) for name, body in parts]


@pytest.fixture(scope="module")
def world(shared_server: Server) -> Iterator[World]:
    with shared_server.http() as http:
        dataset = ok(http.post("/datasets", json={"name": f"stats-{uuid4().hex[:8]}"}))["id"]
        created = datetime(2024, 1, 1, tzinfo=UTC)
        examples = ok(
            http.post(
                "/examples/bulk",
                json=[
                    {
                        "dataset_id": dataset,
                        "inputs": {"i": i},
                        "created_at": (created + timedelta(minutes=i)).isoformat(),
                    }
                    for i in range(N_EXAMPLES)
                ],
            )
        )
        sessions = [
            ok(
                http.post(
                    "/sessions",
                    json={"name": f"{name}-{uuid4().hex[:8]}", "reference_dataset_id": dataset},
                )
            )["id"]
            for name in ("base", "c1", "c2")
        ]
        ok(
            http.post(
                "/feedback-configs",
                json={
                    "feedback_key": "latency",
                    "feedback_config": {"type": "continuous"},
                    "is_lower_score_better": True,
                },
            )
        )
        world = World(dataset, [e["id"] for e in examples], sessions[0], sessions[1:])
        _plan(world)
        ok(http.post("/runs/multipart", files=_multipart(world)), 202)
    yield world


def delta(http: httpx.Client, world: World, key: str, **extra: Any) -> httpx.Response:
    body = {
        "baseline_session_id": world.baseline,
        "comparison_session_ids": world.comparisons,
        "feedback_key": key,
        **extra,
    }
    return http.post(f"/datasets/{world.dataset}/runs/delta", json=body)


def stream(http: httpx.Client, world: World, **extra: Any) -> httpx.Response:
    body = {
        "baseline_session_id": world.baseline,
        "comparison_session_ids": world.comparisons,
        "feedback_keys": KEYS,
        **extra,
    }
    return http.post(f"/datasets/{world.dataset}/runs/delta/stream", json=body)


# --- the statistics -----------------------------------------------------------------------


def test_the_hand_made_cases_are_in_the_data(world: World) -> None:
    """The seeded world has what the other tests rely on (else they would prove little)."""
    base, (c1, c2) = world.baseline, world.comparisons
    ex = world.examples
    assert ex[0] not in world.means(base, "quality") and ex[0] in world.means(c1, "quality")
    assert ex[1] not in world.means(c1, "correct") and ex[1] in world.means(base, "correct")
    assert world.means(base, "quality")[ex[2]] == world.means(c1, "quality")[ex[2]] == 0.75
    assert world.means(c2, "quality")[ex[2]] == 0.75
    assert ex[3] not in world.means(c1, "quality") and ex[3] in world.means(c1, "latency")
    repetitions = {sum(r.example == e and r.session == base for r in world.runs) for e in ex[5:]}
    assert repetitions == {1, 2, 3}


@pytest.mark.parametrize("key", KEYS)
def test_runs_delta_stats_equal_paired_stats_of_the_seeded_means(
    shared_server: Server, world: World, key: str
) -> None:
    with shared_server.http() as http:
        plain = ok(delta(http, world, key))
        answer = ok(delta(http, world, key, include_stats=True))
    assert set(answer["feedback_deltas"]) == set(world.comparisons)
    for comparison in world.comparisons:
        got = answer["feedback_deltas"][comparison]
        assert got["stats"] == world.expected(comparison, key)
        # The lists are the same with or without statistics, and the counts are theirs.
        assert {k: v for k, v in got.items() if k != "stats"} == plain["feedback_deltas"][
            comparison
        ]
        assert got["stats"]["n_improved"] == len(got["improved_examples"])
        assert got["stats"]["n_regressed"] == len(got["regressed_examples"])


def test_counts_and_missing_sides_by_hand(shared_server: Server, world: World) -> None:
    """Example 0 lacks a baseline, example 1 lacks c1, example 3 lacks c1's quality score;
    example 2 is a tie everywhere."""
    c1, c2 = world.comparisons
    with shared_server.http() as http:
        quality = ok(delta(http, world, "quality", include_stats=True))["feedback_deltas"]
    s1, s2 = quality[c1]["stats"], quality[c2]["stats"]
    assert s1["n_missing_baseline"] == 1 and s1["n_missing_comparison"] == 2  # ex 1, ex 3
    assert s2["n_missing_baseline"] == 1 and s2["n_missing_comparison"] == 0
    assert s1["n_paired"] == N_EXAMPLES - 3 and s2["n_paired"] == N_EXAMPLES - 1
    for s in (s1, s2):
        assert s["n_improved"] + s["n_regressed"] + s["n_unchanged"] == s["n_paired"]
        assert s["n_unchanged"] >= 1  # example 2
    tie = world.examples[2]
    for lists in (quality[c1], quality[c2]):
        assert tie not in lists["improved_examples"] + lists["regressed_examples"]
    # Example 4 in c2: the root run's score counts, the child's 0.0 does not.
    assert world.means(c2, "quality")[world.examples[4]] > 0


def test_p_values_are_scipys(shared_server: Server, world: World) -> None:
    with shared_server.http() as http:
        for key in KEYS:
            answer = ok(delta(http, world, key, include_stats=True))["feedback_deltas"]
            for comparison in world.comparisons:
                s = answer[comparison]["stats"]
                changed = s["n_improved"] + s["n_regressed"]
                assert changed > 0, (key, comparison)
                binom = sps.binomtest(s["n_improved"], changed, 0.5).pvalue
                assert s["sign_test_p"] == pytest.approx(binom, rel=1e-12)
                diffs = world.diffs(comparison, key)
                assert len(diffs) == s["n_paired"]
                nonzero = diffs[diffs != 0]
                assert s["wilcoxon_p"] == pytest.approx(sps.wilcoxon(nonzero).pvalue, rel=1e-12)
                assert s["mean_delta"] == pytest.approx(diffs.mean(), abs=1e-15)
                assert s["ci_method"] == "bootstrap"
                assert s["ci_low"] <= s["mean_delta"] <= s["ci_high"]


def test_lower_is_better_flips_counts_not_the_delta(shared_server: Server, world: World) -> None:
    """c2 is faster: latency's mean delta stays comparison − baseline (negative) while the
    faster examples count as improved; the config came from ``/feedback-configs``."""
    c2 = world.comparisons[1]
    with shared_server.http() as http:
        s = ok(delta(http, world, "latency", include_stats=True))["feedback_deltas"][c2]["stats"]
    diffs = world.diffs(c2, "latency")
    assert s["lower_is_better"] is True
    assert s["mean_delta"] < 0 and s["comparison_mean"] < s["baseline_mean"]
    assert s["n_improved"] == int(np.sum(diffs < 0)) > s["n_regressed"] == int(np.sum(diffs > 0))
    assert s["ci_high"] < 0


def test_boolean_key_is_averaged_as_ones_and_zeros(shared_server: Server, world: World) -> None:
    base = world.baseline
    with shared_server.http() as http:
        answer = ok(delta(http, world, "correct", include_stats=True))["feedback_deltas"]
    means = world.means(base, "correct")
    for comparison in world.comparisons:
        paired = [e for e in world.means(comparison, "correct") if e in means]
        expected = sum(means[e] for e in paired) / len(paired)
        assert answer[comparison]["stats"]["baseline_mean"] == pytest.approx(expected)
        assert 0 < expected < 1


def test_stats_cover_all_examples_whatever_the_page(shared_server: Server, world: World) -> None:
    with shared_server.http() as http:
        whole = ok(delta(http, world, "quality", include_stats=True))["feedback_deltas"]
        pages = [
            ok(delta(http, world, "quality", include_stats=True, offset=o, limit=5))
            for o in range(0, N_EXAMPLES, 5)
        ]
    for comparison in world.comparisons:
        for page in pages:
            assert page["feedback_deltas"][comparison]["stats"] == whole[comparison]["stats"]
        improved = [e for p in pages for e in p["feedback_deltas"][comparison]["improved_examples"]]
        assert improved == whole[comparison]["improved_examples"]


# --- the stream ---------------------------------------------------------------------------


def _sign_p(k: int, n: int) -> float:
    """Two-sided sign test by hand: twice the smaller binomial tail, at most 1."""
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_stream_stats_and_holm_in_the_end_event(shared_server: Server, world: World) -> None:
    with shared_server.http() as http:
        response = stream(http, world, include_stats=True)
        singles = {k: ok(delta(http, world, k, include_stats=True)) for k in KEYS}
    assert response.status_code == 200
    events = parse_events(response.content)
    assert [e.event for e in events] == ["data"] * len(KEYS) + ["end"]
    for event in events[:-1]:
        chunk = orjson.loads(event.data or "")
        assert chunk["errors"] is None
        ((key, per_session),) = chunk["feedback_deltas"].items()
        assert per_session == singles[key]["feedback_deltas"]  # lists and stats alike
    end = orjson.loads(events[-1].data or "")
    assert set(end) == {"holm_sign_test_p"}
    assert set(end["holm_sign_test_p"]) == set(world.comparisons)
    for comparison in world.comparisons:
        # Holm by hand: sort the keys' p-values; the i-th smallest (from 0) is multiplied by
        # (m - i), capped at 1, and never allowed below the one before it.
        raw = {}
        for key in KEYS:
            s = world.expected(comparison, key)
            raw[key] = _sign_p(s["n_improved"], s["n_improved"] + s["n_regressed"])
        ordered = sorted(KEYS, key=lambda k: raw[k])
        expected, running = {}, 0.0
        for i, key in enumerate(ordered):
            running = max(running, min(1.0, (len(KEYS) - i) * raw[key]))
            expected[key] = running
        got = end["holm_sign_test_p"][comparison]
        assert set(got) == set(KEYS)
        for key in KEYS:
            assert got[key] == pytest.approx(expected[key], rel=1e-9), (comparison, key)
            assert got[key] >= raw[key] - 1e-15


# --- the default responses: LangSmith's, byte for byte ---------------------------------------


def test_runs_delta_without_stats_is_unchanged_byte_for_byte(
    shared_server: Server, world: World
) -> None:
    with shared_server.http() as http:
        for key in KEYS:
            absent = delta(http, world, key)
            false = delta(http, world, key, include_stats=False)
            assert absent.status_code == false.status_code == 200
            assert absent.content == false.content
            assert b"stats" not in absent.content
            body = absent.json()
            assert set(body) == {"feedback_deltas"}
            for lists in body["feedback_deltas"].values():
                assert set(lists) == {"improved_examples", "regressed_examples"}


def test_stream_without_stats_is_unchanged_byte_for_byte(
    shared_server: Server, world: World
) -> None:
    with shared_server.http() as http:
        absent = stream(http, world)
        false = stream(http, world, include_stats=False)
    assert absent.status_code == false.status_code == 200
    assert absent.content == false.content
    assert b"stats" not in absent.content
    delta_stream(absent.content, KEYS, world.comparisons)  # exactly LangSmith's chunk shape
    events = parse_events(absent.content)
    assert events[-1].event == "end" and events[-1].data == "{}"
