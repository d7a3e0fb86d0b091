"""DuckDB schema as forward-only migrations.

Every table carries ``tenant_id`` first: every query filters on it, and ids supplied by
clients are only unique within a tenant.  Append a new entry to ``MIGRATIONS`` to change
the schema; never edit an applied one (``migrate`` applies what a file has not seen).

Feedback carries a copy of its run's ``session_id``, ``reference_example_id`` and
``is_root`` (``run_session_id``, ``run_example_id``, ``run_is_root``; NULL while the run is
unknown), so that the delta query reads one table, and rows are kept roughly in
(tenant, key, session, example) order so that one key's rows sit together on disk.
"""

from __future__ import annotations

import duckdb

MIGRATIONS: list[str] = [
    # 1: the initial schema.
    """
    CREATE TABLE tenants (
        id UUID PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE,
        created_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE api_keys (
        key_hash VARCHAR PRIMARY KEY,
        tenant_id UUID NOT NULL,
        key_prefix VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    );
    CREATE TABLE datasets (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        name VARCHAR NOT NULL,
        description VARCHAR,
        data_type VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        modified_at TIMESTAMPTZ NOT NULL,
        inputs_schema_definition JSON,
        outputs_schema_definition JSON,
        transformations JSON,
        externally_managed BOOLEAN,
        extra JSON,
        metadata JSON,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE TABLE examples (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        dataset_id UUID NOT NULL,
        inputs JSON,
        outputs JSON,
        metadata JSON,
        split JSON,
        source_run_id UUID,
        created_at TIMESTAMPTZ NOT NULL,
        modified_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE TABLE sessions (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        name VARCHAR NOT NULL,
        description VARCHAR,
        start_time TIMESTAMPTZ NOT NULL,
        end_time TIMESTAMPTZ,
        extra JSON,
        reference_dataset_id UUID,
        default_dataset_id UUID,
        trace_tier VARCHAR,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE TABLE runs (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        session_id UUID NOT NULL,
        name VARCHAR NOT NULL,
        run_type VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        start_time TIMESTAMPTZ NOT NULL,
        end_time TIMESTAMPTZ,
        trace_id UUID NOT NULL,
        dotted_order VARCHAR NOT NULL,
        parent_run_id UUID,
        is_root BOOLEAN NOT NULL,
        reference_example_id UUID,
        inputs JSON,
        outputs JSON,
        extra JSON,
        error VARCHAR,
        events JSON,
        tags VARCHAR[],
        serialized JSON,
        total_tokens BIGINT,
        prompt_tokens BIGINT,
        completion_tokens BIGINT,
        total_cost DOUBLE,
        prompt_cost DOUBLE,
        completion_cost DOUBLE,
        first_token_time TIMESTAMPTZ,
        -- fields set by a patch: a post that arrives later must not overwrite them
        patched_fields VARCHAR[],
        PRIMARY KEY (tenant_id, id)
    );
    CREATE TABLE feedback (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        run_id UUID,
        trace_id UUID,
        session_id UUID,
        key VARCHAR NOT NULL,
        score DOUBLE,
        score_is_bool BOOLEAN NOT NULL,
        value JSON,
        comment VARCHAR,
        correction JSON,
        feedback_source JSON,
        feedback_config JSON,
        created_at TIMESTAMPTZ NOT NULL,
        modified_at TIMESTAMPTZ NOT NULL,
        start_time TIMESTAMPTZ,
        comparative_experiment_id UUID,
        feedback_group_id UUID,
        extra JSON,
        error BOOLEAN,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE TABLE feedback_configs (
        tenant_id UUID NOT NULL,
        feedback_key VARCHAR NOT NULL,
        feedback_config JSON NOT NULL,
        is_lower_score_better BOOLEAN NOT NULL,
        modified_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant_id, feedback_key)
    );
    CREATE INDEX runs_session ON runs (tenant_id, session_id);
    CREATE INDEX feedback_run ON feedback (tenant_id, run_id);
    """,
    # 2: feedback carries its run's session, example and root flag (filled in by the
    # writer, see ingest.py), and is rewritten clustered by key.  The table is rebuilt
    # rather than altered so that existing rows get both the copies and the order.
    """
    CREATE TABLE feedback_clustered (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        run_id UUID,
        trace_id UUID,
        session_id UUID,
        key VARCHAR NOT NULL,
        score DOUBLE,
        score_is_bool BOOLEAN NOT NULL,
        value JSON,
        comment VARCHAR,
        correction JSON,
        feedback_source JSON,
        feedback_config JSON,
        created_at TIMESTAMPTZ NOT NULL,
        modified_at TIMESTAMPTZ NOT NULL,
        start_time TIMESTAMPTZ,
        comparative_experiment_id UUID,
        feedback_group_id UUID,
        extra JSON,
        error BOOLEAN,
        run_session_id UUID,
        run_example_id UUID,
        run_is_root BOOLEAN,
        PRIMARY KEY (tenant_id, id)
    );
    INSERT INTO feedback_clustered
        SELECT f.*, r.session_id, r.reference_example_id, r.is_root
        FROM feedback f
        LEFT JOIN runs r ON r.tenant_id = f.tenant_id AND r.id = f.run_id
        ORDER BY f.tenant_id, f.key, r.session_id, r.reference_example_id;
    DROP INDEX feedback_run;
    DROP TABLE feedback;
    ALTER TABLE feedback_clustered RENAME TO feedback;
    CREATE INDEX feedback_run ON feedback (tenant_id, run_id);
    """,
    # 3: no secondary index on feedback.  DuckDB never uses it for the set-shaped lookups
    # the store makes (``run_id IN (...)``, joins), and keeping it up to date was most of the
    # cost of a feedback append (measured: 40,000 rows into 2.2 M, 2.5 s with it, 0.85 s
    # without).
    "DROP INDEX IF EXISTS feedback_run;",
    # 4: comparative (pairwise) experiments: two or more experiments of one dataset whose
    # runs a pairwise evaluator scored side by side (their feedback names the comparative
    # experiment in ``comparative_experiment_id``).  ``experiment_ids`` is a JSON array.
    """
    CREATE TABLE comparative_experiments (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        name VARCHAR,
        description VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        modified_at TIMESTAMPTZ NOT NULL,
        reference_dataset_id UUID NOT NULL,
        experiment_ids JSON NOT NULL,
        extra JSON,
        PRIMARY KEY (tenant_id, id)
    );
    """,
    # 5: dataset versions.  Every write to an example appends its new state (a delete, a
    # tombstone) to example_history, stamped with the time of the change; the examples of a
    # dataset as of a time are the latest state of each at or before it.  Tags name
    # versions.  Existing examples start their history as they are.
    """
    CREATE TABLE example_history (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        dataset_id UUID NOT NULL,
        inputs JSON,
        outputs JSON,
        metadata JSON,
        split JSON,
        source_run_id UUID,
        created_at TIMESTAMPTZ NOT NULL,
        modified_at TIMESTAMPTZ NOT NULL,
        is_deleted BOOLEAN NOT NULL
    );
    INSERT INTO example_history SELECT *, false FROM examples;
    CREATE TABLE dataset_tags (
        tenant_id UUID NOT NULL,
        dataset_id UUID NOT NULL,
        tag VARCHAR NOT NULL,
        as_of TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant_id, dataset_id, tag)
    );
    """,
    # sharing: share tokens.  A token is a capability (a random UUID) that reads one
    # dataset (with its experiments when ``share_projects``) or one run's trace without a
    # key; looked up by token on public reads, by (tenant, kind, target) when sharing.
    """
    CREATE TABLE share_tokens (
        share_token UUID PRIMARY KEY,
        tenant_id UUID NOT NULL,
        kind VARCHAR NOT NULL,
        target_id UUID NOT NULL,
        share_projects BOOLEAN NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    );
    """,
    # annotation queues: queues of runs for people to review, with a rubric (the feedback
    # keys a reviewer scores, ``rubric_items`` as JSON); their items (a run at most once per
    # queue, with its session, so that items of deleted runs are left out); and who
    # reviewed which item (see store/annotation_queues.py).
    """
    CREATE TABLE annotation_queues (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        name VARCHAR NOT NULL,
        description VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL,
        queue_type VARCHAR NOT NULL,
        default_dataset UUID,
        num_reviewers_per_item INTEGER,
        enable_reservations BOOLEAN,
        reservation_minutes INTEGER,
        reviewer_access_mode VARCHAR,
        metadata JSON,
        rubric_instructions VARCHAR,
        rubric_items JSON,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE TABLE annotation_queue_runs (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        queue_id UUID NOT NULL,
        run_id UUID NOT NULL,
        session_id UUID NOT NULL,
        added_at TIMESTAMPTZ NOT NULL,
        last_reviewed_time TIMESTAMPTZ,
        source_proposed_example_id UUID,
        PRIMARY KEY (tenant_id, id)
    );
    CREATE TABLE annotation_queue_reviews (
        tenant_id UUID NOT NULL,
        id UUID NOT NULL,
        queue_id UUID NOT NULL,
        queue_run_id UUID NOT NULL,
        run_id UUID NOT NULL,
        reviewer VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        reviewed_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (tenant_id, id)
    );
    """,
]


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Apply the migrations this file has not seen yet, each in its own transaction."""
    con.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)")
    row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
    applied = int(row[0]) if row else 0
    for version, sql in enumerate(MIGRATIONS, start=1):
        if version <= applied:
            continue
        con.execute("BEGIN")
        con.execute(sql)
        con.execute("INSERT INTO schema_migrations VALUES (?)", [version])
        con.execute("COMMIT")
