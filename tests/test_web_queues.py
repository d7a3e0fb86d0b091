"""From a regression to a person, in Chromium: the examples that regressed on a key are
sent from the comparison page to an annotation queue (both sides' runs, paired), and the
queue's review view shows each pair side by side, writes the reviewer's scores through
``POST /feedback`` and marks the items reviewed. Checked through the SDK's own reads."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.support.browser import LOW_CONTRAST_JS, UNLABELLED_JS, shot, sign_in
from tests.support.page_world import PageWorld, output, seed


@pytest.fixture(scope="module")
def world(shared_server: Server) -> PageWorld:
    with shared_server.http() as http:
        return seed(http, "queue-qa")


def open_regressed(page: Page, server: Server, world: PageWorld) -> None:
    page.goto(
        f"{server.url}/ui?dataset={world.dataset}&baseline={world.baseline}"
        f"&compare={world.candidate}&key=correct"
    )
    sign_in(page, server.key)
    expect(page.locator("#progress-text")).to_have_text("Done: 1 of 1 keys")
    row = page.locator(f'.key-card[data-key="correct"] tbody tr[data-exp="{world.candidate}"]')
    row.locator('[data-kind="regressed"]').click()
    expect(page.locator("#drill .example-link")).to_have_count(len(world.regressed))


def send(page: Page, queue: str) -> None:
    page.get_by_role("button", name="Send regressed to a queue").click()
    name = page.get_by_label("Annotation queue (an existing one, or a new name)")
    expect(name).to_be_focused()
    name.fill(queue)
    page.get_by_role("button", name=f"Send {len(WORLD_REGRESSED)} examples").click()


WORLD_REGRESSED = [1, 4]  # the examples page_world makes regress


def from_app(feedback: Any) -> bool:
    return bool(feedback.feedback_source and feedback.feedback_source.type == "app")


def test_send_regressed_then_review_them(
    shared_server: Server, world: PageWorld, page: Page
) -> None:
    assert [e["id"] for i, e in enumerate(world.examples) if i in WORLD_REGRESSED] == (
        world.regressed
    )
    client = shared_server.sdk()
    open_regressed(page, shared_server, world)
    send(page, "triage")
    status = page.locator("#drill .queue-send [role=status]")
    expect(status).to_contain_text("Sent 4 runs of 2 examples to “triage”")

    [queue] = list(client.list_annotation_queues(name="triage"))
    assert [
        item["feedback_key"] for item in client.read_annotation_queue(queue.id).rubric_items or []
    ] == ["correct"]
    queued = list(client.list_runs_from_annotation_queue(queue.id))
    # Paired, example by example: the baseline's run, then the candidate's.
    assert [str(r.id) for r in queued] == [
        world.runs[(session, example)]
        for example in world.regressed
        for session in (world.baseline, world.candidate)
    ]
    assert all(r.last_reviewed_time is None for r in queued)

    # Sending again adds nothing twice.
    page.get_by_role("button", name="Send 2 examples").click()
    expect(status).to_contain_text("Sent 0 runs of 2 examples to “triage” (4 were already there)")
    assert len(list(client.list_runs_from_annotation_queue(queue.id))) == 4
    shot(page, "queue-sent")
    assert page.evaluate(LOW_CONTRAST_JS) == []
    assert page.evaluate(UNLABELLED_JS) == []

    # The review view: item by item, both sides, a score input per rubric key.
    page.get_by_role("link", name="Review them").click()
    expect(page.get_by_role("heading", name="Review “triage”")).to_be_visible()
    progress = page.locator("#review-progress")
    expect(progress).to_have_text("0 of 2 items reviewed")
    base_name, cand_name = "queue-qa-baseline", "queue-qa-candidate"
    scores: dict[str, tuple[float, float]] = {}
    for n, i in enumerate(WORLD_REGRESSED):
        item = page.locator(".review-item")
        expect(item.get_by_role("heading", name=f"Item {n + 1} of 2")).to_be_visible()
        expect(item.locator('[data-role="inputs"]')).to_contain_text(f"queue-qa question {i}")
        expect(item.locator('[data-role="reference"]')).to_contain_text(f"reference {i}")
        expect(item.locator(f'.side[data-session="{world.baseline}"] h3')).to_contain_text(
            "Baseline"
        )
        expect(
            item.locator(f'.side[data-session="{world.baseline}"] [data-role="outputs"]')
        ).to_contain_text(output("baseline", i))
        expect(
            item.locator(f'.side[data-session="{world.candidate}"] [data-role="outputs"]')
        ).to_contain_text(output("candidate", i))
        if n == 0:
            # Nothing filled in: nothing is written, and the page says why.
            page.get_by_role("button", name="Save and next").click()
            expect(item.locator('[data-role="review-message"]')).to_have_text(
                "Give at least one score, or skip this item."
            )
            shot(page, "queue-review")
            assert page.evaluate(LOW_CONTRAST_JS) == []
            assert page.evaluate(UNLABELLED_JS) == []
        scores[world.examples[i]["id"]] = (1.0, 0.25 * (n + 1))
        page.get_by_label(f"correct for “{base_name}”", exact=True).fill("1")
        page.get_by_label(f"correct for “{cand_name}”", exact=True).fill(str(0.25 * (n + 1)))
        page.get_by_label(f"Note for “{cand_name}” (optional)").fill(f"worse on {i}")
        page.get_by_role("button", name="Save and next").click()
        expect(progress).to_have_text(f"{n + 1} of 2 items reviewed")
    expect(page.locator('[data-role="review-done"]')).to_have_text(
        "Every item of this queue is reviewed."
    )

    # What the reviewer wrote is feedback like any other, and every item is reviewed.
    reviewed = list(client.list_runs_from_annotation_queue(queue.id))
    assert all(r.last_reviewed_time is not None for r in reviewed)
    run_ids = [r.id for r in reviewed]
    by_run: dict[str, list[Any]] = {}
    for fb in client.list_feedback(run_ids=run_ids, feedback_key=["correct"]):
        by_run.setdefault(str(fb.run_id), []).append(fb)
    for example, (base_score, cand_score) in scores.items():
        base_fb = by_run[world.runs[(world.baseline, example)]]
        cand_fb = by_run[world.runs[(world.candidate, example)]]
        # Beside the seeded score, the reviewer's: from the app, the note on its side only.
        assert len(base_fb) == len(cand_fb) == 2
        assert [(f.score, f.comment) for f in base_fb if from_app(f)] == [(base_score, None)]
        [written] = [f for f in cand_fb if from_app(f)]
        assert written.score == cand_score and (written.comment or "").startswith("worse on ")
    assert page.evaluate("() => sessionStorage.length") == 1  # the key only, as on /ui


def test_another_tenants_queue_is_not_found(shared_server: Server, page: Page) -> None:
    with shared_server.http() as alpha:
        queue = alpha.post("/annotation-queues", json={"name": "alpha only"}).json()
    page.goto(f"{shared_server.url}/ui/review/{queue['id']}")
    sign_in(page, shared_server.keys["beta"])
    expect(page.get_by_role("heading", name="No queue to review")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("HTTP 404")
    expect(page.locator(".review-item")).to_have_count(0)
