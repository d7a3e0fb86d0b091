"""The annotation queues of a store, as a base class of both backends."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from evaldelta.errors import Conflict, NotFound
from evaldelta.store.annotation_queues import sql
from evaldelta.store.annotation_queues.rules import (
    ITEMS,
    QUEUE_COLUMNS,
    QUEUES,
    REVIEWS,
    Status,
    item_id,
    merged_rubric,
    now,
    public_item,
    queue_info,
    review_id,
    same_key,
)
from evaldelta.store.base import FeedbackWhere, Page, QueueWhere, Row, RunWhere
from evaldelta.store.listing import Listing


class AnnotationQueueStore:
    """The annotation queues of a store: a base class of both backends."""

    _list: Listing

    def _put_queue_rows(self, table: str, rows: Sequence[Row]) -> None:
        """Insert or replace rows of one of the three tables, by their ``id``."""
        raise NotImplementedError

    def _delete_queue_rows(self, table: str, tenant_id: UUID, column: str, ids: list[Any]) -> None:
        """Delete the tenant's rows of ``table`` whose ``column`` is one of ``ids``."""
        raise NotImplementedError

    # --- queues ---------------------------------------------------------------------

    def write_annotation_queue(self, tenant_id: UUID, row: Row) -> Row:
        """A new queue; creating one again with the same id and name answers the queue."""
        self._check_default_dataset(tenant_id, row.get("default_dataset"))
        stamp = now()
        new = {
            **row,
            "tenant_id": tenant_id,
            "id": row.get("id") or uuid4(),
            "created_at": row.get("created_at") or stamp,
            "updated_at": row.get("updated_at") or row.get("created_at") or stamp,
            "queue_type": "single",
            "num_reviewers_per_item": row.get("num_reviewers_per_item") or 1,
            "enable_reservations": False,
            "reviewer_access_mode": "any",
        }
        existing = self.get_annotation_queue(tenant_id, new["id"])
        if existing is not None:
            if existing["name"] == new["name"]:
                return existing
            raise Conflict(f"Annotation queue with id {new['id']} already exists")
        self._put_queue_rows(QUEUES, [{c: new.get(c) for c in QUEUE_COLUMNS}])
        found = self.get_annotation_queue(tenant_id, new["id"])
        assert found is not None
        return found

    def write_annotation_queue_update(self, tenant_id: UUID, queue_id: UUID, changes: Row) -> Row:
        """Change the fields given (a null leaves a field as it is)."""
        current = self._require_queue(tenant_id, queue_id)
        self._check_default_dataset(tenant_id, changes.get("default_dataset"))
        given = {k: v for k, v in changes.items() if v is not None}
        if "rubric_items" in given:
            rubric = given["rubric_items"]
            given["rubric_items"] = merged_rubric(current.get("rubric_items"), rubric)
        new = {**current, **given, "tenant_id": tenant_id, "updated_at": now()}
        self._put_queue_rows(QUEUES, [{c: new.get(c) for c in QUEUE_COLUMNS}])
        return self._require_queue(tenant_id, queue_id)

    def write_annotation_queue_delete(self, tenant_id: UUID, queue_id: UUID) -> None:
        """Delete a queue with its items and their reviews (the runs and feedback stay)."""
        self._require_queue(tenant_id, queue_id)
        self._delete_queue_rows(REVIEWS, tenant_id, "queue_id", [queue_id])
        self._delete_queue_rows(ITEMS, tenant_id, "queue_id", [queue_id])
        self._delete_queue_rows(QUEUES, tenant_id, "id", [queue_id])

    def get_annotation_queue(self, tenant_id: UUID, queue_id: UUID) -> Row | None:
        rows = self.list_annotation_queues(tenant_id, QueueWhere(ids=[queue_id]), Page(0, 1))
        return rows[0] if rows else None

    def list_annotation_queues(self, tenant_id: UUID, where: QueueWhere, page: Page) -> list[Row]:
        """Queues with their number of runs (``total_runs``)."""
        q = sql.queues(self._list.dialect, tenant_id, where, page)
        rows = self._list.rows(q.text(), q.params)
        if rows:
            ids = [r["id"] for r in rows]
            sizes = self._list.rows(*sql.sizes(self._list.dialect, tenant_id, ids))
            counts = {str(r["queue_id"]): int(r["n"]) for r in sizes}
            for row in rows:
                row["total_runs"] = counts.get(str(row["id"]), 0)
        return rows

    def annotation_queues_of_run(self, tenant_id: UUID, run_id: UUID) -> list[Row]:
        """The queues a run is in, oldest first; a 404 if the run is not the tenant's."""
        if not self._runs(tenant_id, [run_id]):
            raise NotFound(f"Run {run_id} not found")
        found = self._list.rows(
            f"SELECT queue_id FROM {ITEMS} WHERE tenant_id = ? AND run_id = ?", [tenant_id, run_id]
        )
        if not found:
            return []
        ids = [r["queue_id"] for r in found]
        where = QueueWhere(ids=ids, sort_desc=False)
        return self.list_annotation_queues(tenant_id, where, Page(0, len(ids)))

    def _require_queue(self, tenant_id: UUID, queue_id: UUID) -> Row:
        found = self.get_annotation_queue(tenant_id, queue_id)
        if found is None:
            raise NotFound(f"Annotation queue {queue_id} not found")
        return found

    def _check_default_dataset(self, tenant_id: UUID, dataset_id: UUID | None) -> None:
        if dataset_id is not None and not self._list.rows(
            "SELECT 1 FROM datasets WHERE tenant_id = ? AND id = ?", [tenant_id, dataset_id]
        ):
            raise NotFound(f"Dataset {dataset_id} not found")

    # --- items ----------------------------------------------------------------------

    def write_annotation_queue_runs(
        self, tenant_id: UUID, queue_id: UUID, runs: list[Row]
    ) -> list[Row]:
        """Add runs (``run_id``, and from the by-key form ``session_id`` and
        ``start_time``, which must be the run's) in the order given; a run already in the
        queue keeps its item.  A 404 names the first run that is not the tenant's."""
        self._require_queue(tenant_id, queue_id)
        found = self._runs(tenant_id, [r["run_id"] for r in runs])
        for given in runs:
            run = found.get(str(given["run_id"]))
            if run is None or not same_key(run, given):
                raise NotFound(f"Run {given['run_id']} not found")
        ids = list(dict.fromkeys(item_id(queue_id, r["run_id"]) for r in runs))
        existing = {str(i["id"]): i for i in self._items(tenant_id, ids)}
        stamp, new, out = now(), list[Row](), list[Row]()
        for given in runs:
            iid = item_id(queue_id, given["run_id"])
            if str(iid) in existing:
                out.append(existing[str(iid)])
                continue
            run = found[str(given["run_id"])]
            # A microsecond apart: the runs keep the order they were sent in.
            item = {
                "tenant_id": tenant_id,
                "id": iid,
                "queue_id": queue_id,
                "run_id": given["run_id"],
                "session_id": run["session_id"],
                "added_at": stamp + timedelta(microseconds=len(new)),
                "last_reviewed_time": None,
                "source_proposed_example_id": given.get("source_proposed_example_id"),
            }
            existing[str(iid)] = item
            new.append(item)
            out.append(item)
        if new:
            self._put_queue_rows(ITEMS, new)
        return [public_item(i) for i in out]

    def list_annotation_queue_runs(
        self,
        tenant_id: UUID,
        queue_id: UUID,
        reviewer: str,
        status: Status | None,
        page: Page,
        *,
        include_extra: bool = True,
    ) -> list[Row]:
        """A page of the queue's runs in the order they were added, each with its item's
        fields (``queue_run_id``, ``added_at``, ``last_reviewed_time``...)."""
        queue = self._require_queue(tenant_id, queue_id)
        q = sql.items(tenant_id, queue, reviewer, status, "i.*")
        q.add(f"ORDER BY i.added_at, {self._list.dialect.id_order('i.id')} LIMIT ? OFFSET ?")
        q.params += [page.limit, page.offset]
        items = self._list.rows(q.text(), q.params)
        runs = self._runs(tenant_id, [i["run_id"] for i in items])
        out = []
        for item in items:
            run = runs.get(str(item["run_id"]))
            if run is None:  # deleted between the two reads
                continue
            if not include_extra:
                run = {k: v for k, v in run.items() if k != "extra"}
            out.append({**run, **queue_info(item)})
        return out

    def annotation_queue_size(
        self, tenant_id: UUID, queue_id: UUID, reviewer: str, status: Status | None
    ) -> int:
        queue = self._require_queue(tenant_id, queue_id)
        q = sql.items(tenant_id, queue, reviewer, status, "count(*) AS n")
        found = self._list.rows(q.text(), q.params)
        return int(found[0]["n"]) if found else 0

    def write_annotation_queue_run_update(
        self, tenant_id: UUID, queue_id: UUID, ref: UUID, changes: Row, reviewer: str
    ) -> Row:
        """Change an item's ``added_at`` or ``last_reviewed_time``; a review time given
        also records the caller's review as completed at that time."""
        item = self._require_item(tenant_id, queue_id, ref)
        if changes.get("added_at") is not None:
            item["added_at"] = changes["added_at"]
        if "last_reviewed_time" in changes:
            item["last_reviewed_time"] = changes["last_reviewed_time"]
        self._put_queue_rows(ITEMS, [item])
        if changes.get("last_reviewed_time") is not None:
            self._put_review(item, reviewer, "completed", changes["last_reviewed_time"])
        return public_item(item)

    def write_annotation_queue_run_delete(self, tenant_id: UUID, queue_id: UUID, ref: UUID) -> None:
        """Remove one item (named by its id or its run's id) and its reviews."""
        item = self._require_item(tenant_id, queue_id, ref)
        self._delete_queue_rows(REVIEWS, tenant_id, "queue_run_id", [item["id"]])
        self._delete_queue_rows(ITEMS, tenant_id, "id", [item["id"]])

    def write_annotation_queue_status(
        self,
        tenant_id: UUID,
        queue_run_id: UUID,
        status: str | None,
        override_added_at: datetime | None,
        reviewer: str,
    ) -> Row:
        """The caller's status on an item (``completed`` marks it reviewed by them, now);
        ``override_added_at`` moves the item in its queue's order."""
        found = self._items(tenant_id, [queue_run_id])
        if not found:
            raise NotFound(f"Annotation queue run {queue_run_id} not found")
        item = found[0]
        if override_added_at is not None:
            item["added_at"] = override_added_at
        stamp = now()
        if status == "completed":
            item["last_reviewed_time"] = stamp
        if override_added_at is not None or status == "completed":
            self._put_queue_rows(ITEMS, [item])
        if status is not None:
            self._put_review(item, reviewer, status, stamp)
        return public_item(item)

    # --- reviews --------------------------------------------------------------------

    def list_annotation_queue_reviews(
        self, tenant_id: UUID, queue_id: UUID, page: Page
    ) -> list[Row]:
        """Who reviewed what, newest first, each with the feedback its run has on the
        queue's rubric keys (every key when the rubric names none)."""
        queue = self._require_queue(tenant_id, queue_id)
        d = self._list.dialect
        rows = self._list.rows(
            f"""SELECT queue_run_id, run_id, reviewer, status, reviewed_at FROM {REVIEWS}
                WHERE tenant_id = ? AND queue_id = ?
                ORDER BY reviewed_at DESC, {d.id_order("id")} LIMIT ? OFFSET ?""",
            [tenant_id, queue_id, page.limit, page.offset],
        )
        if not rows:
            return rows
        keys = [i["feedback_key"] for i in queue.get("rubric_items") or []] or None
        run_ids = list({r["run_id"] for r in rows})
        feedback = self._list.feedback(
            tenant_id, FeedbackWhere(run=run_ids, key=keys), Page(0, 100 * len(run_ids))
        )
        for row in rows:
            row["feedback"] = [
                {k: f.get(k) for k in ("id", "key", "score", "value", "comment", "created_at")}
                for f in feedback
                if str(f["run_id"]) == str(row["run_id"])
            ]
        return rows

    # --- reading and writing items ----------------------------------------------------

    def _put_review(self, item: Row, reviewer: str, status: str, at: datetime) -> None:
        self._put_queue_rows(
            REVIEWS,
            [
                {
                    "tenant_id": item["tenant_id"],
                    "id": review_id(item["id"], reviewer),
                    "queue_id": item["queue_id"],
                    "queue_run_id": item["id"],
                    "run_id": item["run_id"],
                    "reviewer": reviewer,
                    "status": status,
                    "reviewed_at": at,
                }
            ],
        )

    def _items(self, tenant_id: UUID, ids: list[UUID]) -> list[Row]:
        d = self._list.dialect
        return self._list.rows(
            f"SELECT * FROM {ITEMS} WHERE tenant_id = ? AND {d.in_ids('id')}",
            [tenant_id, d.uuid_params(ids)],
        )

    def _require_item(self, tenant_id: UUID, queue_id: UUID, ref: UUID) -> Row:
        """The queue's item with id ``ref``, or else the one of run ``ref``."""
        for found in self._items(tenant_id, [ref, item_id(queue_id, ref)]):
            if str(found["queue_id"]) == str(queue_id):
                return found
        raise NotFound(f"Run {ref} not found in annotation queue {queue_id}")

    def _runs(self, tenant_id: UUID, run_ids: list[Any]) -> dict[str, Row]:
        ids = list(dict.fromkeys(run_ids))
        if not ids:
            return {}
        rows, _ = self._list.runs(tenant_id, RunWhere(ids=ids), None, None, len(ids), "desc")
        return {str(r["id"]): r for r in rows}
