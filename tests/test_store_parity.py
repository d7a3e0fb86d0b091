"""The two stores give the same answers: one scripted session of API calls, run against a
server on DuckDB and a server on ClickHouse (chDB), every response compared.

The script touches every store method through the API a client uses: datasets, examples
(paging, splits, metadata, moves, deletes, filters, versions and tags), projects
(create, upsert, conflicts, stats), runs (posts and patches in any order, retries,
filters, cursors), feedback (before its run, updates, deletes, every list filter),
feedback configs, both delta endpoints, and sharing (share tokens, the public reads).
Ids the server makes and times it stamps differ between runs by nature; they are replaced
by placeholders, in order of first appearance, before the comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid5

import httpx
import orjson
import pytest

from tests.conftest import run_server, store_url
from tests.support.attachments import body_of, example_parts
from tests.support.sse import parse_events

Step = tuple[str, int, Any]


SCRIPT = UUID("5c1f4d0e-7a52-4b8e-9a11-2f3c4d5e6f70")
SCRIPT_IDS: set[str] = set()


def uid(n: int) -> str:
    """The script's own ids: fixed, but spread like random ones (ordering bugs show)."""
    text = str(uuid5(SCRIPT, str(n)))
    SCRIPT_IDS.add(text)
    return text


T0 = datetime(2026, 3, 1, tzinfo=UTC)


