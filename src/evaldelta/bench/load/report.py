"""Load-test figures: percentiles, memory over time, and the JSON and Markdown files."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evaldelta.bench.format import figure
from evaldelta.bench.load.clients import IngestOutcome, StreamSample

Result = dict[str, Any]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The value at quantile ``q`` (0..1), nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _spread(prefix: str, values: Sequence[float]) -> Result:
    return {
        f"{prefix}_p50_s": percentile(values, 0.5),
        f"{prefix}_p99_s": percentile(values, 0.99),
        f"{prefix}_max_s": percentile(values, 1.0),
    }


def stream_figures(samples: list[StreamSample], window_s: float) -> Result:
    """Counts, rates and latencies of the streams (failed ones only counted)."""
    good = [s for s in samples if s.error is None and not s.refused]
    errors = [s.error for s in samples if s.error is not None]
    out: Result = {
        "streams_started": len(samples) - sum(s.refused for s in samples),
        "streams_refused_429": sum(s.refused for s in samples),
        "streams_complete": len(good),
        "stream_errors": len(errors),
        "stream_error_examples": errors[:10],
        "streams_per_s": len(good) / window_s,
    }
    out |= _spread("stream_first_chunk", [s.first_chunk_s for s in good if s.first_chunk_s])
    out |= _spread("stream_end", [s.end_s for s in good if s.end_s is not None])
    return out


def ingest_figures(outcomes: list[IngestOutcome], window_s: float) -> Result:
    """Totals and rates of what the ingest clients got acknowledged, and request latency."""
    latencies = [x for o in outcomes for x in o.request_s]
    out: Result = {
        "ingest_requests": sum(o.requests for o in outcomes),
        "ingest_runs_acknowledged": sum(o.runs for o in outcomes),
        "ingest_feedback_acknowledged": sum(o.feedback for o in outcomes),
        "ingest_retries_429": sum(o.retries_429 for o in outcomes),
        "ingest_errors": sum(o.error_count for o in outcomes),
        "ingest_error_examples": [e for o in outcomes for e in o.errors][:10],
    }
    out["ingest_runs_per_s"] = out["ingest_runs_acknowledged"] / window_s
    out["ingest_feedback_rows_per_s"] = out["ingest_feedback_acknowledged"] / window_s
    out |= _spread("ingest_request", latencies)
    return out


def rss_figures(samples: list[tuple[float, float]], before_mib: float) -> Result:
    """Server memory over the run: the peak of each half, to see whether it keeps growing."""
    if not samples:
        return {"rss_before_mib": before_mib}
    half = samples[-1][0] / 2
    first = [mib for t, mib in samples if t <= half] or [samples[0][1]]
    second = [mib for t, mib in samples if t > half] or [samples[-1][1]]
    return {
        "rss_before_mib": before_mib,
        "rss_peak_mib": max(mib for _, mib in samples),
        "rss_first_half_peak_mib": max(first),
        "rss_second_half_peak_mib": max(second),
        "rss_end_mib": samples[-1][1],
        "rss_growth_second_half_mib": max(second) - max(first),
        # every few seconds is enough to see a trend, and keeps the JSON short
        "rss_samples": [[round(t, 1), round(mib, 1)] for t, mib in samples[::4]],
    }


_TABLE: list[tuple[str, str, str]] = [
    ("streams_complete", "delta streams completed (all keys, then `end`, equal to the floor)", ""),
    ("stream_errors", "stream errors", ""),
    ("streams_refused_429", "streams refused with 429 (tenant's stream limit; retried)", ""),
    ("streams_per_s", "streams completed per second", "/s"),
    ("stream_first_chunk_p50_s", "stream time to first chunk, p50", "s"),
    ("stream_first_chunk_p99_s", "stream time to first chunk, p99", "s"),
    ("stream_end_p50_s", "stream time to `end`, p50", "s"),
    ("stream_end_p99_s", "stream time to `end`, p99", "s"),
    ("ingest_requests", "ingest requests (`POST /runs/multipart`)", ""),
    ("ingest_errors", "ingest errors", ""),
    ("ingest_retries_429", "ingest 429 answers (retried)", ""),
    ("ingest_runs_per_s", "ingest runs acknowledged per second", "/s"),
    ("ingest_feedback_rows_per_s", "ingest feedback rows acknowledged per second", "/s"),
    ("ingest_request_p50_s", "ingest request latency, p50", "s"),
    ("ingest_request_p99_s", "ingest request latency, p99", "s"),
    ("ingest_missing_or_extra", "acknowledged writes missing or extra afterwards", ""),
    ("rss_before_mib", "server RSS before the load", "MiB"),
    ("rss_first_half_peak_mib", "server RSS peak, first half", "MiB"),
    ("rss_second_half_peak_mib", "server RSS peak, second half", "MiB"),
]


def markdown(result: Result) -> str:
    """The headline figures as a Markdown table."""
    lines = [
        f"# evaldelta load test — scale {result['scale']}, {result['seconds']:g} s",
        "",
        f"{result['feedback_rows']:,} feedback rows loaded; {result['streams']} concurrent delta "
        f"streams (all {result['keys']} keys × {result['comparisons']} comparisons) and "
        f"{result['ingest_clients']} ingest clients for {result['seconds']:g} s; "
        f"store {result['store_kind']}; machine: {result['machine']['summary']}, load average "
        f"{figure(result['load_average_start'])} at the start, "
        f"{figure(result['load_average_end'])} at the end; "
        f"{figure(result['wall_s'])} s until the last stream ended.",
        "",
        "| measure | value |",
        "| --- | --- |",
    ]
    for name, label, unit in _TABLE:
        if name in result:
            value = figure(result[name])
            lines.append(f"| {label} | {value}{' ' + unit if unit and value != '—' else ''} |")
    lines.append(f"| zero errors | {figure(result['ok'])} |")
    return "\n".join(lines) + "\n"
