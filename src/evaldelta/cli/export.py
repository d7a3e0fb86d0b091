"""``compare --csv/--parquet/--jsonl``: one row per key × comparison × example, with both
sides' means and the example's bucket (docs/ci.md lists the columns)."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import orjson

from evaldelta.cli.comparison import Comparison

COLUMNS = (
    "dataset",
    "baseline",
    "comparison",
    "comparison_id",
    "key",
    "example_id",
    "baseline_mean",
    "comparison_mean",
    "delta",
    "bucket",
    "baseline_errored",
    "comparison_errored",
    "lower_is_better",
)


def records(result: Comparison) -> list[dict[str, Any]]:
    """The export's rows, ordered by key, comparison, then example id."""
    rows = sorted(result.examples, key=lambda r: (r.key, r.comparison, r.example_id))
    return [
        {
            "dataset": result.dataset,
            "baseline": result.baseline,
            "comparison": r.comparison,
            "comparison_id": r.comparison_id,
            "key": r.key,
            "example_id": r.example_id,
            "baseline_mean": r.baseline_mean,
            "comparison_mean": r.comparison_mean,
            "delta": r.delta,
            "bucket": r.bucket,
            "baseline_errored": r.baseline_errored,
            "comparison_errored": r.comparison_errored,
            "lower_is_better": r.lower_is_better,
        }
        for r in rows
    ]


def write_csv(result: Comparison, path: Path) -> None:
    """CSV with a header; a missing mean is an empty cell, booleans are true/false."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in records(result):
            writer.writerow(
                {
                    k: ("" if v is None else str(v).lower() if isinstance(v, bool) else v)
                    for k, v in row.items()
                }
            )


def write_jsonl(result: Comparison, path: Path) -> None:
    """One JSON object a line; a missing mean is null."""
    with path.open("wb") as f:
        for row in records(result):
            f.write(orjson.dumps(row) + b"\n")


def write_parquet(result: Comparison, path: Path) -> None:
    """A Parquet file with typed columns (strings, float64 means, booleans)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {
        "baseline_mean": pa.float64(),
        "comparison_mean": pa.float64(),
        "delta": pa.float64(),
        "baseline_errored": pa.bool_(),
        "comparison_errored": pa.bool_(),
        "lower_is_better": pa.bool_(),
    }
    schema = pa.schema([(c, types.get(c, pa.string())) for c in COLUMNS])
    pq.write_table(pa.Table.from_pylist(records(result), schema=schema), path)


WRITERS = {"csv": write_csv, "jsonl": write_jsonl, "parquet": write_parquet}


def export(result: Comparison, targets: dict[str, Path | None]) -> list[Path]:
    """Write each format given a path (``csv``, ``jsonl``, ``parquet``); the paths written."""
    written = []
    for fmt, path in targets.items():
        if path is not None:
            WRITERS[fmt](result, path)
            written.append(path)
    return written
