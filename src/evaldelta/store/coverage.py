"""Which examples an experiment failed to score, written once for both stores.

An example is *errored* for a key in a session when one of the session's root runs of the
example (that passes the session's filters) has feedback of the key that is an evaluator
error, or has neither a score nor a value: the SDK logs an evaluator that raised as
feedback with ``error: true`` and no score.  A categorical value without a score is a
result, not an error.  Only examples the dataset holds now count, as in the delta.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from evaldelta.store.base import DeltaQuery
from evaldelta.store.listing import Listing, Query


def errored_examples(listing: Listing, query: DeltaQuery, key: str) -> dict[UUID, set[UUID]]:
    """Per session of ``query`` (baseline first): the examples with an errored or unscored
    evaluation of ``key``."""
    d = listing.dialect
    sessions = query.sessions
    q = Query(
        f"""SELECT DISTINCT f.run_session_id AS session_id, f.run_example_id AS example_id
            FROM feedback AS f
            WHERE f.tenant_id = ? AND f.key = ? AND f.run_is_root
                AND (coalesce(f.error, false) OR (f.score IS NULL
                     AND (f.value IS NULL OR coalesce({d.json_is_null("f.value")}, true))))
                AND {d.in_ids("f.run_session_id")}
                AND f.run_example_id IN (SELECT e.id FROM examples AS e
                                         WHERE e.tenant_id = ? AND e.dataset_id = ?)""",
        [query.tenant_id, key, d.uuid_params(sessions), query.tenant_id, query.dataset_id],
    )
    if query.comparative_experiment_id is None:
        q.add("AND f.comparative_experiment_id IS NULL")
    else:
        q.add(f"AND {d.in_ids('f.comparative_experiment_id')}")
        q.params.append(d.uuid_params([query.comparative_experiment_id]))
    for session_id, (fragment, fparams) in query.filters.items():
        sid: Any = d.uuid_params([session_id])[0]
        q.add(
            f"""AND (f.run_session_id <> ? OR f.run_id IN (SELECT r.id FROM runs AS r
                WHERE r.tenant_id = ? AND r.session_id = ? AND r.is_root AND ({fragment})))""",
            sid,
            query.tenant_id,
            sid,
            *fparams,
        )
    out: dict[UUID, set[UUID]] = {s: set() for s in sessions}
    for row in listing.rows(q.text(), q.params):
        out[UUID(str(row["session_id"]))].add(UUID(str(row["example_id"])))
    return out
