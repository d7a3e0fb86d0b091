"""Coverage, exports and the gate's new checks in ``compare`` and ``gate``, on both stores,
over the hand-worked coverage world (tests/support/coverage_world.py):

    judge, baseline vs comparison: 0 2 4 improved, 3 unchanged, 1 5 6 baseline only
    (1 errored in the comparison), 7 errored in the baseline; different splits.

The typer app runs in this process with real argument parsing and real HTTP to a real
server; every file it writes is read back with the standard library or pyarrow.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from evaldelta.cli.export import COLUMNS
from evaldelta.cli.main import app
from tests.conftest import Server, run_server, store_url
from tests.support.coverage_world import seed_coverage_world

pytestmark = pytest.mark.sdk

BUCKETS = {
    0: "improved",
    2: "improved",
    4: "improved",
    3: "unchanged",
    1: "baseline_only",
    5: "baseline_only",
    6: "baseline_only",
    7: "errored",
}
BASELINE = {n: float(n % 2) for n in range(7)}
COMPARISON = {n: 1.0 for n in (0, 2, 3, 4)}


@pytest.fixture(scope="module", params=["duckdb", "chdb"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Any]]:
    data = tmp_path_factory.mktemp(f"export-{request.param}") / "data"
    with run_server(data, store=store_url(request.param, Path(data))) as server:
        yield seed_coverage_world(server)


def run(world: dict[str, Any], command: str, *args: str) -> Any:
    server: Server = world["server"]
    result = CliRunner().invoke(
        app,
        [
            command,
            "--dataset",
            world["dataset_name"],
            "--baseline",
            world["baseline_name"],
            "--against",
            world["comparison_name"],
            *args,
        ],
        env={"LANGSMITH_ENDPOINT": server.url, "LANGSMITH_API_KEY": server.key},
    )
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def flat(text: str) -> str:
    return " ".join(text.split())


def test_csv_jsonl_and_parquet_hold_one_row_per_example(
    world: dict[str, Any], tmp_path: Path
) -> None:
    paths = {fmt: tmp_path / f"out.{fmt}" for fmt in ("csv", "jsonl", "parquet")}
    done = run(world, "compare", *[a for f, p in paths.items() for a in (f"--{f}", str(p))])
    assert done.exit_code == 0, done.stderr
    n_of = {v: k for k, v in world["examples"].items()}

    with paths["csv"].open(newline="") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames or ()) == COLUMNS
        from_csv = list(reader)
    from_jsonl = [json.loads(line) for line in paths["jsonl"].read_text().splitlines()]
    from_parquet = pq.read_table(paths["parquet"]).to_pylist()
    assert pq.read_table(paths["parquet"]).column_names == list(COLUMNS)

    for rows in (from_jsonl, from_parquet):
        assert {n_of[r["example_id"]]: r["bucket"] for r in rows} == BUCKETS
        by_n = {n_of[r["example_id"]]: r for r in rows}
        for n, row in by_n.items():
            assert row["baseline_mean"] == BASELINE.get(n)
            assert row["comparison_mean"] == COMPARISON.get(n)
            both = n in BASELINE and n in COMPARISON
            assert row["delta"] == (COMPARISON[n] - BASELINE[n] if both else None)
            assert row["comparison_errored"] is (n == 1)
            assert row["baseline_errored"] is (n == 7)
            assert row["key"] == "judge" and row["comparison"] == world["comparison_name"]
            assert row["baseline"] == world["baseline_name"]
    # The CSV says the same, in text: empty cells for missing means, true/false.
    assert len(from_csv) == len(from_jsonl)
    for text_row, row in zip(from_csv, from_jsonl, strict=True):
        for column in COLUMNS:
            value = row[column]
            if value is None:
                assert text_row[column] == "", column
            elif isinstance(value, bool):
                assert text_row[column] == str(value).lower(), column
            else:
                assert text_row[column] == str(value), column


def test_compare_warns_about_coverage(world: dict[str, Any]) -> None:
    done = run(world, "compare")
    assert done.exit_code == 0, done.stderr
    said = flat(done.stderr)
    comparison = world["comparison_name"]
    assert f"{comparison}: the experiments ran on different dataset splits" in said
    assert f"judge in {comparison}: 3 examples scored in the baseline only" in said
    assert f"judge in {comparison}: 1 example with an errored evaluation in the comparison" in said
    assert f"judge in {comparison}: 1 example with an errored evaluation in the baseline" in said


def test_compare_json_carries_coverage_counts(world: dict[str, Any]) -> None:
    done = run(world, "compare", "--json")
    assert done.exit_code == 0, done.stderr
    data = json.loads(done.stdout)
    (row,) = data["rows"]
    assert (row["n_paired"], row["n_baseline_only"], row["n_comparison_only"]) == (4, 3, 0)
    assert (row["n_errored_baseline"], row["n_errored_comparison"]) == (1, 1)
    assert any("different dataset splits" in w for w in row["warnings"])
    assert len(data["notes"]) == 4


def test_gate_passes_by_default_and_fails_on_missing_or_errors(
    world: dict[str, Any], tmp_path: Path
) -> None:
    # 3 improved, 0 regressed of 4 paired: sign test p = 2 * 0.5**3 = 0.25, not significant.
    assert run(world, "gate").exit_code == 0
    comparison = world["comparison_name"]
    missing = run(world, "gate", "--fail-on-missing")
    assert missing.exit_code == 1
    assert (
        f"judge in {comparison}: 3 examples scored in the baseline only, 0 in the comparison "
        "only (--fail-on-missing)" in flat(missing.stderr)
    )
    junit = tmp_path / "gate.xml"
    errors = run(world, "gate", "--fail-on-errors", "--junit", str(junit))
    assert errors.exit_code == 1
    reason = f"judge in {comparison}: 1 example with an errored evaluation (--fail-on-errors)"
    assert reason in flat(errors.stderr)
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("1", "1")
    (case,) = suite.findall("testcase")
    assert case.get("name") == f"judge in {comparison}"
    assert [f.get("message") for f in case.findall("failure")] == [reason]


def test_markdown_lists_the_warnings(world: dict[str, Any]) -> None:
    done = run(world, "gate", "--markdown")
    assert done.exit_code == 0, done.stderr
    bullets = [line for line in done.stdout.splitlines() if line.startswith("- ⚠ ")]
    assert len(bullets) == 4
    assert "**Top regressed examples**" not in done.stdout  # nothing regressed
    assert (
        Counter(b.removeprefix("- ⚠ ").split(": ")[0] for b in bullets)[
            f"judge in {world['comparison_name']}"
        ]
        == 3
    )


def _example(key: str, comparison: str, example: str, base: float, comp: float) -> Any:
    from evaldelta.cli.comparison import ExampleRow

    return ExampleRow(
        key, comparison, comparison, example, base, comp, "regressed", False, False, False
    )


def test_top_regressed_puts_significant_regressions_first_and_caps_the_list() -> None:
    from evaldelta.cli import regressed
    from evaldelta.cli.comparison import Comparison, Row

    def row(key: str, verdict: str) -> Row:
        return Row(key, "c", "c", 0, 0, 0, 0, 0, None, None, None, None, None, None, False, verdict)

    result = Comparison("d", "b", rows=[row("tone", "unclear"), row("quality", "regressed")])
    # tone has more regressed examples, but quality's regression is significant.
    result.examples = [_example("tone", "c", f"t{i}", 1.0, 0.9) for i in range(5)]
    result.examples += [
        _example("quality", "c", "q-small", 1.0, 0.8),
        _example("quality", "c", "q-big", 1.0, 0.0),
    ]
    picked = regressed.top_regressed(result)
    assert [r.example_id for r in picked] == ["q-big", "q-small", "t0", "t1", "t2"]
    assert len(regressed.top_regressed(result, top=5, limit=4)) == 4


def test_a_report_that_cannot_be_written_is_a_setup_error(
    world: dict[str, Any], tmp_path: Path
) -> None:
    nowhere = tmp_path / "no-such-dir" / "out.csv"
    done = run(world, "compare", "--csv", str(nowhere))
    assert done.exit_code == 2 and f"cannot write {nowhere}" in flat(done.stderr)
    # Exit 2, not 1: a gate whose report failed must not read as a regression.
    gate = run(world, "gate", "--junit", str(tmp_path / "no-such-dir" / "gate.xml"))
    assert gate.exit_code == 2
