"""The comparison page, end to end in Debian's Chromium driven by Playwright.

Data is seeded through the HTTP API; the page's numbers are checked against the API's own
answer. Screenshots of the key steps go to ``test-artifacts/`` (gitignored); with
``EVALDELTA_UPDATE_SCREENSHOT=1`` the README's ``docs/screenshot.png`` is written too.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect

from tests.conftest import Server
from tests.support.browser import ARTIFACTS, LAPTOP, LOW_CONTRAST_JS, PHONE, ROOT, shot, sign_in


@dataclass
class World:
    """A dataset with three experiments whose scores moved in known ways."""

    dataset: str
    examples: list[dict[str, Any]]
    sessions: dict[str, str]  # name -> id

    @property
    def baseline(self) -> str:
        return self.sessions["baseline-v1"]


# Per example (8 of them): the score of each experiment. `correct` is boolean; candidate-v3
# has two repetitions on example 0 (averaged: 0.5 against the baseline's 1 -> regressed).
SCORES: dict[str, dict[str, list[Any]]] = {
    "baseline-v1": {
        "correct": [True, True, False, False, True, False, True, False],
        "helpfulness": [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5],
        "tone": [1, 1, 1, 1, 1, 1, 1, 1],
    },
    "candidate-v2": {
        "correct": [True, False, True, True, True, False, False, False],
        "helpfulness": [0.9, 0.5, 0.2, 0.7, 0.5, 0.8, 0.1, 0.5],
        "tone": [1, 2, 1, 0, 1, 1, 1, 1],
    },
    "candidate-v3": {
        "correct": [True, True, True, False, True, True, True, False],
        "helpfulness": [0.5, 0.6, 0.6, 0.6, 0.4, 0.5, 0.5, 0.5],
        "tone": [1, 1, 1, 1, 1, 1, 1, 1],
    },
}


def answer(i: int, session: str) -> str:
    return f"{session} says {i * 7}"


@pytest.fixture(scope="module")
def world(shared_server: Server) -> World:
    http = shared_server.http()
    dataset = http.post("/datasets", json={"name": "web-qa"}).json()
    examples = http.post(
        "/examples/bulk",
        json=[
            {
                "dataset_id": dataset["id"],
                "inputs": {"question": f"What is 7 times {i}?"},
                "outputs": {"answer": str(i * 7)},
                "created_at": (datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=i)).isoformat(),
            }
            for i in range(8)
        ],
    ).json()
    sessions = {}
    start = datetime(2026, 2, 1, tzinfo=UTC)
    for n, name in enumerate(SCORES):
        created = http.post(
            "/sessions",
            json={
                "name": name,
                "reference_dataset_id": dataset["id"],
                "start_time": (start + timedelta(days=n)).isoformat(),
            },
        )
        sessions[name] = created.json()["id"]
    posts, feedback = [], []
    for name, keys in SCORES.items():
        for i, example in enumerate(examples):
            repetitions = 2 if (name == "candidate-v3" and i == 0) else 1
            for r in range(repetitions):
                run_id = str(uuid4())
                posts.append(
                    {
                        "id": run_id,
                        "trace_id": run_id,
                        "name": "target",
                        "run_type": "chain",
                        "start_time": (start + timedelta(seconds=i)).isoformat(),
                        "end_time": (start + timedelta(seconds=i + 1)).isoformat(),
                        "session_id": sessions[name],
                        "reference_example_id": example["id"],
                        "inputs": example["inputs"],
                        "outputs": {"answer": answer(i, name)},
                    }
                )
                for key, scores in keys.items():
                    score = (
                        scores[i] if r == 0 else (not scores[i] if key == "correct" else scores[i])
                    )
                    feedback.append({"run_id": run_id, "key": key, "score": score})
    assert http.post("/runs/batch", json={"post": posts}).status_code == 202
    # Concurrent posts share the writer's transactions: one commit for many feedbacks.
    with ThreadPoolExecutor(16) as pool:
        statuses = set(
            pool.map(lambda item: http.post("/feedback", json=item).status_code, feedback)
        )
    assert statuses == {200}
    return World(dataset["id"], examples, sessions)


def api_counts(server: Server, world: World, key: str, comparisons: list[str]) -> dict[str, Any]:
    """The API's own answer for one key (the paged endpoint: one page holds all 8)."""
    body = {
        "baseline_session_id": world.baseline,
        "comparison_session_ids": comparisons,
        "feedback_key": key,
        "limit": 100,
        "include_stats": True,  # evaldelta's extension; ignored where it is absent
    }
    answered = server.http().post(f"/datasets/{world.dataset}/runs/delta", json=body)
    assert answered.status_code == 200, answered.text
    return dict(answered.json()["feedback_deltas"])


