"""The load test, small: ``evaldelta load`` at XS for a few seconds, as CI runs it.

Twenty delta streams read all keys over and over while two processes ingest new
experiments through ``POST /runs/multipart``.  Not a timed test: it asserts what a user
would notice under load — no failed request, every stream complete and correct, every
acknowledged write stored once — and that the server's memory levels off.
"""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from evaldelta.cli.main import app

SECONDS = 10
STREAMS = 20


def test_streams_and_ingest_under_load_lose_nothing(tmp_path: Path) -> None:
    out = tmp_path / "load.json"
    args = ["load", "--scale", "XS", "--seconds", str(SECONDS), "--streams", str(STREAMS)]
    args += ["--ingest-clients", "2", "--runs-per-request", "10", "--out", str(out)]
    done = CliRunner().invoke(app, args)
    result = orjson.loads(out.read_bytes())
    assert done.exit_code == 0, (done.output, result)

    # Every stream that started finished: each key in one event, then `end`, and the same
    # improved/regressed examples as the NumPy floor.
    assert result["stream_errors"] == 0, result["stream_error_examples"]
    assert result["streams_complete"] == result["streams_started"] >= STREAMS
    assert result["stream_end_p99_s"] >= result["stream_first_chunk_p99_s"] > 0

    # Ingest went on the whole time and every acknowledged write is stored exactly once.
    assert result["ingest_errors"] == 0, result["ingest_error_examples"]
    assert result["ingest_missing_or_extra"] == 0, result["ingest_problems"]
    assert result["ingest_runs_acknowledged"] > 0 and result["ingest_request_p99_s"] > 0
    assert result["ingest_feedback_acknowledged"] == 6 * result["ingest_runs_acknowledged"]

    # Memory levels off: a generous bound, far above what a steady server needs.
    assert result["rss_peak_mib"] < result["rss_before_mib"] + 1024
    assert result["rss_growth_second_half_mib"] < 256
    assert len(result["rss_samples"]) >= SECONDS // 2

    table = out.with_suffix(".md").read_text()
    assert "| zero errors | yes |" in table
