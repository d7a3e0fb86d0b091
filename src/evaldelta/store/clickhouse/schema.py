"""ClickHouse schema as forward-only migrations.

Every table is a ``ReplacingMergeTree(version, is_deleted)`` named ``<thing>_versions``:
a write inserts a whole new version of a row, a delete inserts a tombstone
(``is_deleted = 1``), and the row's identity is the table's sort key.  Beside each table a
view ``<thing>`` shows the live rows (``FINAL``), so reads, and the SQL the filter compiler
writes (``runs``, ``feedback``), never see an old version or a deleted row.

Feedback is sorted for the delta query: (tenant, key, session, example), with the run's
session, example and root flag copied onto each feedback row once the run is known.
Runs are sorted by (tenant, session, id).  A row whose sort key changes (feedback whose
run arrives, an example moved to another dataset) is written at its new place and
tombstoned at its old one.

Each migration is a list of idempotent statements, so that several servers starting at
once on one database may all run it.  Append a migration to change the schema; never edit
an applied one.
"""

from __future__ import annotations

from evaldelta.store.clickhouse.connection import Connection

TIME = "DateTime64(6, 'UTC')"
VERSIONED = "version UInt64, is_deleted UInt8 DEFAULT 0"
ENGINE = "ENGINE = ReplacingMergeTree(version, is_deleted)"

# Live rows of each versioned table.
TABLES = [
    "tenants",
    "api_keys",
    "datasets",
    "examples",
    "sessions",
    "runs",
    "feedback",
    "feedback_configs",
]