def choose(page: Page, world: World, comparisons: list[str], keys: list[str]) -> None:
    page.get_by_label("Dataset").select_option(world.dataset)
    page.get_by_label("Baseline experiment").select_option(world.baseline)
    for name in comparisons:
        page.locator(f'#comparison-list input[value="{world.sessions[name]}"]').check()
    for key in keys:
        page.locator(f'#key-list input[value="{key}"]').check()


def row(page: Page, key: str, session: str) -> Any:
    """One comparison's row in one key's table."""
    return page.locator(f'.key-card[data-key="{key}"] tbody tr[data-exp="{session}"]')


def cell(page: Page, key: str, session: str, kind: str) -> Any:
    return row(page, key, session).locator(f'[data-kind="{kind}"]')


def assert_counts_match_api(
    page: Page, server: Server, world: World, keys: list[str], names: list[str]
) -> None:
    ids = [world.sessions[n] for n in names]
    for key in keys:
        expected = api_counts(server, world, key, ids)
        for sid in ids:
            for kind in ("improved", "regressed"):
                count = len(expected[sid][f"{kind}_examples"])
                expect(cell(page, key, sid, kind)).to_have_attribute("data-count", str(count))
            stats = expected[sid].get("stats")
            if stats and stats.get("mean_delta") is not None:  # the API gives statistics
                mean = row(page, key, sid).locator('[data-role="mean-delta"]')
                expect(mean).to_contain_text(js_signed(stats["mean_delta"]))


def js_signed(value: float) -> str:
    """A delta as the page writes it: explicit sign, three significant digits."""
    if value == 0:
        return "0"
    return ("+" if value > 0 else "−") + f"{abs(value):.3g}"


# --- the main path --------------------------------------------------------------------


