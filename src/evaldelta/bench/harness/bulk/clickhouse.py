"""The bulk path on ClickHouse: the workload's final rows inserted straight into the tables.

The ClickHouse store's ingest reads before it writes (the op log, the run's stored version,
feedback already there) so that several servers can write at once; at a few thousand
feedback rows a second, L (22 M rows) would take hours.  This path writes what that ingest
would leave for a fresh workload: runs made by the store's own merge code from the same
posts the SDK sends (``run_merge``), and feedback placed on its runs, built
inside ClickHouse from the workload's score arrays (one Arrow insert per experiment, then
one ``INSERT ... SELECT``).  The op log and the read-merge steps are skipped, so its rate is
reported as the bulk rate, never as ingest; the columns the delta reads are exactly
ingest's, the descriptive ones (comments, sources) close to them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from uuid import UUID

import numpy as np
import pyarrow as pa

from evaldelta.bench.harness.bulk.store import BulkResult
from evaldelta.bench.workload.data import CATEGORIES, ExperimentData, generate_experiment, keys_for
from evaldelta.bench.workload.ids import IdSpace, Kind
from evaldelta.bench.workload.records import EPOCH, FEEDBACK_PER_RUN, Experiment, run_record
from evaldelta.bench.workload.scales import Scale
from evaldelta.ingest.records import run_ops
from evaldelta.store.clickhouse.connection import Connection, connect
from evaldelta.store.clickhouse.versions import encode, now_micros
from evaldelta.store.run_merge import RUN_JSON, finish_run, merge_op
from evaldelta.store.sqlrows import load_json

SOURCE = "bench_feedback_source"

# Times as ``records.run_record`` makes them: experiment i starts i hours after EPOCH, and
# its runs 50 ms apart; a run ends ``latency_ms`` after it starts.
TIMES = """toUUID(concat(?, leftPad(lower(hex(run_index)), 12, '0'))) AS run,
        addMilliseconds(toDateTime64(?, 6, 'UTC'), offset_ms) AS begin,
        addMilliseconds(begin, latency_ms) AS finish"""

RUNS_SQL = f"""
INSERT INTO runs_versions (tenant_id, session_id, id, name, run_type, status, start_time,
    end_time, trace_id, dotted_order, parent_run_id, is_root, reference_example_id, inputs,
    outputs, extra, error, events, tags, serialized, total_tokens, prompt_tokens,
    completion_tokens, total_cost, prompt_cost, completion_cost, first_token_time,
    patched_fields, version, is_deleted)
SELECT tenant, session, run, 'Target', 'chain', 'success', begin, finish, run,
    concat(formatDateTime(begin, '%Y%m%dT%H%i%S%f', 'UTC'), 'Z', toString(run)), NULL, true,
    toUUID(concat(?, leftPad(lower(hex(example)), 12, '0'))),
    concat('{{"question":"q', toString(example), '"}}'),
    concat('{{"answer":"a', toString(example), '-', toString(?), '"}}'),
    ?, NULL, ?, ?, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, [], ?, 0
FROM (
    SELECT *, ? AS tenant, ? AS session, {TIMES}
    FROM {SOURCE} WHERE k = 0
)"""

FEEDBACK_SQL = f"""
INSERT INTO feedback_versions (tenant_id, key, run_session_id, run_example_id, id,
    run_is_root, run_id, trace_id, session_id, score, score_is_bool, value, comment,
    correction, feedback_source, feedback_config, created_at, modified_at, start_time,
    comparative_experiment_id, feedback_group_id, extra, error, version, is_deleted)
SELECT tenant, key_name, session, toUUID(concat(?, leftPad(lower(hex(example)), 12, '0'))),
    toUUID(concat(?, leftPad(lower(hex(fb)), 12, '0'))), true, run, run, session,
    if(isNaN(score), NULL, score), is_bool,
    if(is_categorical, concat('"', ?[category + 1], '"'), NULL),
    if(failed, 'TimeoutError(''evaluator timed out'')', NULL), NULL,
    concat('{{"type": "model", "metadata": {{"__run": {{"run_id": "',
           concat(?, leftPad(lower(hex(fb)), 12, '0')),
           '"}}}}, "user_id": null, "user_name": null}}'),
    NULL, finish, finish, begin, NULL, NULL, if(failed, '{{"error": true}}', NULL),
    if(failed, true, NULL), ?, 0