MIGRATIONS: list[list[str]] = [
    # 1: the initial schema.
    [
        f"""CREATE TABLE IF NOT EXISTS tenants_versions (
            id UUID, name String, created_at {TIME}, {VERSIONED}
        ) {ENGINE} ORDER BY id""",
        f"""CREATE TABLE IF NOT EXISTS api_keys_versions (
            key_hash String, tenant_id UUID, key_prefix String, created_at {TIME}, {VERSIONED}
        ) {ENGINE} ORDER BY key_hash""",
        f"""CREATE TABLE IF NOT EXISTS datasets_versions (
            tenant_id UUID,
            id UUID,
            name String,
            description Nullable(String),
            data_type LowCardinality(String),
            created_at {TIME},
            modified_at {TIME},
            inputs_schema_definition Nullable(String),
            outputs_schema_definition Nullable(String),
            transformations Nullable(String),
            externally_managed Nullable(Bool),
            extra Nullable(String),
            metadata Nullable(String),
            {VERSIONED}
        ) {ENGINE} ORDER BY (tenant_id, id)""",
        f"""CREATE TABLE IF NOT EXISTS examples_versions (
            tenant_id UUID,
            dataset_id UUID,
            id UUID,
            inputs Nullable(String),
            outputs Nullable(String),
            metadata Nullable(String),
            split Nullable(String),
            source_run_id Nullable(UUID),
            created_at {TIME},
            modified_at {TIME},
            {VERSIONED},
            INDEX example_id id TYPE bloom_filter GRANULARITY 1
        ) {ENGINE} ORDER BY (tenant_id, dataset_id, id)""",
        f"""CREATE TABLE IF NOT EXISTS sessions_versions (
            tenant_id UUID,
            id UUID,
            name String,
            description Nullable(String),
            start_time {TIME},
            end_time Nullable({TIME}),
            extra Nullable(String),
            reference_dataset_id Nullable(UUID),
            default_dataset_id Nullable(UUID),
            trace_tier Nullable(String),
            {VERSIONED}
        ) {ENGINE} ORDER BY (tenant_id, id)""",
        # Every post and patch of a run as it arrived: the merged run is recomputed from
        # these, so a post and a patch applied by two servers at once are never lost.
        """CREATE TABLE IF NOT EXISTS run_ops (
            tenant_id UUID,
            run_id UUID,
            version UInt64 DEFAULT toUnixTimestamp64Micro(now64(6)),
            seq UInt32,
            kind LowCardinality(String),
            fields String,
            inserted_at DateTime DEFAULT now()
        ) ENGINE = MergeTree ORDER BY (tenant_id, run_id, version, seq)
        TTL inserted_at + INTERVAL 7 DAY""",
        f"""CREATE TABLE IF NOT EXISTS runs_versions (
            tenant_id UUID,
            session_id UUID,
            id UUID,
            name String,
            run_type LowCardinality(String),
            status LowCardinality(String),
            start_time {TIME},
            end_time Nullable({TIME}),
            trace_id UUID,
            dotted_order String,
            parent_run_id Nullable(UUID),
            is_root Bool,
            reference_example_id Nullable(UUID),
            inputs Nullable(String),
            outputs Nullable(String),
            extra Nullable(String),
            error Nullable(String),
            events Nullable(String),
            tags Nullable(String),
            serialized Nullable(String),
            total_tokens Nullable(Int64),
            prompt_tokens Nullable(Int64),
            completion_tokens Nullable(Int64),
            total_cost Nullable(Float64),
            prompt_cost Nullable(Float64),
            completion_cost Nullable(Float64),
            first_token_time Nullable({TIME}),
            patched_fields Array(String),
            {VERSIONED},
            INDEX run_id id TYPE bloom_filter GRANULARITY 1,
            INDEX run_trace trace_id TYPE bloom_filter GRANULARITY 1
        ) {ENGINE} ORDER BY (tenant_id, session_id, id)""",
        f"""CREATE TABLE IF NOT EXISTS feedback_versions (
            tenant_id UUID,
            key LowCardinality(String),
            run_session_id UUID,
            run_example_id UUID,
            id UUID,
            run_is_root Bool,
            run_id Nullable(UUID),
            trace_id Nullable(UUID),
            session_id Nullable(UUID),
            score Nullable(Float64),
            score_is_bool Bool,
            value Nullable(String),
            comment Nullable(String),
            correction Nullable(String),
            feedback_source Nullable(String),
            feedback_config Nullable(String),
            created_at {TIME},
            modified_at {TIME},
            start_time Nullable({TIME}),
            comparative_experiment_id Nullable(UUID),
            feedback_group_id Nullable(UUID),
            extra Nullable(String),
            error Nullable(Bool),
            {VERSIONED},
            INDEX feedback_id id TYPE bloom_filter GRANULARITY 1,
            INDEX feedback_run run_id TYPE bloom_filter GRANULARITY 1
        ) {ENGINE} ORDER BY (tenant_id, key, run_session_id, run_example_id, id)""",
        f"""CREATE TABLE IF NOT EXISTS feedback_configs_versions (
            tenant_id UUID,
            feedback_key String,
            feedback_config String,
            is_lower_score_better Bool,
            modified_at {TIME},
            {VERSIONED}
        ) {ENGINE} ORDER BY (tenant_id, feedback_key)""",
        *(
            f"CREATE VIEW IF NOT EXISTS {name} AS SELECT * EXCEPT is_deleted"
            f" FROM {name}_versions FINAL"
            for name in TABLES
        ),
    ],
    # 2: comparative (pairwise) experiments; ``experiment_ids`` is a JSON array.
    [
        f"""CREATE TABLE IF NOT EXISTS comparative_experiments_versions (
            tenant_id UUID,
            id UUID,
            name Nullable(String),
            description Nullable(String),
            created_at {TIME},
            modified_at {TIME},
            reference_dataset_id UUID,
            experiment_ids String,
            extra Nullable(String),
            {VERSIONED}
        ) {ENGINE} ORDER BY (tenant_id, id)""",
        "CREATE VIEW IF NOT EXISTS comparative_experiments AS SELECT * EXCEPT is_deleted"
        " FROM comparative_experiments_versions FINAL",
    ],
    # 3: dataset versions.  ``examples_versions`` cannot keep them (merges drop replaced
    # rows): every write to an example also appends its new state (a delete, a tombstone)
    # to example_history, read as of a time without FINAL.  Its sort key ends in the time
    # of the change, so a repeated write (a retry) is one row after a merge, and history
    # is never merged away.  Tags name versions.
    [
        f"""CREATE TABLE IF NOT EXISTS example_history (
            tenant_id UUID,
            dataset_id UUID,
            id UUID,
            inputs Nullable(String),
            outputs Nullable(String),
            metadata Nullable(String),
            split Nullable(String),
            source_run_id Nullable(UUID),
            created_at {TIME},
            modified_at {TIME},
            is_deleted Bool
        ) ENGINE = ReplacingMergeTree
        ORDER BY (tenant_id, dataset_id, id, modified_at, is_deleted)""",
        """INSERT INTO example_history SELECT tenant_id, dataset_id, id, inputs, outputs,
            metadata, split, source_run_id, created_at, modified_at, false FROM examples""",
        f"""CREATE TABLE IF NOT EXISTS dataset_tags_versions (
            tenant_id UUID, dataset_id UUID, tag String, as_of {TIME}, {VERSIONED}
        ) {ENGINE} ORDER BY (tenant_id, dataset_id, tag)""",
        "CREATE VIEW IF NOT EXISTS dataset_tags AS SELECT * EXCEPT is_deleted"
        " FROM dataset_tags_versions FINAL",
    ],
    # sharing: share tokens (see store/sharing.py), one row per token; unsharing writes a
    # tombstone, which the view stops showing at once.
    [
        f"""CREATE TABLE IF NOT EXISTS share_tokens_versions (
            share_token UUID,
            tenant_id UUID,
            kind LowCardinality(String),
            target_id UUID,
            share_projects Bool,
            created_at {TIME},
            {VERSIONED}
        ) {ENGINE} ORDER BY share_token""",
        "CREATE VIEW IF NOT EXISTS share_tokens AS SELECT * EXCEPT is_deleted"
        " FROM share_tokens_versions FINAL",
    ],
    # annotation queues, their items and who reviewed them (store/annotation_queues.py).
    # An item's and a review's id are made from what they join, so their sort keys never
    # change; ``rubric_items`` and ``metadata`` are JSON text.
    [
        f"""CREATE TABLE IF NOT EXISTS annotation_queues_versions (
            tenant_id UUID,
            id UUID,
            name String,
            description Nullable(String),
            created_at {TIME},
            updated_at {TIME},
            queue_type LowCardinality(String),
            default_dataset Nullable(UUID),
            num_reviewers_per_item Nullable(Int64),
            enable_reservations Nullable(Bool),
            reservation_minutes Nullable(Int64),
            reviewer_access_mode Nullable(String),
            metadata Nullable(String),
            rubric_instructions Nullable(String),
            rubric_items Nullable(String),
            {VERSIONED}
        ) {ENGINE} ORDER BY (tenant_id, id)""",
        f"""CREATE TABLE IF NOT EXISTS annotation_queue_runs_versions (
            tenant_id UUID,
            id UUID,
            queue_id UUID,
            run_id UUID,
            session_id UUID,
            added_at {TIME},
            last_reviewed_time Nullable({TIME}),
            source_proposed_example_id Nullable(UUID),
            {VERSIONED}
        ) {ENGINE} ORDER BY (tenant_id, id)""",
        f"""CREATE TABLE IF NOT EXISTS annotation_queue_reviews_versions (
            tenant_id UUID,
            id UUID,
            queue_id UUID,
            queue_run_id UUID,
            run_id UUID,
            reviewer String,
            status LowCardinality(String),
            reviewed_at {TIME},
            {VERSIONED}
        ) {ENGINE} ORDER BY (tenant_id, id)""",
        *(
            f"CREATE VIEW IF NOT EXISTS {name} AS SELECT * EXCEPT is_deleted"
            f" FROM {name}_versions FINAL"
            for name in ("annotation_queues", "annotation_queue_runs", "annotation_queue_reviews")
        ),
    ],
]


def migrate(conn: Connection) -> None:
    """Apply the migrations this database has not seen yet (safe to run concurrently)."""
    conn.command(
        """CREATE TABLE IF NOT EXISTS schema_migrations (
            version UInt32, applied_at DateTime DEFAULT now()
        ) ENGINE = ReplacingMergeTree ORDER BY version"""
    )
    found = conn.one("SELECT max(version) AS v FROM schema_migrations")
    applied = int(found["v"]) if found and found["v"] is not None else 0
    for version, statements in enumerate(MIGRATIONS, start=1):
        if version <= applied:
            continue
        for sql in statements:
            conn.command(sql)
        conn.insert("schema_migrations", ["version"], [{"version": version}])
