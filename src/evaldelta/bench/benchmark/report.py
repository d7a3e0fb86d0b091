"""Writing results: the JSON file, and a Markdown table next to it."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from evaldelta.bench.format import figure

Result = dict[str, Any]

# (field, label, unit, target at L as the issue states it)
HEADLINE: list[tuple[str, str, str, str]] = [
    ("feedback_rows", "feedback rows", "", ""),
    ("stream_first_chunk_s", "stream: first chunk", "s", "≤ 0.2"),
    ("stream_all_keys_s", "stream: all keys × comparisons", "s", ""),
    ("stream_first_chunk_cold_s", "stream, first after ingest (cold): first chunk", "s", ""),
    ("stream_all_keys_cold_s", "stream, first after ingest (cold): all keys", "s", ""),
    ("ratio_all_keys_cold", "ratio (cold) evaldelta / floor", "×", ""),
    ("numpy_floor_all_keys_s", "NumPy floor: all keys", "s", ""),
    ("ratio_all_keys", "ratio evaldelta / floor", "×", "≤ 1.5"),
    ("stream_filtered_all_keys_s", "stream with a filter: all keys", "s", ""),
    ("stream_filtered_all_keys_cold_s", "stream with a filter, first (cold): all keys", "s", ""),
    ("numpy_floor_filtered_all_keys_s", "NumPy floor with the filter", "s", ""),
    ("ratio_filtered_all_keys", "ratio with the filter", "×", ""),
    ("single_key_s", "one key, /runs/delta (one page)", "s", "≤ 0.25"),
    ("single_key_stream_s", "one key, stream", "s", ""),
    ("ingest_feedback_rows_per_s", "ingest: feedback rows/s", "/s", "≥ 50,000"),
    ("ingest_runs_per_s", "ingest: runs/s (each with its feedback)", "/s", ""),
    (
        "ingest_runs_only_runs_per_s",
        "ingest, runs only (traces, no feedback): runs/s",
        "/s",
        "≥ 10,000",
    ),
    ("ingest_s", "ingest: wall time", "s", ""),
    ("examples_upload_s", "examples upload (/examples/bulk)", "s", ""),
    ("server_peak_rss_mib", "server peak RSS", "MiB", "≤ 2048"),
    ("disk_mib_per_million_feedback_rows", "on disk per million feedback rows", "MiB", ""),
    ("answers_agree", "answers equal the NumPy floor's", "", "yes"),
]


def markdown(result: Result) -> str:
    """One result as a Markdown table (medians of the repeats; minimums in the JSON)."""
    lines = [
        f"# evaldelta bench — scale {result['scale']}",
        "",
        f"{result['examples']:,} examples × {result['experiments']} experiments × "
        f"{result['keys']} keys × {result['repetitions']} repetition(s); "
        f"{result['clients']} ingest clients, {result['runs_per_request']} runs per request, "
        f"zstd {'on' if result['zstd'] else 'off'}; "
        f"medians of {result['repeat']} repeats; machine: {result['machine']['summary']}.",
        "",
        "| measure | value | target (at L) |",
        "| --- | --- | --- |",
    ]
    for name, label, unit, target in HEADLINE:
        if name in result:
            value = figure(result[name])
            lines.append(
                f"| {label} | {value}{' ' + unit if unit and value != '—' else ''} | {target} |"
            )
    return "\n".join(lines) + "\n"


def write(result: Result, out: Path, render: Callable[[Result], str] = markdown) -> Path:
    """Write ``out`` (JSON) and ``render``'s Markdown beside it; return the Markdown path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    md = out.with_suffix(".md")
    md.write_text(render(result))
    return md


def growth_table(results: Sequence[Result]) -> str:
    """Several scales side by side, to see how the times grow."""
    header = "| measure | " + " | ".join(r["scale"] for r in results) + " |"
    lines = [header, "| --- |" + " --- |" * len(results)]
    for name, label, unit, _ in HEADLINE:
        cells = [figure(r.get(name)) for r in results]
        lines.append(f"| {label}{' (' + unit + ')' if unit else ''} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m evaldelta.bench.benchmark.report a.json b.json ...``: a growth table."""
    paths = list(sys.argv[1:] if argv is None else argv)
    print(growth_table([orjson.loads(Path(p).read_bytes()) for p in paths]), end="")


if __name__ == "__main__":
    main()
