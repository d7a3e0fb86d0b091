"""Experiment results, written once for both stores: a dataset's examples with the root runs
some experiments made of them, each run with its feedback (LangSmith's comparison view,
read by ``/datasets/{id}/runs`` and ``/api/v2/datasets/{id}/experiment-runs``).

The page is chosen by one query over example ids (the examples with a counted run, in
order); the rows themselves come from the shared list queries, so an example or a run is
shaped here exactly as every other route shapes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from evaldelta.store.base import ExampleWhere, FeedbackWhere, Page, ResultsQuery, Row, RunWhere
from evaldelta.store.listing import Listing, Query

# Rows read per round trip when a page's runs or feedback are many.
BATCH = 5_000


def counted_runs(listing: Listing, query: ResultsQuery) -> tuple[str, list[Any]]:
    """SQL over runs ``r`` (and its params): a root run of one of the sessions, linked to an
    example, that passes its session's filters."""
    d = listing.dialect
    plain = [s for s in query.session_ids if s not in query.filters]
    terms: list[str] = []
    params: list[Any] = []
    if plain:
        terms.append(d.in_ids("r.session_id"))
        params.append(d.uuid_params(plain))
    for session_id, (fragment, fparams) in query.filters.items():
        terms.append(f"(r.session_id = ? AND ({fragment}))")
        params += [d.uuid_params([session_id])[0], *fparams]
    sql = f"r.is_root AND r.reference_example_id IS NOT NULL AND ({' OR '.join(terms)})"
    return sql, params


def _feedback_scope(listing: Listing, query: ResultsQuery) -> tuple[str, list[Any]]:
    """SQL over feedback ``f``: the feedback of the query's comparative experiment, or
    outside any when it names none."""
    if query.comparative_experiment_id is None:
        return "f.comparative_experiment_id IS NULL", []
    return listing.dialect.in_ids("f.comparative_experiment_id"), [
        listing.dialect.uuid_params([query.comparative_experiment_id])
    ]


def _in_scope(row: Row, query: ResultsQuery) -> bool:
    return row.get("comparative_experiment_id") == query.comparative_experiment_id


def _example_ids(listing: Listing, tenant_id: UUID, query: ResultsQuery) -> list[UUID]:
    """The page's example ids, in order: by the sort key's mean score (examples without
    one last) if any, then creation time and id, as every example list is ordered."""
    d = listing.dialect
    runs_sql, runs_params = counted_runs(listing, query)
    q = Query(
        f"""WITH picked AS (
                SELECT r.id AS run_id, r.reference_example_id AS example_id
                FROM runs AS r WHERE r.tenant_id = ? AND {runs_sql})
            SELECT e.id AS id FROM examples AS e""",
        [tenant_id, *runs_params],
    )
    order = ""
    if query.sort_key is not None:
        scope, scope_params = _feedback_scope(listing, query)
        q.add(
            f"""LEFT JOIN (
                SELECT f.run_example_id AS example_id, avg(f.score) AS sort_score
                FROM feedback AS f
                WHERE f.tenant_id = ? AND f.key = ? AND f.score IS NOT NULL AND {scope}
                    AND f.run_id IN (SELECT run_id FROM picked)
                GROUP BY f.run_example_id) AS s ON s.example_id = e.id""",
            tenant_id,
            query.sort_key,
            *scope_params,
        )
        order = f"s.sort_score {'DESC' if query.sort_desc else 'ASC'} NULLS LAST, "
    q.add(
        """WHERE e.tenant_id = ? AND e.dataset_id = ?
            AND e.id IN (SELECT example_id FROM picked)""",
        tenant_id,
        query.dataset_id,
    )
    if query.example_ids:
        q.add(f"AND {d.in_ids('e.id')}", d.uuid_params(query.example_ids))
    q.add(f"ORDER BY {order}e.created_at, {d.id_order('e.id')} LIMIT ? OFFSET ?")
    q.params += [query.page.limit, query.page.offset]
    return [UUID(str(r["id"])) for r in listing.rows(q.text(), q.params)]


def _runs(
    listing: Listing, tenant_id: UUID, query: ResultsQuery, example_ids: Sequence[UUID]
) -> list[Row]:
    """The counted runs of these examples, oldest first."""
    where = RunWhere(session=query.session_ids, reference_example=example_ids, is_root=True)
    filter_sql = counted_runs(listing, query)
    runs: list[Row] = []
    cursor: str | None = None
    while True:
        page, cursor = listing.runs(tenant_id, where, filter_sql, cursor, BATCH, "asc")
        runs += page
        if cursor is None:
            return runs


def _attach_feedback(
    listing: Listing, tenant_id: UUID, query: ResultsQuery, runs: list[Row]
) -> None:
    """Each run's ``feedbacks`` and ``feedback_stats``, both in the query's scope."""
    d = listing.dialect
    run_ids = [r["id"] for r in runs]
    scope, scope_params = _feedback_scope(listing, query)
    stats = listing.feedback_stats(
        f"FROM feedback AS f WHERE f.tenant_id = ? AND {d.in_ids('f.run_id')} AND {scope}",
        "f.run_id",
        [tenant_id, d.uuid_params(run_ids), *scope_params],
    )
    by_run: dict[str, list[Row]] = {}
    offset = 0
    while True:
        page = listing.feedback(tenant_id, FeedbackWhere(run=run_ids), Page(offset, BATCH))
        for row in page:
            if _in_scope(row, query):
                by_run.setdefault(str(row["run_id"]), []).append(row)
        if len(page) < BATCH:
            break
        offset += BATCH
    for run in runs:
        run["feedback_stats"] = stats.get(str(run["id"]), {})
        run["feedbacks"] = by_run.get(str(run["id"]), [])


def experiment_results(listing: Listing, tenant_id: UUID, query: ResultsQuery) -> list[Row]:
    """One page of examples with their runs: only examples with a counted run, each run
    with its feedback; runs in the order of the query's sessions, then oldest first."""
    ids = _example_ids(listing, tenant_id, query)
    if not ids:
        return []
    examples = listing.examples(tenant_id, ExampleWhere(ids=ids), Page(0, len(ids)))
    runs = _runs(listing, tenant_id, query, ids)
    if runs:
        _attach_feedback(listing, tenant_id, query, runs)
    position = {s: i for i, s in enumerate(query.session_ids)}
    runs.sort(key=lambda r: position[UUID(str(r["session_id"]))])  # stable: time order kept
    by_example: dict[str, list[Row]] = {}
    for run in runs:
        by_example.setdefault(str(run["reference_example_id"]), []).append(run)
    found = {str(e["id"]): e for e in examples}
    out = []
    for example_id in ids:
        example = found[str(example_id)]
        example["runs"] = by_example.get(str(example_id), [])
        out.append(example)
    return out
