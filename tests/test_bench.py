"""The benchmark suite: its pieces, and one tiny end-to-end run through the CLI.

Not a timed test: it checks that the suite works and that the server's deltas equal the
NumPy floor's (correctness, not speed).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from uuid import UUID

import numpy as np
import orjson
import pytest
from typer.testing import CliRunner

from evaldelta.bench.harness.bulk import clickhouse as bulk_clickhouse
from evaldelta.bench.harness.bulk import store as bulk
from evaldelta.bench.harness.bulk.store import BulkResult
from evaldelta.bench.harness.floor import floor_data, floor_deltas
from evaldelta.bench.workload.data import KeySpec, Workload, generate, generate_experiment, keys_for
from evaldelta.bench.workload.ids import IdSpace, Kind, index_of
from evaldelta.bench.workload.payload import encode_runs, encode_traces
from evaldelta.bench.workload.records import Experiment
from evaldelta.bench.workload.scales import SCALES, Scale
from evaldelta.cli.main import app
from evaldelta.ingest.multipart import decode_body, group_run_parts, parse_multipart
from evaldelta.store.base import Row
from evaldelta.store.clickhouse.connection import connect
from evaldelta.store.clickhouse.store import ClickHouseStore
from tests.conftest import run_server


def test_ids_carry_their_index_and_are_uuids() -> None:
    ids = IdSpace(0xDEADBEEF)
    made = ids.make(Kind.RUN, 123_456)
    assert index_of(made) == 123_456
    assert len(made) == 36 and made.count("-") == 4
    assert ids.make(Kind.RUN, 1) != ids.make(Kind.FEEDBACK, 1)


def test_an_experiment_regenerated_alone_equals_the_whole_workload() -> None:
    scale = Scale("T", examples=40, experiments=3, keys=6, repetitions=2)
    whole = generate(scale, seed=7)
    base = generate_experiment(scale, 7, 0)
    second = generate_experiment(scale, 7, 2, base)
    np.testing.assert_array_equal(whole.scores[:, 2], second.scores)
    np.testing.assert_array_equal(whole.latency_ms[2], second.latency_ms)


def test_the_workload_has_every_kind_of_key_and_realistic_changes() -> None:
    scale = SCALES["S"]
    workload = generate(scale, seed=1)
    kinds = {k.kind for k in workload.keys}
    assert kinds == {"binary", "boolean", "likert", "continuous", "categorical", "cost"}
    assert sum(k.lower_is_better for k in workload.keys) == 1
    answer = floor_deltas(floor_data(workload))
    for spec in workload.keys:
        sizes = [len(up) + len(down) for up, down in answer[spec.name]]
        if spec.kind == "categorical":
            assert sizes == [0] * scale.comparisons  # values only: nothing to compare
        else:  # some changes, never most of the examples
            assert all(0 < n < scale.examples // 2 for n in sizes), (spec.name, sizes)
    null_share = np.isnan(workload.scores[2]).mean()  # "relevance" has evaluator errors
    assert 0.005 < null_share < 0.05


def test_floor_follows_the_documented_rule() -> None:
    nan = math.nan
    # one key, baseline + one comparison, 4 examples, 2 repetitions
    scores = np.array(
        [
            [
                [[1.0, 0.0], [2.0, 2.0], [3.0, nan], [nan, nan]],  # baseline means .5, 2, 3, —
                [[1.0, 1.0], [1.0, 3.0], [2.0, 2.0], [5.0, 5.0]],  # comparison 1, 2, 2, 5
            ]
        ]
    )
    latency = np.full((2, 4, 2), 100, dtype=np.int64)
    scale = Scale("T", examples=4, experiments=2, keys=1, repetitions=2)
    for lower, improved, regressed in ((False, [0], [2]), (True, [2], [0])):
        workload = Workload(scale, 0, (KeySpec("k", "continuous"),), scores, latency)
        if lower:
            workload = Workload(scale, 0, (KeySpec("k", "cost"),), scores, latency)
        ((up, down),) = floor_deltas(floor_data(workload))["k"]
        assert up.tolist() == improved and down.tolist() == regressed
    # a filter that drops the baseline's second repetition of example 0 makes it a tie
    latency[0, 0, 1] = 2000
    workload = Workload(scale, 0, (KeySpec("k", "continuous"),), scores, latency)
    ((up, down),) = floor_deltas(floor_data(workload), max_latency_s=1.5)["k"]
    assert up.tolist() == [] and down.tolist() == [2]


def test_bodies_parse_as_the_sdk_shaped_runs_and_feedback_they_are() -> None:
    scale = Scale("T", examples=3, experiments=2, keys=6, repetitions=2)
    base = generate_experiment(scale, 3, 0)
    ids = IdSpace(1)
    experiment = Experiment(0, "bench-baseline", ids.make(Kind.SESSION, 0))
    body = encode_runs(ids, keys_for(scale), experiment, base, range(3), zstd_level=3)
    assert body.headers["Content-Encoding"] == "zstd"
    raw = decode_body(body.content, "zstd", max_decoded_bytes=10**8)
    grouped = group_run_parts(parse_multipart(raw, body.headers["Content-Type"]))
    assert (len(grouped.posts), len(grouped.feedback)) == (6, 36) == (body.runs, body.feedback)
    post = grouped.posts[0]
    for field in ("session_name", "reference_example_id", "trace_id", "dotted_order"):
        assert post[field]
    assert post["start_time"] < post["end_time"] and post["inputs"] and post["outputs"]
    tone = [f for f in grouped.feedback if f["key"] == "tone"]
    assert all(f["score"] is None and f["value"] for f in tone)
    assert {type(f["score"]) for f in grouped.feedback if f["key"] == "is_concise"} == {bool}


def test_runs_only_bodies_are_traces_posted_then_patched(tmp_path: Path) -> None:
    """The runs-only workload as a server stores it: every root run of the experiment
    names its example, has its child under it, and is finished by its patch."""
    ids = IdSpace(0xABC)
    bodies = encode_traces(ids, "runs-only", 0, 3, examples=2, zstd_level=3)
    assert [(b.runs, b.feedback) for b in bodies] == [(6, 0), (0, 0)]
    with run_server(tmp_path / "data") as server, server.http() as http:
        for body in bodies:
            answer = http.post("/runs/multipart", content=body.content, headers=body.headers)
            assert answer.status_code == 202, answer.text
        session = http.get("/sessions", params={"name": "runs-only"}).json()[0]["id"]
        runs = http.post("/runs/query", json={"session": [session], "limit": 100}).json()["runs"]
    assert len(runs) == 6
    roots = {r["id"]: r for r in runs if r["parent_run_id"] is None}
    children = [r for r in runs if r["parent_run_id"] is not None]
    assert len(roots) == len(children) == 3
    assert {r["reference_example_id"] for r in roots.values()} == {
        ids.make(Kind.EXAMPLE, 0),
        ids.make(Kind.EXAMPLE, 1),
    }
    for child in children:
        assert child["trace_id"] == child["parent_run_id"] and child["parent_run_id"] in roots
    for run in runs:
        assert run["status"] == "success" and run["outputs"] and run["inputs"], run


def test_the_cpu_probe_applies_what_it_parses() -> None:
    """``ingest_cpu`` parses and stores every body it encodes (runs with feedback, and
    runs only), and says how many of each it measured."""
    from evaldelta.bench.benchmark.ingest_cpu import feedback_bodies, measure, trace_bodies

    line = measure(feedback_bodies(2))
    assert line.startswith("2 bodies, 100 runs, 2,000 feedback rows: "), line
    assert "per feedback row parse" in line
    line = measure(trace_bodies(2))
    assert line.startswith("2 bodies, 50 runs, 0 feedback rows: "), line


def test_bench_command_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    args = ["bench", "--scale", "XS", "--out", str(out), "--clients", "2", "--repeat", "2"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    result = orjson.loads(out.read_bytes())
    assert result["scale"] == "XS"
    assert result["feedback_rows"] == 50 * 4 * 6
    assert result["answers_agree"] is True
    for check in ("agreement_all_keys", "agreement_filtered", "agreement_single_key"):
        assert result[check]["ok"] and result[check]["mismatches"] == 0
    assert result["agreement_all_keys"]["lists_checked"] == 2 * 6 * 3 * 2  # repeats×keys×comps×2
    for field in (
        "stream_first_chunk_s",
        "stream_all_keys_s",
        "numpy_floor_all_keys_s",
        "single_key_s",
        "ingest_feedback_rows_per_s",
        "ingest_runs_per_s",
        "server_peak_rss_mib",
    ):
        assert isinstance(result[field], float) and result[field] > 0, field
    assert result["stream_first_chunk_s"] <= result["stream_all_keys_s"]
    assert result["ratio_all_keys"] == pytest.approx(
        result["stream_all_keys_s"] / result["numpy_floor_all_keys_s"]
    )
    # Rates are rounded in the report: compare them as floats, not bit for bit.
    assert result["ingest_feedback_rows_per_s"] == pytest.approx(6 * result["ingest_runs_per_s"])
    # Runs only: a root and a child run per trace, one trace per run of the scale.
    assert result["ingest_runs_only_runs"] == 2 * 50 * 4
    assert result["ingest_runs_only_runs_per_s"] > 0
    assert 50 < result["server_peak_rss_mib"] < 4096
    assert result["disk_bytes"] > 0
    assert result["profile"]["engine_delta_all_keys_s"] > 0, result["profile"]
    markdown = (tmp_path / "results.md").read_text()
    assert markdown.startswith("# evaldelta bench — scale XS")
    assert "| ingest, runs only (traces, no feedback): runs/s |" in markdown


TWO_REPS = Scale("T", examples=20, experiments=3, keys=6, repetitions=2)


def _load_chdb(tmp_path: Path, loader: Callable[..., BulkResult]) -> tuple[list[Row], list[Row]]:
    """Load a small workload with ``loader`` into a fresh chDB store; its feedback and runs."""
    scale, ids = TWO_REPS, IdSpace(0xC0FFEE)
    url = f"chdb://{tmp_path}"
    store = ClickHouseStore(url)
    tenant = store.write_tenant("bench")
    experiments = []
    for i in range(scale.experiments):
        session = UUID(ids.make(Kind.SESSION, i))
        store.write_session(tenant, {"id": session, "name": f"e{i}"}, upsert=False)
        experiments.append(Experiment(i, f"e{i}", str(session)))
    store.close()
    done = loader(url, tenant, scale, 7, ids, experiments, lambda n: None)
    assert (done.runs, done.feedback) == (scale.runs, scale.feedback_rows)
    conn = connect(url)
    try:
        skip = "EXCEPT (version, is_deleted)"
        feedback = conn.rows(f"SELECT * {skip} FROM feedback_versions FINAL ORDER BY id")
        runs = conn.rows(f"SELECT * {skip} FROM runs_versions FINAL ORDER BY id")
    finally:
        conn.close()
    return feedback, runs


def test_clickhouse_bulk_path_stores_what_ingest_stores(tmp_path: Path) -> None:
    """The direct insert used for L on ClickHouse leaves the same rows as the store's
    ingest (``apply_ingest``) given the same workload."""
    direct = _load_chdb(tmp_path / "direct", bulk_clickhouse.load)
    ingested = _load_chdb(tmp_path / "ingest", bulk.load)
    assert (len(direct[0]), len(direct[1])) == (TWO_REPS.feedback_rows, TWO_REPS.runs)
    assert direct == ingested


def test_bench_command_on_chdb_with_the_bulk_path(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    args = ["bench", "--scale", "XS", "--out", str(out), "--clients", "1", "--repeat", "1"]
    args += ["--store", f"chdb://{tmp_path / 'ch'}", "--ingest", "store"]
    args += ["--http-sample-rows", "120"]
    done = CliRunner().invoke(app, args)
    assert done.exit_code == 0, done.output
    result = orjson.loads(out.read_bytes())
    assert result["answers_agree"] is True
    assert result["ingest_feedback_rows"] < result["feedback_rows"]  # the HTTP sample only
    assert result["bulk_feedback_rows_per_s"] > 0
    assert result["disk_bytes"] > 0
    profile = result["profile"]
    assert profile["engine_delta_all_keys_s"] > 0 and profile["sql_without_dedup_s"] > 0, profile
    assert "FINAL" in (tmp_path / profile["explain_file"]).read_text()
