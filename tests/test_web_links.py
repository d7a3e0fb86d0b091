"""The links the LangSmith SDK prints open the comparison page on what they name.

``evaluate()`` runs twice against a real server through the SDK; the link it prints is
captured from stdout and opened in Chromium: after signing in, the second experiment is
compared with the first, on every key, with the API's numbers. The pairwise link opens the
pairwise view.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from langsmith.evaluation._runner import ComparativeExperimentResults, ExperimentResults
from playwright.sync_api import Page, expect

from tests.conftest import Server
from tests.support.browser import shot, sign_in

pytestmark = pytest.mark.sdk

# The ids of what evaluate() made, as its results carry them (older SDKs' results do not).
needs_result_ids = pytest.mark.skipif(
    not hasattr(ExperimentResults, "experiment_id")
    or not hasattr(ComparativeExperimentResults, "comparative_experiment"),
    reason="this SDK's evaluate() results carry no experiment ids",
)

PRINTED = re.compile(r"View the (?:pairwise )?evaluation results.*? at:\n(\S+)")
N = 8


def first_answer(inputs: dict[str, Any]) -> dict[str, Any]:
    return {"answer": inputs["n"] * 2}


def second_answer(inputs: dict[str, Any]) -> dict[str, Any]:
    """Right on even n, wrong on odd n: four examples regress against the first."""
    n = inputs["n"]
    return {"answer": n * 2 if n % 2 == 0 else n * 3}


def correct(outputs: dict[str, Any], reference_outputs: dict[str, Any]) -> bool:
    return bool(outputs["answer"] == reference_outputs["answer"])


def brevity(outputs: dict[str, Any]) -> dict[str, Any]:
    return {"key": "brevity", "score": 1.0 / (1 + len(str(outputs["answer"])))}


def prefers_correct(runs: list[Any], example: Any) -> dict[str, Any]:
    """A pairwise evaluator: 1 for each run that answers right, 0 for one that does not."""
    want = example.outputs["answer"]
    return {"key": "preferred", "scores": {r.id: int(r.outputs["answer"] == want) for r in runs}}


def printed_link(out: str) -> str:
    found = PRINTED.findall(out)
    assert found, f"the SDK printed no link: {out!r}"
    return str(found[-1])


@pytest.fixture(scope="module")
def evaluated(shared_server: Server) -> dict[str, Any]:
    """A dataset and two experiments made by ``evaluate()``, with the links it printed."""
    from langsmith import Client

    client = Client(
        api_url=shared_server.url + "/api/v1", api_key=shared_server.key, web_url=shared_server.url
    )
    dataset = client.create_dataset("links-arith")
    client.create_examples(
        dataset_id=dataset.id,
        examples=[{"inputs": {"n": n}, "outputs": {"answer": n * 2}} for n in range(N)],
    )
    return {"client": client, "dataset": dataset}


def run_evaluate(capsys: pytest.CaptureFixture[str], client: Any, *args: Any, **kw: Any) -> Any:
    capsys.readouterr()
    results = client.evaluate(*args, **kw)
    client.flush()
    return results, printed_link(capsys.readouterr().out)


@needs_result_ids
def test_the_link_evaluate_prints_opens_the_comparison(
    shared_server: Server,
    evaluated: dict[str, Any],
    page: Page,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, dataset = evaluated["client"], evaluated["dataset"]
    first, _ = run_evaluate(
        capsys, client, first_answer, data=dataset.name, evaluators=[correct, brevity]
    )
    second, link = run_evaluate(
        capsys, client, second_answer, data=dataset.name, evaluators=[correct, brevity]
    )
    base, cand = str(first.experiment_id), str(second.experiment_id)
    tenant = shared_server.tenant_ids["alpha"]
    assert link == (
        f"{shared_server.url}/o/{tenant}/datasets/{dataset.id}/compare?selectedSessions={cand}"
    )

    page.goto(link)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_in(page, shared_server.key)
    expect(page.locator("#progress-text")).to_have_text("Done: 2 of 2 keys")
    # The lone experiment of the link is compared with the one evaluated before it.
    expect(page.get_by_label("Baseline experiment")).to_have_value(base)
    expect(page.locator(f'#comparison-list input[value="{cand}"]')).to_be_checked()
    with shared_server.http() as http:
        answer = http.post(
            f"/datasets/{dataset.id}/runs/delta",
            json={
                "baseline_session_id": base,
                "comparison_session_ids": [cand],
                "feedback_key": "correct",
            },
        ).json()["feedback_deltas"][cand]
    assert len(answer["regressed_examples"]) == N // 2 and not answer["improved_examples"]
    row = page.locator(f'.key-card[data-key="correct"] tbody tr[data-exp="{cand}"]')
    expect(row.locator('[data-kind="regressed"]')).to_have_attribute("data-count", str(N // 2))
    expect(row.locator('[data-kind="improved"]')).to_have_attribute("data-count", "0")
    expect(page.locator('.key-card[data-key="brevity"]')).to_be_visible()
    # The address is now the page's own, and a reload brings the same view back.
    assert page.url.startswith(f"{shared_server.url}/ui?dataset={dataset.id}")
    assert "key=correct" in page.url and "key=brevity" in page.url
    shot(page, "sdk-link")
    page.reload()
    expect(page.locator("#progress-text")).to_have_text("Done: 2 of 2 keys")
    expect(row.locator('[data-kind="regressed"]')).to_have_attribute("data-count", str(N // 2))

    # The first experiment's own link: nothing before it, so the page asks for a baseline.
    first_link = (
        f"{shared_server.url}/o/{tenant}/datasets/{dataset.id}/compare?selectedSessions={base}"
    )
    other = page.context.browser.new_context().new_page()  # type: ignore[union-attr]
    try:
        other.goto(first_link)
        sign_in(other, shared_server.key)
        expect(other.get_by_role("alert")).to_contain_text("choose a baseline")
        expect(other.locator(f'#comparison-list input[value="{base}"]')).to_be_checked()
        expect(other.locator("#results")).to_be_hidden()
    finally:
        other.context.close()


@needs_result_ids
def test_the_pairwise_link_opens_the_pairwise_view(
    shared_server: Server,
    evaluated: dict[str, Any],
    page: Page,
    capsys: pytest.CaptureFixture[str],
) -> None:
    client, dataset = evaluated["client"], evaluated["dataset"]
    a, _ = run_evaluate(capsys, client, first_answer, data=dataset.name, evaluators=[correct])
    b, _ = run_evaluate(capsys, client, second_answer, data=dataset.name, evaluators=[correct])
    pairwise, link = run_evaluate(
        capsys, client, (a.experiment_name, b.experiment_name), evaluators=[prefers_correct]
    )
    comparative = str(pairwise.comparative_experiment.id)
    assert f"comparativeExperiment={comparative}" in link

    page.goto(link)
    sign_in(page, shared_server.key)
    expect(page.locator("#progress-text")).to_have_text("Done: 1 of 1 keys")
    expect(page.get_by_label("Pairwise experiment")).to_have_value(comparative)
    expect(page.get_by_label("Baseline experiment")).to_have_value(str(a.experiment_id))
    row = page.locator(f'.key-card[data-key="preferred"] tbody tr[data-exp="{b.experiment_id}"]')
    # b answers odd n wrong, a never does: a wins those four, the other four are ties.
    expect(row.locator('[data-kind="regressed"]')).to_have_attribute("data-count", str(N // 2))
    expect(row.locator('[data-role="ties"]')).to_have_text(f"= {N // 2}")


def test_link_routes_serve_the_page_without_a_key(shared_server: Server) -> None:
    ids = "/o/3f1c2f1e-7d7e-4a4b-9a53-1b1c0f0e0d0c/datasets/0d5e8f4e-2b1a-4c3d-8e7f-6a5b4c3d2e1f"
    with httpx.Client(base_url=shared_server.url) as anonymous:
        for path in (ids + "/compare?selectedSessions=x", ids):
            answered = anonymous.get(path)
            assert answered.status_code == 200, path
            assert "default-src 'none'" in answered.headers["content-security-policy"]
            assert answered.headers["referrer-policy"] == "no-referrer"
            assert '<script type="module" src="/ui/static/app.js">' in answered.text
        bad = anonymous.get("/o/not-a-tenant/datasets/nope/compare")
        assert bad.status_code == 422
        assert {e["loc"][-1] for e in bad.json()["detail"]} == {"tenant_id", "dataset_id"}