def test_compare_drill_down_and_shared_link(
    shared_server: Server, world: World, page: Page, browser: Browser
) -> None:
    server, keys, names = (
        shared_server,
        ["correct", "helpfulness"],
        ["candidate-v2", "candidate-v3"],
    )
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "1-sign-in")
    sign_in(page, server.key)
    choose(page, world, names, keys)
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#progress-text")).to_have_text("Done: 2 of 2 keys")
    assert_counts_match_api(page, server, world, keys, names)
    # The data really moved both ways, so the check above is not all zeros.
    expected = api_counts(server, world, "correct", [world.sessions["candidate-v2"]])
    v2 = expected[world.sessions["candidate-v2"]]
    assert v2["improved_examples"] and v2["regressed_examples"]
    expect(page.locator('.key-card[data-key="correct"] .bar.improved')).to_have_count(2)
    shot(page, "2-results")

    # Keyboard: open the regressed examples of candidate-v2 on `correct`.
    v2_id = world.sessions["candidate-v2"]
    cell(page, "correct", v2_id, "regressed").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#drill-title")).to_be_focused()
    links = page.locator("#drill .example-link")
    expect(links).to_have_count(len(v2["regressed_examples"]))
    listed = [links.nth(i).get_attribute("data-example") for i in range(links.count())]
    assert listed == v2["regressed_examples"]
    by_id = {e["id"]: (i, e) for i, e in enumerate(world.examples)}
    first, example = by_id[listed[0]]
    expect(links.first).to_contain_text(example["inputs"]["question"])

    links.first.click()
    detail = page.locator("#drill .example-detail")
    expect(detail.locator('[data-role="inputs"]')).to_contain_text(example["inputs"]["question"])
    expect(detail.locator('[data-role="reference"]')).to_contain_text(example["outputs"]["answer"])
    baseline_side = detail.locator(f'.side[data-session="{world.baseline}"]')
    compare_side = detail.locator(f'.side[data-session="{v2_id}"]')
    expect(baseline_side.locator('[data-role="outputs"]')).to_contain_text(
        answer(first, "baseline-v1")
    )
    expect(compare_side.locator('[data-role="outputs"]')).to_contain_text(
        answer(first, "candidate-v2")
    )
    expect(baseline_side.locator('[data-role="key-mean"]')).to_have_text("Mean “correct”: 1")
    expect(compare_side.locator('[data-role="key-mean"]')).to_have_text("Mean “correct”: 0")
    shot(page, "3-example")
    assert page.evaluate(LOW_CONTRAST_JS) == []
    page.evaluate("() => { document.querySelector('.key-mean').style.color = '#999'; }")
    assert page.evaluate(LOW_CONTRAST_JS)  # the check does see faint text
    page.evaluate("() => { document.querySelector('.key-mean').style.color = ''; }")
    if os.environ.get("EVALDELTA_UPDATE_SCREENSHOT"):
        shutil.copyfile(ARTIFACTS / "web-3-example.png", ROOT / "docs" / "screenshot.png")

    # The link holds the view, never the key.
    link = page.url
    assert server.key not in link and "dataset=" in link and "example=" in link

    def assert_same_view(again: Page) -> None:
        expect(again.locator("#progress-text")).to_have_text("Done: 2 of 2 keys")
        assert_counts_match_api(again, server, world, keys, names)
        detail = again.locator("#drill .example-detail")
        expect(detail.locator('[data-role="inputs"]')).to_contain_text(
            example["inputs"]["question"]
        )
        expect(
            detail.locator(f'.side[data-session="{v2_id}"] [data-role="outputs"]')
        ).to_contain_text(answer(first, "candidate-v2"))
        for key in keys:
            expect(again.locator(f'#key-list input[value="{key}"]')).to_be_checked()

    page.reload()  # same tab: the key is still in session storage
    assert_same_view(page)

    # A colleague opening the link signs in first, then sees the same view.
    other = browser.new_context(viewport=LAPTOP).new_page()
    try:
        other.goto(link)
        expect(other.get_by_label("API key")).to_be_visible()
        sign_in(other, server.key)
        assert_same_view(other)
        shot(other, "4-shared-link")
    finally:
        other.context.close()

    # Closing the panel takes the drill-down out of the link; Escape closes it too and
    # gives focus back to the count it was opened from.
    page.get_by_role("button", name="Close the example list").click()
    expect(page.locator("#drill")).to_be_hidden()
    assert "open=" not in page.url
    improved = cell(page, "helpfulness", world.sessions["candidate-v3"], "improved")
    improved.click()
    expect(page.locator("#drill-title")).to_have_text("3 examples improved on “helpfulness”")
    expect(page.locator("#drill-title")).to_be_focused()
    page.keyboard.press("Escape")
    expect(page.locator("#drill")).to_be_hidden()
    expect(improved).to_be_focused()


def test_key_is_kept_in_session_storage_only(
    shared_server: Server, world: World, page: Page
) -> None:
    page.goto(shared_server.url + "/ui")
    sign_in(page, shared_server.key)
    expect(page.get_by_label("Dataset")).to_be_visible()
    stored = page.evaluate("() => [sessionStorage.length, localStorage.length, document.cookie]")
    assert stored == [1, 0, ""]
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("API key")).to_be_visible()
    assert page.evaluate("() => sessionStorage.length") == 0


# --- errors are messages, never a blank page --------------------------------------------


def test_bad_key_is_a_clear_message(shared_server: Server, page: Page) -> None:
    page.goto(shared_server.url + "/ui")
    sign_in(page, "evd_not-a-real-key")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("The API key was not accepted (HTTP 401: Invalid API key)")
    expect(page.get_by_label("API key")).to_be_focused()
    assert page.evaluate("() => sessionStorage.length") == 0
    shot(page, "5-bad-key")