FROM (
    SELECT *, ? AS tenant, ? AS session, ?[k + 1] AS key_name, ?[k + 1] AS is_bool,
        ?[k + 1] AS is_categorical, isNaN(score) AND NOT is_categorical AS failed,
        run_index * {FEEDBACK_PER_RUN} + k AS fb, {TIMES}
    FROM {SOURCE}
)"""


def _runs(
    conn: Connection,
    tenant_id: UUID,
    ids: IdSpace,
    experiment: Experiment,
    data: ExperimentData,
) -> int:
    """Insert one experiment's runs (from the feedback source's rows of the first key).

    The JSON documents that are the same for every run are taken from the store's own merge
    of one real post (``run_merge``), so they are stored byte for byte as
    ingest stores them."""
    post = run_record(ids, (), experiment, data, 0, 0)
    op = run_ops("post", [{**post.main, **post.fields}], loc=["body", "post"])[0]
    state: dict[str, object] = {}
    merge_op(state, op, set())
    state["session_id"] = UUID(experiment.session_id)
    finished = finish_run(UUID(int=0), state, set())
    model = encode({k: (load_json(v) if k in RUN_JSON else v) for k, v in finished.items()})
    params: list[object] = [
        ids.prefix(Kind.EXAMPLE),
        experiment.index,
        model["extra"],
        model["events"],
        model["tags"],
        now_micros(),
        tenant_id,
        UUID(experiment.session_id),
        ids.prefix(Kind.RUN),
        EPOCH.strftime("%Y-%m-%d %H:%M:%S"),
    ]
    conn.command(RUNS_SQL, params)
    return int(data.latency_ms.size)


def _feedback(
    conn: Connection,
    tenant_id: UUID,
    scale: Scale,
    ids: IdSpace,
    experiment: Experiment,
    data: ExperimentData,
) -> int:
    """Insert one experiment's feedback: scores as an Arrow table, rows made in SQL."""
    keys = keys_for(scale)
    n_keys, n_examples, reps = data.scores.shape
    k, example, rep = np.meshgrid(
        np.arange(n_keys), np.arange(n_examples), np.arange(reps), indexing="ij"
    )
    run_index = (experiment.index * n_examples + example) * reps + rep
    offset_ms = experiment.index * 3_600_000 + 50 * (example * reps + rep)
    source = pa.table(
        {
            "k": pa.array(k.ravel(), pa.uint8()),
            "example": pa.array(example.ravel(), pa.uint64()),
            "run_index": pa.array(run_index.ravel(), pa.uint64()),
            "offset_ms": pa.array(offset_ms.ravel(), pa.int64()),
            "latency_ms": pa.array(np.broadcast_to(data.latency_ms, k.shape).ravel(), pa.int64()),
            "category": pa.array(np.broadcast_to(data.categories, k.shape).ravel(), pa.uint8()),
            "score": pa.array(data.scores.ravel(), pa.float64()),
        }
    )
    conn.command(f"TRUNCATE TABLE IF EXISTS {SOURCE}")
    conn.client().insert_arrow(SOURCE, source)
    params: list[object] = [
        ids.prefix(Kind.EXAMPLE),
        ids.prefix(Kind.FEEDBACK),
        list(CATEGORIES),
        ids.prefix(Kind.EVALUATOR_RUN),
        now_micros(),
        tenant_id,
        UUID(experiment.session_id),
        [s.name for s in keys],
        [s.kind == "boolean" for s in keys],
        [s.kind == "categorical" for s in keys],
        ids.prefix(Kind.RUN),
        EPOCH.strftime("%Y-%m-%d %H:%M:%S"),
    ]
    conn.command(FEEDBACK_SQL, params)
    return int(source.num_rows)


def load(
    store_url: str,
    tenant_id: UUID,
    scale: Scale,
    seed: int,
    ids: IdSpace,
    experiments: list[Experiment],
    on_progress: Callable[[int], None],
) -> BulkResult:
    """Write every experiment's runs and feedback straight into the ClickHouse tables."""
    result = BulkResult()
    conn = connect(store_url)
    started = time.perf_counter()
    try:
        conn.command(
            f"""CREATE TABLE IF NOT EXISTS {SOURCE} (k UInt8, example UInt64,
                run_index UInt64, offset_ms Int64, latency_ms Int64, category UInt8,
                score Float64) ENGINE = Memory"""
        )
        baseline: ExperimentData | None = None
        for experiment in experiments:
            mark = time.perf_counter()
            data = generate_experiment(scale, seed, experiment.index, baseline)
            baseline = baseline or data
            result.generate_s += time.perf_counter() - mark
            mark = time.perf_counter()
            rows = _feedback(conn, tenant_id, scale, ids, experiment, data)
            result.runs += _runs(conn, tenant_id, ids, experiment, data)
            result.store_s += time.perf_counter() - mark
            result.feedback += rows
            on_progress(rows)
        conn.command(f"DROP TABLE IF EXISTS {SOURCE}")
    finally:
        conn.close()
    result.wall_s = time.perf_counter() - started
    return result
