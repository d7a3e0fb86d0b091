"""The SQL of annotation queues, written once over a dialect."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from evaldelta.store.annotation_queues.rules import ITEMS, QUEUES, REVIEWS, Status
from evaldelta.store.base import Page, QueueWhere, Row
from evaldelta.store.dialect import Dialect
from evaldelta.store.listing import Query


def queues(d: Dialect, tenant_id: UUID, where: QueueWhere, page: Page) -> Query:
    """One page of the tenant's queues."""
    q = Query(f"SELECT * FROM {QUEUES} WHERE tenant_id = ?", [tenant_id])
    if where.ids:
        q.add(f"AND {d.in_ids('id')}", d.uuid_params(where.ids))
    if where.name is not None:
        q.add("AND name = ?", where.name)
    if where.name_contains:
        q.add(f"AND {d.contains_ci('name')}", where.name_contains)
    if where.dataset_id is not None:
        q.add("AND default_dataset = ?", where.dataset_id)
    if where.queue_type is not None:
        q.add("AND queue_type = ?", where.queue_type)
    direction = "DESC" if where.sort_desc else "ASC"
    q.add(f"ORDER BY {where.sort_by} {direction}, {d.id_order('id')} LIMIT ? OFFSET ?")
    q.params += [page.limit, page.offset]
    return q


def items(tenant_id: UUID, queue: Row, reviewer: str, status: Status | None, select: str) -> Query:
    """The queue's items whose run still exists, with the caller's view of their
    status: completed (enough reviewers), or needing the caller's or others' review."""
    q = Query(
        f"""SELECT {select} FROM {ITEMS} AS i
            LEFT JOIN (
                SELECT queue_run_id, count(*) AS done,
                    sum(CASE WHEN reviewer = ? THEN 1 ELSE 0 END) AS mine
                FROM {REVIEWS} WHERE tenant_id = ? AND queue_id = ? AND status = 'completed'
                GROUP BY queue_run_id
            ) AS v ON v.queue_run_id = i.id
            WHERE i.tenant_id = ? AND i.queue_id = ?
            AND i.run_id IN (
                SELECT r.id FROM runs AS r WHERE r.tenant_id = ? AND r.session_id IN (
                    SELECT s.session_id FROM {ITEMS} AS s
                    WHERE s.tenant_id = ? AND s.queue_id = ?))""",
        [reviewer, *(tenant_id, queue["id"]) * 2, tenant_id, tenant_id, queue["id"]],
    )
    needed = queue.get("num_reviewers_per_item") or 1
    if status == "completed":
        q.add("AND coalesce(v.done, 0) >= ?", needed)
    elif status == "needs_my_review":
        q.add("AND coalesce(v.done, 0) < ? AND coalesce(v.mine, 0) = 0", needed)
    elif status == "needs_others_review":
        q.add("AND coalesce(v.done, 0) < ? AND coalesce(v.mine, 0) > 0", needed)
    return q


def sizes(d: Dialect, tenant_id: UUID, queue_ids: list[Any]) -> tuple[str, list[Any]]:
    """The number of items (of runs that still exist) per queue: ``queue_id``, ``n``."""
    return (
        f"""SELECT i.queue_id AS queue_id, count(*) AS n FROM {ITEMS} AS i
            WHERE i.tenant_id = ? AND {d.in_ids("i.queue_id")}
            AND i.run_id IN (
                SELECT r.id FROM runs AS r WHERE r.tenant_id = ? AND r.session_id IN (
                    SELECT s.session_id FROM {ITEMS} AS s
                    WHERE s.tenant_id = ? AND {d.in_ids("s.queue_id")}))
            GROUP BY i.queue_id""",
        [tenant_id, d.uuid_params(queue_ids), tenant_id, tenant_id, d.uuid_params(queue_ids)],
    )