def ts(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def script(http: httpx.Client) -> Iterator[Step]:
    """The session of calls; yields (what, status, body) for every response."""

    def call(what: str, method: str, path: str, **kwargs: Any) -> Any:
        response = http.request(method, path, **kwargs)
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            body: Any = [(e.event, e.data) for e in parse_events(response.content)]
        else:
            body = response.json() if response.content else None
        steps.append((what, response.status_code, body))
        return body

    steps: list[Step] = []
    ds = uid(1)
    call("dataset", "POST", "/datasets", json={"id": ds, "name": "parity", "description": "d"})
    call("dataset again", "POST", "/datasets", json={"name": "parity"})
    call("other dataset", "POST", "/datasets", json={"id": uid(2), "name": "other"})
    call("rename", "PATCH", f"/datasets/{uid(2)}", json={"name": "other2", "description": "x"})
    call("rename clash", "PATCH", f"/datasets/{uid(2)}", json={"name": "parity"})
    examples = [
        {
            "id": uid(100 + n),
            "dataset_id": ds,
            "inputs": {"n": n},
            "outputs": {"a": n % 3},
            "metadata": {"k": n % 2, "tag": "even" if n % 2 == 0 else "odd"},
            "split": "train" if n < 4 else ["test"],
            # Pairs share a creation time: the id tie-break orders them.
            "created_at": ts(n // 2),
        }
        for n in range(8)
    ]
    call("examples", "POST", "/examples/bulk", json=examples)
    call("examples retried", "POST", "/examples/bulk", json=examples[:2])
    for offset in (0, 3, 6):
        call(
            "example page", "GET", "/examples", params={"dataset": ds, "offset": offset, "limit": 3}
        )
    call("split", "GET", "/examples", params={"dataset": ds, "splits": ["test"]})
    call("metadata", "GET", "/examples", params={"metadata": '{"tag": "even"}'})
    call("move", "PATCH", f"/examples/{uid(107)}", json={"dataset_id": uid(2), "split": "x"})
    call("delete", "DELETE", f"/examples/{uid(106)}")
    call("datasets", "GET", "/datasets", params={"name_contains": "PAR"})
    call("dataset counts", "GET", f"/datasets/{uid(2)}")
    call("splits", "GET", f"/datasets/{ds}/splits")
    gold = {"split_name": "gold", "examples": [uid(100), uid(101), uid(102)]}
    call("split add", "PUT", f"/datasets/{ds}/splits", json=gold)
    bulk = {
        "example_ids": [uid(102)],
        "operations": [{"key": "dataset_split", "operation": "array_remove", "values": ["gold"]}],
    }
    call("split remove", "PATCH", f"/platform/datasets/{ds}/examples/metadata", json=bulk)
    in_gold = (
        """and(has(metadata, '{"dataset_split": ["gold"]}'), not(has(metadata, '{"k": 1}')))"""
    )
    call("example filter", "GET", "/examples", params={"dataset": ds, "filter": in_gold})
    versions = call("versions", "GET", f"/datasets/{ds}/versions")
    first = {"as_of": versions[-1]["as_of"], "tag": "first"}
    call("tag", "PUT", f"/datasets/{ds}/tags", json=first)
    call("as of tag", "GET", "/examples", params={"dataset": ds, "as_of": "first"})
    call("splits as of", "GET", f"/datasets/{ds}/splits", params={"as_of": "first"})
    diff = {"from_version": "first", "to_version": "latest"}
    call("diff", "GET", f"/datasets/{ds}/versions/diff", params=diff)

    base, cand = uid(200), uid(201)
    for sid, name in ((base, "base"), (cand, "cand")):
        call(
            "project",
            "POST",
            "/sessions",
            json={"id": sid, "name": name, "reference_dataset_id": ds, "start_time": ts(100)},
        )
    call("project clash", "POST", "/sessions", json={"name": "base"})
    call("project upsert", "POST", "/sessions", params={"upsert": True}, json={"name": "base"})
    call("project update", "PATCH", f"/sessions/{cand}", json={"description": "c", "name": None})

    runs, patches, feedback = [], [], []
    for s, sid in enumerate((base, cand)):
        for n in range(6):
            rid = uid(1000 + 100 * s + n)
            runs.append(
                {
                    "id": rid,
                    "name": "target" if n % 2 else "other",
                    "run_type": "chain",
                    "start_time": ts(200 + n),
                    "session_id": sid,
                    "reference_example_id": uid(100 + n),
                    "inputs": {"n": n},
                    "outputs": {},
                    "tags": ["t1"] if n % 3 else None,
                    "extra": {"metadata": {"model": "m" + str(s)}},
                    "trace_id": rid,
                    "dotted_order": f"x{n}",
                }
            )
            patches.append(
                {
                    "id": rid,
                    "end_time": ts(201 + n + s),
                    "outputs": {"a": n + s},
                    "error": "boom" if n == 5 else None,
                }
            )
            child = uid(5000 + 100 * s + n)
            runs.append(
                {
                    "id": child,
                    "name": "llm",
                    "run_type": "llm",
                    "start_time": ts(200 + n),
                    "session_id": sid,
                    "parent_run_id": rid,
                    "trace_id": rid,
                    "total_tokens": 10 + n,
                    "dotted_order": f"x{n}.y",
                }
            )
            score = [0.0, 1.0, 0.5][(n + s) % 3]
            feedback.append(
                {
                    "id": uid(9000 + 100 * s + n),
                    "run_id": rid,
                    "key": "correct",
                    "score": score,
                    "created_at": ts(300 + n),
                }
            )
            feedback.append(
                {
                    "id": uid(9500 + 100 * s + n),
                    "run_id": rid,
                    "key": "tone",
                    "value": "calm" if n % 2 else "loud",
                    "created_at": ts(300 + n),
                    "comment": "c" if n < 2 else None,
                }
            )
            feedback.append(
                {
                    "id": uid(9800 + 100 * s + n),
                    "run_id": child,
                    "key": "correct",
                    "score": 1.0,
                    "created_at": ts(300 + n),
                }
            )
    for fb in feedback[:6]:  # feedback before its run
        call("early feedback", "POST", "/feedback", json=fb)
    call("patches first", "POST", "/runs/batch", json={"patch": patches[:4]})
    call("posts", "POST", "/runs/batch", json={"post": runs})
    call("patches", "POST", "/runs/batch", json={"patch": patches})
    call("posts retried", "POST", "/runs/batch", json={"post": runs[:3]})
    for fb in feedback[6:]:
        call("feedback", "POST", "/feedback", json=fb)
    call(
        "summary feedback",
        "POST",
        "/feedback",
        json={
            "id": uid(9999),
            "session_id": base,
            "key": "pass",
            "score": 0.7,
            "created_at": ts(400),
        },
    )
    call(
        "auto project",
        "POST",
        "/runs",
        json={"id": uid(7000), "name": "e", "session_name": "evaluators", "start_time": ts(500)},
    )
    call("update feedback", "PATCH", f"/feedback/{uid(9000)}", json={"score": 0.25})
    call("delete feedback", "DELETE", f"/feedback/{uid(9101)}")
    call(
        "config",
        "POST",
        "/feedback-configs",
        json={
            "feedback_key": "tone",
            "feedback_config": {"type": "categorical"},
            "is_lower_score_better": True,
        },
    )
    call("configs", "GET", "/feedback-configs")

    call("projects", "GET", "/sessions", params={"include_stats": True, "sort_by": "name"})
    call("project stats", "GET", f"/sessions/{base}", params={"include_stats": True})
    for body in (
        {"session": [base], "is_root": True, "limit": 4},
        {"session": [cand], "filter": 'and(eq(name, "target"), gt(latency, "1500ms"))'},
        {"session": [base, cand], "filter": 'has(tags, "t1")', "order": "asc", "limit": 3},
        {"trace": uid(1001), "filter": 'eq(run_type, "llm")'},
        {"session": [cand], "filter": 'and(eq(feedback_key, "correct"), gte(feedback_score, 1))'},
        {"session": [base], "trace_filter": 'eq(name, "target")', "is_root": False},
        {"session": [base], "tree_filter": "gt(total_tokens, 13)"},
        {"session": [cand], "filter": 'and(eq(metadata_key, "model"), eq(metadata_value, "m1"))'},
        {"session": [base], "filter": 'or(search("boom"), eq(error, true))'},
    ):
        page = call("runs", "POST", "/runs/query", json=body)
        while page.get("cursors", {}).get("next"):
            page = call(
                "runs next", "POST", "/runs/query", json={**body, "cursor": page["cursors"]["next"]}
            )
    call("run", "GET", f"/runs/{uid(1003)}")
    for params in (
        {"run": [uid(1000), uid(1101)]},
        {"session": [cand], "key": ["correct"]},
        {"session": [base], "level": "session"},
        {"has_comment": True},
        {"has_score": False, "limit": 3, "offset": 1},
    ):
        call("feedback list", "GET", "/feedback", params=params)

    delta = {"baseline_session_id": base, "comparison_session_ids": [cand, base]}
    for offset in (0, 2, 4):
        call(
            "delta page",
            "POST",
            f"/datasets/{ds}/runs/delta",
            json={**delta, "feedback_key": "correct", "offset": offset, "limit": 2},
        )
    call(
        "delta filtered",
        "POST",
        f"/datasets/{ds}/runs/delta",
        json={**delta, "feedback_key": "correct", "filters": {cand: ['eq(name, "target")']}},
    )
    call(
        "delta stream",
        "POST",
        f"/datasets/{ds}/runs/delta/stream",
        json={
            **delta,
            "comparison_session_ids": [cand],
            "feedback_keys": ["correct", "tone", "nobody"],
            "include_stats": True,
        },
    )
    call(
        "delta coverage",
        "POST",
        f"/datasets/{ds}/runs/delta/stream",
        json={
            **delta,
            "comparison_session_ids": [cand],
            "feedback_keys": ["correct", "tone"],
            "filters": {cand: ['eq(name, "target")']},
            "include_coverage": True,
            "include_examples": True,
        },
    )
    pair = {"id": uid(8000), "name": "pair", "experiment_ids": [base, cand]}
    call("pairwise", "POST", "/datasets/comparative", json={**pair, "created_at": ts(600)})
    call("pairwise retried", "POST", "/datasets/comparative", json=pair)
    call("pairwise clash", "POST", "/datasets/comparative", json={**pair, "name": "x"})
    call(
        "pairwise 2",
        "POST",
        "/datasets/comparative",
        json={"id": uid(8001), "name": "Another", "experiment_ids": [cand], "created_at": ts(601)},
    )
    for n in range(6):  # the candidate preferred on even examples, a tie on the rest
        for s in (0, 1):
            call(
                "preference",
                "POST",
                "/feedback",
                json={
                    "id": uid(9900 + 10 * n + s),
                    "run_id": uid(1000 + 100 * s + n),
                    "key": "correct",
                    "score": 0.5 if n % 2 else float(s),
                    "comparative_experiment_id": uid(8000),
                    "feedback_group_id": uid(8100 + n),
                    "created_at": ts(700 + n),
                },
            )
    for params in ({}, {"sort_by": "name", "sort_by_desc": False}, {"name_contains": "ANOTH"}):
        call("pairwise list", "GET", f"/datasets/{ds}/comparative", params=params)
    call("pairwise feedback", "GET", "/feedback", params={"comparative_experiment_id": uid(8000)})
    call(
        "pairwise delta",
        "POST",
        f"/datasets/{ds}/runs/delta",
        json={
            **delta,
            "feedback_key": "correct",
            "comparative_experiment_id": uid(8000),
            "include_stats": True,
        },
    )
    call("pairwise delete", "DELETE", f"/datasets/comparative/{uid(8001)}")
    call("pairwise after delete", "GET", f"/datasets/{ds}/comparative")
    results = {"session_ids": [base, cand], "filters": {cand: ['eq(name, "target")']}}
    call("results", "POST", f"/datasets/{ds}/runs", json=results)
    call(
        "results sorted",
        "POST",
        f"/datasets/{ds}/runs",
        json={"session_ids": [cand], "sort_params": {"sort_by": "correct"}, "limit": 3},
    )
    v2 = str(http.base_url).rstrip("/").removesuffix("/api/v1") + "/api/v2"
    page = call(
        "results v2",
        "POST",
        f"{v2}/datasets/{ds}/experiment-runs",
        json={"experiment_ids": [base], "page_size": 2, "selects": ["OUTPUTS", "FEEDBACK_STATS"]},
    )
    call(
        "results v2 next",
        "POST",
        f"{v2}/datasets/{ds}/experiment-runs",
        json={"experiment_ids": [base], "cursor": page["next_cursor"]},
    )
    # Presigned feedback tokens (their URLs hold the server's port: left out).
    token = {
        "run_id": uid(1000),
        "feedback_key": "thumbs",
        "id": uid(9700),
        "expires_in": {"days": 1},
        "feedback_config": {"type": "continuous", "min": 0, "max": 1},
    }
    made = call("token", "POST", "/feedback/tokens", json=token)
    url = made.pop("url")
    call("token use", "GET", url, params={"score": 1, "comment": "yes"})
    call("token use again", "POST", url, json={"score": 0, "metadata": {"via": "post"}})
    for listed in call("tokens", "GET", "/feedback/tokens", params={"run_id": uid(1000)}):
        listed.pop("url")
    call("token feedback", "GET", f"/feedback/{uid(9700)}")
    # sharing: the share-token table, and the public reads through it (a key sent along
    # is ignored)
    shared = call("share", "PUT", f"/datasets/{ds}/share", params={"share_projects": True})
    call("share again", "PUT", f"/datasets/{ds}/share", json={"dataset_id": ds})
    call("share projects", "PUT", f"/datasets/{ds}/share", params={"share_projects": True})
    call("share state", "GET", f"/datasets/{ds}/share")
    token = shared["share_token"]
    call("public dataset", "GET", f"/public/{token}/datasets")
    call("public examples", "GET", f"/public/{token}/examples", params={"limit": 3})
    call("public projects", "GET", f"/public/{token}/datasets/sessions")
    call(
        "public delta stream",
        "POST",
        f"/public/{token}/datasets/runs/delta/stream",
        json={
            **delta,
            "comparison_session_ids": [cand],
            "feedback_keys": ["correct", "tone", "nobody"],
            "include_stats": True,
        },
    )
    call(
        "public dataset runs",
        "POST",
        f"/public/{token}/datasets/runs/query",
        json={"session": [cand], "is_root": True, "order": "asc"},
    )
    call(
        "public dataset feedback",
        "GET",
        f"/public/{token}/datasets/feedback",
        params={"session": [cand]},
    )
    run_token = call("share run", "PUT", f"/runs/{uid(1003)}/share", json={})["share_token"]
    call("public run", "GET", f"/public/{run_token}/run")
    call("public trace", "POST", f"/public/{run_token}/runs/query", json={})
    call("unshare run", "DELETE", f"/runs/{uid(1003)}/share")
    call("run share state", "GET", f"/runs/{uid(1003)}/share")
    call("unshare", "DELETE", f"/datasets/{ds}/share")
    call("share state after", "GET", f"/datasets/{ds}/share")
    # Annotation queues: items in order, reviews, and the runs of a deleted project gone.
    queue = {
        "id": uid(8500),
        "name": "triage",
        "created_at": ts(800),
        "default_dataset": ds,
        "rubric_items": [{"feedback_key": "correct"}, {"feedback_key": "tone"}],
    }
    call("queue", "POST", "/annotation-queues", json=queue)
    call("queue retried", "POST", "/annotation-queues", json=queue)
    call("queue clash", "POST", "/annotation-queues", json={**queue, "name": "x"})
    other = {"id": uid(8501), "name": "Other", "created_at": ts(801)}
    call("queue 2", "POST", "/annotation-queues", json=other)
    q = f"/annotation-queues/{uid(8500)}"
    items = call("queue add", "POST", f"{q}/runs", json=[uid(1001), uid(1000), uid(1101)])
    run = call("queue run", "GET", f"/runs/{uid(1102)}")
    key = {"run_id": run["id"], "session_id": run["session_id"], "start_time": run["start_time"]}
    call("queue add by key", "POST", f"{q}/runs/by-key", json=[key])
    call("queue add again", "POST", f"{q}/runs", json=[uid(1000)])
    call("queue reviewed", "PATCH", f"{q}/runs/{uid(1001)}", json={"last_reviewed_time": ts(900)})
    call(
        "queue done",
        "POST",
        f"/annotation-queues/status/{items[1]['id']}",
        json={"status": "completed"},
    )
    for status in (None, "completed", "needs_my_review"):
        params = {"status": status} if status else {}
        call("queue runs", "GET", f"{q}/runs", params=params)
        call("queue size", "GET", f"{q}/size", params=params)
    call("queue run at", "GET", f"{q}/run/1", params={"include_extra": True})
    me = http.headers["x-api-key"][:8]  # a reviewer is the key's prefix: random per run
    for review in call("queue reviews", "GET", f"{q}/reviews"):
        review["reviewer"] = "<me>" if review["reviewer"] == me else review["reviewer"]
    for params in (
        {},
        {"sort_by": "name", "sort_by_desc": False},
        {"name_contains": "OTH"},
        {"dataset_id": ds},
    ):
        call("queue list", "GET", "/annotation-queues", params=params)
    call(
        "queue update",
        "PATCH",
        q,
        json={"name": "triage-2", "rubric_items": [{"feedback_key": "tone"}]},
    )
    call("queue read", "GET", q)
    call("queue take out", "DELETE", f"{q}/runs/{uid(1101)}")
    call("queue delete", "DELETE", f"/annotation-queues/{uid(8501)}")
    call("delete project", "DELETE", f"/sessions/{base}")
    call("after delete", "GET", "/feedback", params={"key": ["correct"]})
    call("queue after project delete", "GET", f"/annotation-queues/{uid(8500)}/runs")
    call("queues after project delete", "GET", "/annotation-queues")
    call("delete dataset", "DELETE", f"/datasets/{uid(2)}")
    call("examples after", "GET", "/examples", params={"id": [uid(107), uid(101)]})

    # Attachments: links differ by server (port, secret), so each is recorded by its bytes.
    def files(what: str, example_id: str, **params: Any) -> None:
        found = http.get(f"/examples/{example_id}", params=params).json()
        steps.append(
            (
                what,
                200,
                {
                    name: (link["mime_type"], httpx.get(link["presigned_url"]).content.hex())
                    for name, link in (found.get("attachment_urls") or {}).items()
                },
            )
        )

    call("files dataset", "POST", "/datasets", json={"id": uid(3), "name": "files"})
    pic = {"pic": ("image/png", bytes(range(256))), "doc": ("text/plain", b"doc")}
    body, headers = body_of(example_parts(uid(300), {"n": 1}, pic, created_at=ts(1)))
    call(
        "files upload",
        "POST",
        f"/platform/datasets/{uid(3)}/examples",
        content=body,
        headers=headers,
    )
    files("files read", uid(300))
    before = http.get(f"/examples/{uid(300)}").json()["modified_at"]
    ops = {"attachments_operations": {"rename": {"pic": "photo"}}}
    renamed = http.patch(f"/examples/{uid(300)}", json=ops)
    steps.append(("files rename", renamed.status_code, sorted(renamed.json()["attachment_urls"])))
    files("files renamed", uid(300))
    files("files as of", uid(300), as_of=before)
    yield from steps


DOC_FILE = ("text/plain", b"doc".hex())
UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Normaliser:
    """Server-made ids and times to placeholders, numbers rounded."""

    def __init__(self, since: datetime) -> None:
        self.since = since
        self.ids: dict[str, str] = {}

    def uuid(self, text: str) -> str:
        if text in SCRIPT_IDS:
            return text
        return self.ids.setdefault(text, f"<id{len(self.ids)}>")

    def value(self, v: Any) -> Any:
        if isinstance(v, dict):
            return {k: self.value(x) for k, x in v.items()}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, float):
            return round(v, 9)
        if isinstance(v, str):
            if UUID_TEXT.fullmatch(v):
                return self.uuid(v)
            try:
                stamp = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError:
                return UUID_TEXT.sub(lambda m: self.uuid(m.group(0)), v)
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=UTC)
            return "<now>" if stamp >= self.since else v
        return v