def test_rejected_requests_are_explained(shared_server: Server, world: World, page: Page) -> None:
    server = shared_server
    # A link to a dataset this key cannot see.
    page.goto(f"{server.url}/ui?dataset={uuid4()}")
    sign_in(page, server.key)
    expect(page.get_by_role("alert")).to_contain_text("was not found for this API key")

    # A filter that does not parse: 422, naming the experiment and the position.
    choose(page, world, ["candidate-v2"], ["correct"])
    page.get_by_text("Run filters").click()
    page.get_by_label("Filter for comparison “candidate-v2”").fill("eq(run_type")
    page.get_by_role("button", name="Compare").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("HTTP 422")
    expect(alert).to_contain_text("“candidate-v2”")
    expect(alert).to_contain_text("position 11")
    bad = page.get_by_label("Filter for comparison “candidate-v2”")
    expect(bad).to_be_focused()
    expect(bad).to_have_attribute("aria-invalid", "true")
    shot(page, "6-bad-filter")

    # An experiment deleted after it was chosen: 404, by name.
    http = server.http()
    doomed = http.post(
        "/sessions", json={"name": "doomed", "reference_dataset_id": world.dataset}
    ).json()
    page.get_by_label("Filter for comparison “candidate-v2”").fill("")
    page.get_by_label("Dataset").select_option(world.dataset)  # reloads the experiment list
    page.locator(f'#comparison-list input[value="{doomed["id"]}"]').check()
    page.get_by_label("Baseline experiment").select_option(world.baseline)
    page.locator('#key-list input[value="correct"]').check()
    assert http.delete(f"/sessions/{doomed['id']}").status_code == 200
    page.get_by_role("button", name="Compare").click()
    expect(page.get_by_role("alert")).to_contain_text(
        "Not found (HTTP 404: Session “doomed” not found in dataset “web-qa”)"
    )
    expect(page.locator("#progress-text")).to_have_text("Failed: 0 of 1 keys")


