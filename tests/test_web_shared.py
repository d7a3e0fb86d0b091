"""The read-only view of a share link (``/public/{share_token}/d``), in Chromium.

The dataset is shared through the SDK's ``share_dataset`` (whose ``url`` is the page) and
with its experiments through ``PUT /datasets/{id}/share?share_projects=true``. The view
compares them with no key: every call goes to the public routes, none writes, no key is
sent even from a tab that is signed in, and a revoked share says so.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, Request, expect

from tests.conftest import Server
from tests.support.browser import LOW_CONTRAST_JS, shot, sign_in
from tests.support.page_world import PageWorld, output, seed


@pytest.fixture(scope="module")
def world(shared_server: Server) -> PageWorld:
    with shared_server.http() as http:
        return seed(http, "shared-qa")


def watch(page: Page) -> list[Request]:
    """Every request the page makes from now on."""
    seen: list[Request] = []
    page.on("request", lambda request: seen.append(request))
    return seen


def api_calls(seen: list[Request]) -> list[Request]:
    return [r for r in seen if "/api/" in r.url]


def test_share_link_opens_a_read_only_comparison(
    shared_server: Server, world: PageWorld, page: Page
) -> None:
    from langsmith import Client

    client = Client(
        api_url=shared_server.url + "/api/v1", api_key=shared_server.key, web_url=shared_server.url
    )
    shared: Any = client.share_dataset(world.dataset)
    token = str(shared["share_token"])
    link = f"{shared_server.url}/public/{token}/d"
    assert shared["url"] == link

    # This tab is signed in: the shared view must still send no key.
    page.goto(shared_server.url + "/ui")
    sign_in(page, shared_server.key)
    expect(page.get_by_label("Dataset")).to_be_visible()
    seen = watch(page)

    # Shared without its experiments: the dataset opens, and the page says why it is empty.
    page.goto(link)
    expect(page.get_by_role("alert")).to_contain_text("shared without its experiments")
    expect(page.locator("#read-only")).to_be_visible()

    with shared_server.http() as http:
        again = http.put(f"/datasets/{world.dataset}/share", params={"share_projects": True})
        assert again.status_code == 200 and again.json()["share_token"] == token
    view = f"{link}?baseline={world.baseline}&compare={world.candidate}&key=correct"
    page.goto(view)
    expect(page.locator("#progress-text")).to_have_text("Done: 1 of 1 keys")
    row = page.locator(f'.key-card[data-key="correct"] tbody tr[data-exp="{world.candidate}"]')
    expect(row.locator('[data-kind="regressed"]')).to_have_attribute(
        "data-count", str(len(world.regressed))
    )
    expect(row.locator('[data-kind="improved"]')).to_have_attribute(
        "data-count", str(len(world.improved))
    )
    expect(page.get_by_role("alert")).to_be_hidden()
    expect(page.get_by_role("heading", name="Sign in")).to_be_hidden()
    expect(page.get_by_role("button", name="Sign out")).to_be_hidden()
    expect(page.get_by_role("button", name="Send regressed to a queue")).to_have_count(0)
    expect(page.get_by_label("Dataset")).to_be_disabled()

    # The examples behind a count, with their inputs, from the public examples.
    row.locator('[data-kind="regressed"]').click()
    links = page.locator("#drill .example-link")
    expect(links).to_have_count(len(world.regressed))
    first = next(e for e in world.examples if e["id"] == world.regressed[0])
    expect(links.first).to_contain_text(first["inputs"]["question"])
    shot(page, "shared-read-only")
    assert page.evaluate(LOW_CONTRAST_JS) == []
    assert f"/public/{token}/d?" in page.url and "open=regressed" in page.url

    calls = api_calls(seen)
    assert calls, "the page made no API call"
    for request in calls:
        assert "x-api-key" not in request.headers, request.url
        assert "authorization" not in request.headers, request.url
        assert request.url.startswith(f"{shared_server.url}/api/v1/public/{token}/"), request.url
        assert request.method in ("GET", "POST"), request.url
        if request.method == "POST":  # reads that need a body, never a write
            assert request.url.split(f"/public/{token}")[1].startswith("/datasets/runs/")
    # The token lives in the address only: nothing stored, no cookie.
    stored = page.evaluate(
        "() => JSON.stringify([Object.entries(sessionStorage), Object.entries(localStorage)])"
        " + document.cookie"
    )
    assert token not in stored

    # Unshared: the same link now says plainly that it opens nothing.
    assert client.unshare_dataset(world.dataset) is None
    page.reload()
    expect(page.get_by_role("alert")).to_contain_text("does not open anything")
    expect(page.locator("#workspace")).to_be_hidden()
    shot(page, "shared-revoked")


def test_example_detail_in_the_shared_view(
    shared_server: Server, world: PageWorld, page: Page
) -> None:
    """Both experiments' outputs of one example, through the public runs and feedback."""
    with shared_server.http() as http:
        token = http.put(
            f"/datasets/{world.dataset}/share", params={"share_projects": True}
        ).json()["share_token"]
    example = world.regressed[0]
    page.goto(
        f"{shared_server.url}/public/{token}/d?baseline={world.baseline}"
        f"&compare={world.candidate}&key=correct"
        f"&open=regressed:{world.candidate}:correct&example={example}"
    )
    detail = page.locator("#drill .example-detail")
    i = next(n for n, e in enumerate(world.examples) if e["id"] == example)
    expect(
        detail.locator(f'.side[data-session="{world.candidate}"] [data-role="outputs"]')
    ).to_contain_text(output("candidate", i))
    expect(
        detail.locator(f'.side[data-session="{world.baseline}"] [data-role="key-mean"]')
    ).to_have_text("Mean “correct”: 1")