@pytest.fixture(scope="module")
def answers(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[Step]]:
    out = {}
    for kind in ("duckdb", "chdb"):
        data = tmp_path_factory.mktemp(kind) / "data"
        since = datetime.now(UTC) - timedelta(seconds=1)
        with (
            run_server(data, tenants=("alpha",), store=store_url(kind, data)) as server,
            server.http() as http,
        ):
            steps = list(script(http))
        norm = Normaliser(since)
        out[kind] = [(what, status, norm.value(body)) for what, status, body in steps]
    return out


def test_both_stores_answer_the_same(answers: dict[str, list[Step]]) -> None:
    duck, ch = answers["duckdb"], answers["chdb"]
    assert len(duck) == len(ch)
    for n, (d, c) in enumerate(zip(duck, ch, strict=True)):
        assert c == d, f"step {n} ({d[0]}) differs"
    statuses = [status for _, status, _ in duck]
    assert {200, 202, 204, 409} >= set(statuses) - {201}, statuses


def test_the_script_exercises_what_it_claims(answers: dict[str, list[Step]]) -> None:
    steps = {what: body for what, _, body in answers["duckdb"]}
    every_byte = ("image/png", bytes(range(256)).hex())
    # Neither retained nor renamed, doc was dropped; the earlier version still has it.
    assert steps["files renamed"] == {"attachment.photo": every_byte}
    assert steps["files as of"] == {"attachment.pic": every_byte, "attachment.doc": DOC_FILE}
    assert steps["delta filtered"]["feedback_deltas"]  # a non-trivial delta
    improved = [
        body["feedback_deltas"][uid(201)]["improved_examples"]
        for what, _, body in answers["duckdb"]
        if what == "delta page"
    ]
    assert any(improved)
    assert steps["project stats"]["run_count"] == 6
    covered = [orjson.loads(data) for event, data in steps["delta coverage"] if event == "data"]
    assert (
        all(
            "coverage" in delta and "examples" in delta
            for chunk in covered
            for per_session in chunk["feedback_deltas"].values()
            for delta in per_session.values()
        )
        and len(covered) == 2
    )
    assert steps["example filter"] and all(
        e["metadata"]["k"] == 0 and "gold" in e["metadata"]["dataset_split"]
        for e in steps["example filter"]
    )
    assert len(steps["versions"]) >= 5 and steps["diff"]["examples_removed"]
    assert steps["results"] and all(e["runs"] for e in steps["results"])
    assert steps["results v2"]["next_cursor"]
    assert steps["public delta stream"] == steps["delta stream"]
    assert steps["public dataset"]["example_count"] > 0 and steps["public projects"]
    assert steps["public run"]["id"] == uid(1003) and steps["public trace"]["runs"]
    assert steps["public dataset runs"]["runs"] and steps["public dataset feedback"]
    assert steps["share state after"] is None and steps["run share state"] is None
    queued = next(body for what, _, body in answers["duckdb"] if what == "queue runs")
    assert [r["id"] for r in queued] == [uid(1001), uid(1000), uid(1101), uid(1102)]
    assert [r["id"] for r in steps["queue runs"]] == [uid(1101), uid(1102)]  # needs my review
    assert [r["reviewer"] for r in steps["queue reviews"]] and steps["queue reviews"][0]["feedback"]
    assert [r["id"] for r in steps["queue after project delete"]] == [uid(1102)]