def test_failing_key_is_shown_beside_it_while_others_render(
    shared_server: Server, world: World, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = shared_server
    store = server.app.state.store
    original = store.delta
    release = threading.Event()

    def delta(query: Any, key: str, **kwargs: Any) -> Any:
        if key == "helpfulness":
            raise RuntimeError("helpfulness scores are unreadable")
        if key == "tone":
            release.wait(15)  # held until the page has shown the first two keys
        return original(query, key, **kwargs)

    monkeypatch.setattr(store, "delta", delta)
    try:
        page.goto(server.url + "/ui")
        sign_in(page, server.key)
        choose(page, world, ["candidate-v2"], ["correct", "helpfulness", "tone"])
        page.get_by_role("button", name="Compare").click()
        # Live: the first two keys are on screen while the third is still computing.
        expect(page.locator("#progress-text")).to_have_text("Computing… 2 of 3 keys, 1 failed")
        failed = page.locator('.key-card[data-key="helpfulness"]')
        expect(failed.locator('[data-role="key-error"]')).to_contain_text(
            "RuntimeError: helpfulness scores are unreadable"
        )
        expect(failed.locator(".pill")).to_have_text("failed")
        expect(page.locator('.key-card[data-key="tone"] .pill')).to_have_text("waiting…")
        shot(page, "7-failing-key-live")
    finally:
        release.set()
    expect(page.locator("#progress-text")).to_have_text("Done: 3 of 3 keys, 1 failed")
    assert_counts_match_api(page, server, world, ["correct", "tone"], ["candidate-v2"])
    expect(page.get_by_role("alert")).to_be_hidden()
    shot(page, "8-failing-key-done")


def test_stop_ends_the_stream_and_says_so(
    shared_server: Server, world: World, page: Page, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = shared_server.app.state.store
    original = store.delta
    release = threading.Event()

    def delta(query: Any, key: str, **kwargs: Any) -> Any:
        if key == "tone":
            release.wait(15)
        return original(query, key, **kwargs)

    monkeypatch.setattr(store, "delta", delta)
    try:
        page.goto(shared_server.url + "/ui")
        sign_in(page, shared_server.key)
        choose(page, world, ["candidate-v3"], ["correct", "tone"])
        page.get_by_role("button", name="Compare").click()
        expect(page.locator("#progress-text")).to_have_text("Computing… 1 of 2 keys")
        page.get_by_role("button", name="Stop").click()
        expect(page.locator("#progress-text")).to_have_text("Stopped: 1 of 2 keys")
        expect(page.locator('.key-card[data-key="tone"]')).to_contain_text(
            "Stopped before this key arrived."
        )
        expect(page.get_by_role("button", name="Stop")).to_be_hidden()
        expect(page.get_by_role("alert")).to_be_hidden()
    finally:
        release.set()


# --- statistics, when the stream carries them ---------------------------------------------


def test_statistics_columns_appear_only_with_stats(
    shared_server: Server, world: World, page: Page
) -> None:
    v2, v3 = world.sessions["candidate-v2"], world.sessions["candidate-v3"]
    ids = [e["id"] for e in world.examples]
    stats = {
        "n_paired": 8,
        "mean_delta": 0.25,
        "ci_low": 0.1,
        "ci_high": 0.4,
        "sign_test_p": 0.0312,
        "wilcoxon_p": 0.0401,
    }
    chunks = [
        {
            "feedback_deltas": {
                "correct": {
                    v2: {
                        "improved_examples": ids[:3],
                        "regressed_examples": ids[3:4],
                        "stats": stats,
                    },
                    v3: {
                        "improved_examples": [],
                        "regressed_examples": [],
                        "stats": {"mean_delta": None},
                    },
                }
            },
            "errors": None,
        },
        {
            "feedback_deltas": {
                "helpfulness": {
                    v2: {"improved_examples": ids[:1], "regressed_examples": []},
                    v3: {"improved_examples": [], "regressed_examples": ids[:2]},
                }
            },
            "errors": None,
        },
    ]
    # CRLF line endings, a comment and a multi-line data field: what any server may send.
    body = ": statistics ahead\r\n\r\n"
    for chunk in chunks:
        text = json.dumps(chunk, indent=1)
        body += (
            "event: data\r\n" + "".join(f"data: {line}\r\n" for line in text.split("\n")) + "\r\n"
        )
    end = {"holm_sign_test_p": {v2: {"correct": 0.0624, "helpfulness": 1.0}}}
    body += f"event: end\r\ndata: {json.dumps(end)}\r\n\r\n"

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, headers={"content-type": "text/event-stream"}, body=body)

    page.route("**/runs/delta/stream", fulfil)
    page.goto(shared_server.url + "/ui")
    sign_in(page, shared_server.key)
    choose(page, world, ["candidate-v2", "candidate-v3"], ["correct", "helpfulness"])
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#progress-text")).to_have_text("Done: 2 of 2 keys")
    with_stats = page.locator('.key-card[data-key="correct"]')
    expect(with_stats.get_by_role("columnheader", name="Mean Δ [95% CI]")).to_be_visible()
    row = with_stats.locator(f'tbody tr[data-exp="{v2}"]')
    expect(row.locator('[data-role="mean-delta"]')).to_have_text("+0.25 [+0.1, +0.4] · 8 pairs")
    expect(row.locator('[data-role="p-value"]')).to_have_text(
        "0.031 (sign test; Holm across keys 0.062; Wilcoxon 0.040)"
    )
    expect(row.locator('[data-role="net"]')).to_have_text("+2")
    expect(with_stats.locator(f'tbody tr[data-exp="{v3}"] [data-role="mean-delta"]')).to_have_text(
        "—"
    )
    without = page.locator('.key-card[data-key="helpfulness"]')
    expect(without.locator("thead th")).to_have_count(4)
    expect(cell(page, "helpfulness", v3, "regressed")).to_have_attribute("data-count", "2")
    shot(page, "9-statistics")


# --- phone width, accessibility basics, the SSE parser ------------------------------------


def test_phone_width_and_accessibility_basics(
    shared_server: Server, world: World, browser: Browser
) -> None:
    v2 = world.sessions["candidate-v2"]
    # A phone in dark mode: the dark palette must keep its contrast too.
    context = browser.new_context(
        viewport=PHONE, is_mobile=True, has_touch=True, color_scheme="dark"
    )
    try:
        page = context.new_page()
        page.goto(
            f"{shared_server.url}/ui?dataset={world.dataset}&baseline={world.baseline}"
            f"&compare={v2}&key=correct&key=helpfulness"
        )
        # Keyboard only: the key field has focus, Enter signs in.
        expect(page.get_by_label("API key")).to_be_focused()
        page.keyboard.type(shared_server.key)
        page.keyboard.press("Enter")
        expect(page.locator("#progress-text")).to_have_text("Done: 2 of 2 keys")
        cell(page, "correct", v2, "improved").click()
        page.locator("#drill .example-link").first.click()
        expect(page.locator('#drill [data-role="outputs"]').first).to_be_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        wide = page.evaluate(
            """(limit) => [...document.querySelectorAll('body *')]
                 .filter(el => el.getBoundingClientRect().right > limit + 0.5)
                 .map(el => `${el.tagName}.${el.className} ${el.getBoundingClientRect().right}`)""",
            PHONE["width"],
        )
        assert width <= PHONE["width"], (
            f"the page scrolls sideways on a phone ({width}px): {wide[:8]}"
        )
        unlabelled = page.evaluate(
            """() => [...document.querySelectorAll('input, select, button')]
                 .filter(el => !(el.labels?.length || el.getAttribute('aria-label')
                                 || el.textContent.trim()))
                 .map(el => el.outerHTML)"""
        )
        assert unlabelled == []
        assert page.evaluate(LOW_CONTRAST_JS) == []
        shot(page, "10-phone")
    finally:
        context.close()


def test_sse_parser_handles_any_split(shared_server: Server, page: Page) -> None:
    page.goto(shared_server.url + "/ui")
    results = page.evaluate(
        """async () => {
          const { SSEParser } = await import('/ui/static/sse.js');
          const text = ': hi\\r\\nevent: data\\r\\ndata: {"a":\\r\\ndata: 1}\\r\\n\\r\\n'
                     + 'data: plain\\n\\nevent: end\\rdata: {}\\r\\r';
          const outcomes = new Set();
          for (let i = 0; i <= text.length; i++) {
            for (let j = i; j <= text.length; j++) {
              const seen = [];
              const parser = new SSEParser((e) => seen.push(e));
              for (const part of [text.slice(0, i), text.slice(i, j), text.slice(j)]) {
                parser.push(part);
              }
              outcomes.add(JSON.stringify(seen));
            }
          }
          return [...outcomes];
        }"""
    )
    assert [json.loads(r) for r in results] == [
        [
            {"event": "data", "data": '{"a":\n1}'},
            {"event": "message", "data": "plain"},
            {"event": "end", "data": "{}"},
        ]
    ]


# --- serving ------------------------------------------------------------------------------


def test_page_and_assets_are_served_without_a_key(shared_server: Server) -> None:
    with httpx.Client(base_url=shared_server.url) as client:
        for path in ("/", "/ui"):
            page = client.get(path)
            assert page.status_code == 200
            assert page.headers["content-type"].startswith("text/html")
            assert "default-src 'none'" in page.headers["content-security-policy"]
            assert '<script type="module" src="/ui/static/app.js">' in page.text
        for name in ("app.js", "api.js", "sse.js", "style.css"):
            asset = client.get(f"/ui/static/{name}")
            assert asset.status_code == 200, name
        assert client.get("/ui/static/app.js").headers["content-type"].startswith("text/javascript")
        assert client.get("/ui/static/missing.js").status_code == 404
        assert client.get("/ui/static/..%2Frouter.py").status_code == 404
        assert client.get("/ui/static/index.html").status_code == 404
        assert client.get("/api/v1/datasets").status_code == 401  # the API still needs a key


# --- pairwise experiments -------------------------------------------------------------


def test_pairwise_view_shows_wins_ties_and_losses(
    shared_server: Server, world: World, page: Page
) -> None:
    """A pairwise experiment of baseline-v1 and candidate-v2 that preferred whichever was
    `correct` (a tie when both or neither were): candidate-v2 wins 2, ties 4, loses 2."""
    http = shared_server.http()
    v2 = world.sessions["candidate-v2"]
    pairwise = http.post(
        "/datasets/comparative",
        json={"name": "judge: correctness", "experiment_ids": [world.baseline, v2]},
    ).json()
    correct = {
        name: dict(zip((e["id"] for e in world.examples), SCORES[name]["correct"], strict=True))
        for name in ("baseline-v1", "candidate-v2")
    }
    group: dict[str, str] = {}
    for name, session in (("baseline-v1", world.baseline), ("candidate-v2", v2)):
        other = "candidate-v2" if name == "baseline-v1" else "baseline-v1"
        runs = http.post("/runs/query", json={"session": [session], "is_root": True}).json()
        for run in runs["runs"]:
            example = run["reference_example_id"]
            mine, theirs = correct[name][example], correct[other][example]
            body = {
                "run_id": run["id"],
                "key": "preferred",
                "score": 0.5 if mine == theirs else float(mine),
                "comparative_experiment_id": pairwise["id"],
                "feedback_group_id": group.setdefault(example, str(uuid4())),
            }
            assert http.post("/feedback", json=body).status_code == 200
    page.goto(shared_server.url + "/")
    sign_in(page, shared_server.key)
    page.get_by_label("Dataset").select_option(world.dataset)
    page.get_by_label("Pairwise experiment").select_option(pairwise["id"])
    expect(page.get_by_label("Baseline experiment")).to_have_value(world.baseline)
    expect(page.locator(f'#comparison-list input[value="{v2}"]')).to_be_checked()
    expect(page.locator('#key-list input[value="preferred"]')).to_be_checked()
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#progress-text")).to_have_text("Done: 1 of 1 keys")
    expect(page.locator("#results-sub")).to_contain_text("Pairwise “judge: correctness”")
    line = row(page, "preferred", v2)
    expect(line.locator('[data-kind="improved"]')).to_have_attribute("data-count", "2")
    expect(line.locator('[data-role="ties"]')).to_have_text("= 4")
    expect(line.locator('[data-kind="regressed"]')).to_have_attribute("data-count", "2")
    expect(line.locator('[data-role="win-rate"]')).to_contain_text("50%")
    expect(line.locator('[data-role="p-value"]')).to_contain_text("exact binomial")
    assert "pairwise=" in page.url
    shot(page, "pairwise")

    # The examples candidate-v2 won, each with both sides' pairwise scores.
    line.locator('[data-kind="improved"]').click()
    expect(page.locator("#drill-title")).to_have_text("2 examples won on “preferred”")
    page.locator("#drill .example-link").first.click()
    detail = page.locator("#drill .example-detail")
    expect(detail.locator(f'.side[data-session="{v2}"] h4').first).to_contain_text("Preferred")
    expect(detail.locator(f'.side[data-session="{v2}"] [data-role="key-mean"]')).to_have_text(
        "Mean “preferred”: 1"
    )
    expect(
        detail.locator(f'.side[data-session="{world.baseline}"] [data-role="key-mean"]')
    ).to_have_text("Mean “preferred”: 0")

    # A link brings the pairwise view back, drill-down included.
    page.reload()  # same tab: the key is still in session storage
    expect(page.locator("#progress-text")).to_have_text("Done: 1 of 1 keys")
    expect(page.get_by_label("Pairwise experiment")).to_have_value(pairwise["id"])
    expect(page.locator("#drill-title")).to_have_text("2 examples won on “preferred”")
    expect(row(page, "preferred", v2).locator('[data-role="ties"]')).to_have_text("= 4")
