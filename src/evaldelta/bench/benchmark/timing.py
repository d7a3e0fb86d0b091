"""The delta phase: the server's answers timed and checked against the NumPy floor.

Server reads and floor computations alternate, so that load from elsewhere on the machine
falls on both alike; each figure is reported as the median and the minimum of the repeats.

The first stream of each kind (unfiltered, filtered) is reported on its own ("cold"): it
reads every key's feedback from the store, while later reads of unchanged data compare the
means the store kept (docs/architecture.md).  The medians are of those later reads.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import httpx

from evaldelta.bench.harness.agreement import Agreement, compare, compare_key
from evaldelta.bench.harness.catalog import Catalog
from evaldelta.bench.harness.deltas import StreamRun, delta_pages, stream_deltas
from evaldelta.bench.harness.floor import FloorAnswer, FloorData, counts, one_key, time_floor

FILTER_LATENCY_S = 1.5
FILTER = f"lt(latency, {FILTER_LATENCY_S})"
ALL_PAGES_UP_TO = 10_000  # examples; above that, read only the first pages of one key
FIRST_PAGES = 3


def _stats(prefix: str, samples: list[float]) -> dict[str, Any]:
    return {
        prefix: statistics.median(samples),
        f"{prefix}_min": min(samples),
        f"{prefix}_samples": samples,
    }


def _agreement(name: str, agreement: Agreement) -> dict[str, Any]:
    return {
        name: {
            "ok": agreement.ok,
            "lists_checked": agreement.lists_checked,
            "mismatches": agreement.mismatches,
            "examples": agreement.examples,
        }
    }


def _streams(
    client: httpx.Client,
    catalog: Catalog,
    keys: list[str],
    floor: FloorData,
    repeat: int,
    latency_s: float | None,
    step: Callable[[], None],
) -> tuple[list[StreamRun], list[float], FloorAnswer]:
    comparisons = [e.session_id for e in catalog.comparisons]
    filters = None
    if latency_s is not None:
        filters = {e.session_id: [f"lt(latency, {latency_s})"] for e in catalog.experiments}
    runs: list[StreamRun] = []
    floor_s: list[float] = []
    answer: FloorAnswer = {}
    for _ in range(repeat):
        runs.append(
            stream_deltas(
                client, catalog.dataset_id, catalog.baseline.session_id, comparisons, keys, filters
            )
        )
        seconds, answer = time_floor(floor, 1, latency_s)
        floor_s += seconds
        step()
    return runs, floor_s, answer


def measure_deltas(
    client: httpx.Client,
    catalog: Catalog,
    floor: FloorData,
    repeat: int,
    step: Callable[[], None],
) -> dict[str, Any]:
    """Every delta figure of the result, with the agreement checks."""
    keys = floor.names
    comparisons = [e.session_id for e in catalog.comparisons]
    baseline = catalog.baseline.session_id
    out: dict[str, Any] = {}

    runs, floor_s, answer = _streams(client, catalog, keys, floor, repeat + 1, None, step)
    out["stream_first_chunk_cold_s"] = runs[0].first_chunk_s
    out["stream_all_keys_cold_s"] = runs[0].end_s
    out["ratio_all_keys_cold"] = runs[0].end_s / floor_s[0]
    runs, floor_s = runs[1:], floor_s[1:]
    out |= _stats("stream_first_chunk_s", [r.first_chunk_s for r in runs])
    out |= _stats("stream_all_keys_s", [r.end_s for r in runs])
    out |= _stats("numpy_floor_all_keys_s", floor_s)
    out["ratio_all_keys"] = out["stream_all_keys_s"] / out["numpy_floor_all_keys_s"]
    out["ratio_all_keys_best"] = out["stream_all_keys_s_min"] / out["numpy_floor_all_keys_s_min"]
    out["stream_response_mib"] = runs[-1].response_bytes / 2**20
    out["stream_errors"] = runs[-1].errors
    checks = Agreement()
    for run in runs:
        checks.merge(compare(run.answer, answer, comparisons))
    out |= _agreement("agreement_all_keys", checks)
    out["delta_counts"] = counts(answer, keys)

    runs, floor_s, filtered = _streams(
        client, catalog, keys, floor, repeat + 1, FILTER_LATENCY_S, step
    )
    out["filter"] = FILTER
    out["stream_filtered_all_keys_cold_s"] = runs[0].end_s
    runs, floor_s = runs[1:], floor_s[1:]
    out |= _stats("stream_filtered_first_chunk_s", [r.first_chunk_s for r in runs])
    out |= _stats("stream_filtered_all_keys_s", [r.end_s for r in runs])
    out |= _stats("numpy_floor_filtered_all_keys_s", floor_s)
    out["ratio_filtered_all_keys"] = (
        out["stream_filtered_all_keys_s"] / out["numpy_floor_filtered_all_keys_s"]
    )
    out |= _agreement("agreement_filtered", compare(runs[-1].answer, filtered, comparisons))

    key = keys[0]
    out["single_key"] = key
    single = [
        stream_deltas(client, catalog.dataset_id, baseline, comparisons, [key])
        for _ in range(repeat)
    ]
    out |= _stats("single_key_stream_s", [r.end_s for r in single])
    first_pages = [
        delta_pages(client, catalog.dataset_id, baseline, comparisons, key, floor.examples, 1)
        for _ in range(repeat)
    ]
    out |= _stats("single_key_s", [p.seconds[0] for p in first_pages])
    max_pages = None if floor.examples <= ALL_PAGES_UP_TO else FIRST_PAGES
    paged = delta_pages(
        client, catalog.dataset_id, baseline, comparisons, key, floor.examples, max_pages
    )
    out["single_key_pages_read"] = paged.pages
    out["single_key_pages_s"] = sum(paged.seconds)
    want = one_key(answer, key, paged.examples_covered)
    checks = compare_key(key, single[-1].answer.get(key), answer[key], comparisons)
    checks.merge(compare_key(key, paged.answer, want, comparisons))
    out |= _agreement("agreement_single_key", checks)
    step()
    out["answers_agree"] = all(
        out[name]["ok"]
        for name in ("agreement_all_keys", "agreement_filtered", "agreement_single_key")
    )
    return out
