"""The pull-request Markdown's links open the page on the regressed example: each link is
read back by the page's own URL-state parser (``urlstate.js``), in Debian's Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Browser, sync_playwright

from evaldelta.cli.comparison import Comparison, ExampleRow
from evaldelta.cli.regressed import page_link, regressed_markdown
from tests.conftest import Server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must have Debian's chromium at /usr/bin/chromium")
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def result(page_url: str) -> Comparison:
    found = Comparison(dataset="qa", baseline="base", page_url=page_url)
    found.selection = {
        "dataset": "d-1",
        "baseline": "s-base",
        "comparisons": ["s-a", "s-b"],
        "pairwise": None,
        "keys": ["correct", "ns:score"],
        "filters": {"s-a": ['eq(name, "a|b")'], "s-b": ['eq(status, "ok")', "gt(latency, 1)"]},
    }
    found.examples = [
        ExampleRow("ns:score", "a", "s-a", "e-9", 1.0, 0.0, "regressed", False, False, False)
    ]
    found.excerpts = {"e-9": '{"q":"a | b `x`"}'}
    return found


def test_the_page_reads_the_link_as_the_regressed_drill_down(
    shared_server: Server, browser: Browser
) -> None:
    found = result(shared_server.url)
    link = page_link(found, found.examples[0])
    assert link is not None and urlparse(link).path == "/ui"
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(shared_server.url + "/ui")
        state = page.evaluate(
            """async (search) => {
              const { readState } = await import('/ui/static/urlstate.js');
              return readState(search);
            }""",
            "?" + urlparse(link).query,
        )
    finally:
        context.close()
    assert state == {
        "dataset": "d-1",
        "pairwise": "",
        "baseline": "s-base",
        "comparisons": ["s-a", "s-b"],
        "keys": ["correct", "ns:score"],
        "filters": {"s-a": 'eq(name, "a|b")', "s-b": 'and(eq(status, "ok"), gt(latency, 1))'},
        "open": {"kind": "regressed", "session": "s-a", "key": "ns:score"},
        "example": "e-9",
    }


def test_the_markdown_row_keeps_its_table_shape() -> None:
    lines = regressed_markdown(result("http://evals.example"))
    row = lines[-1]
    # The excerpt's "|" and backticks cannot break the table or the code span.
    assert row.count(" | ") == 4 and '`{"q":"a \\| b \'x\'"}`' in row
