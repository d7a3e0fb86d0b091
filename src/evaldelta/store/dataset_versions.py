"""Dataset versions, written once for both stores.

Every change to a dataset's examples is a version, named by the time of the change (the
``modified_at`` of the examples it wrote, or the time of a deletion); both stores append
each example's new state to ``example_history``.  A dataset's examples as of a time are
each one's latest state at or before it, unless that state is a deletion.  Tags name
versions; ``"latest"`` is always today's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from evaldelta.errors import Invalid, NotFound
from evaldelta.store.base import Page, Row
from evaldelta.store.listing import Listing

LATEST = "latest"


def parse_time(text: str) -> datetime | None:
    """``text`` as an ISO 8601 time (naive times are UTC), or None if it is not one."""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class DatasetVersions:
    """The version reads of one store (its ``Listing``)."""

    listing: Listing

    def _rows(self, sql: str, params: list[Any]) -> list[Row]:
        return self.listing.rows(sql, params)

    def _ever_in(self) -> str:
        return "id IN (SELECT id FROM example_history WHERE tenant_id = ? AND dataset_id = ?)"

    def latest_at(self, tenant_id: UUID, dataset_id: UUID, as_of: datetime) -> datetime | None:
        """The time of the dataset's last change at or before ``as_of``."""
        rows = self._rows(
            f"""SELECT max(modified_at) AS at FROM example_history
                WHERE tenant_id = ? AND modified_at <= ? AND {self._ever_in()}""",
            [tenant_id, as_of, tenant_id, dataset_id],
        )
        found = rows[0]["at"] if rows else None
        return None if found is None else _utc(found)

    def dataset_of(self, tenant_id: UUID, example_id: UUID) -> UUID | None:
        """The dataset an example was last in (even if deleted since)."""
        rows = self._rows(
            """SELECT dataset_id FROM example_history WHERE tenant_id = ? AND id = ?
               ORDER BY modified_at DESC LIMIT 1""",
            [tenant_id, example_id],
        )
        return UUID(str(rows[0]["dataset_id"])) if rows else None

    def tag_at(self, tenant_id: UUID, dataset_id: UUID, tag: str) -> datetime | None:
        rows = self._rows(
            "SELECT as_of FROM dataset_tags WHERE tenant_id = ? AND dataset_id = ? AND tag = ?",
            [tenant_id, dataset_id, tag],
        )
        return _utc(rows[0]["as_of"]) if rows else None

    def tags(self, tenant_id: UUID, dataset_id: UUID) -> dict[datetime, list[str]]:
        """Version time -> its tags, sorted."""
        out: dict[datetime, list[str]] = {}
        for r in self._rows(
            "SELECT tag, as_of FROM dataset_tags WHERE tenant_id = ? AND dataset_id = ?"
            " ORDER BY tag",
            [tenant_id, dataset_id],
        ):
            out.setdefault(_utc(r["as_of"]), []).append(r["tag"])
        return out

    def versions(
        self, tenant_id: UUID, dataset_id: UUID, search: str | None, page: Page
    ) -> list[Row]:
        """The dataset's versions, newest first, each with its tags; with ``search``, only
        those with a tag containing it (ignoring case)."""
        tags = self.tags(tenant_id, dataset_id)
        rows = self._rows(
            f"""SELECT DISTINCT modified_at AS as_of FROM example_history
                WHERE tenant_id = ? AND {self._ever_in()} ORDER BY as_of DESC""",
            [tenant_id, tenant_id, dataset_id],
        )
        out: list[Row] = [
            {"as_of": _utc(r["as_of"]), "tags": tags.get(_utc(r["as_of"]), [])} for r in rows
        ]
        if search:
            needle = search.lower()
            out = [v for v in out if any(needle in t.lower() for t in v["tags"])]
        return out[page.offset : page.offset + page.limit]


def resolve(
    versions: DatasetVersions,
    tenant_id: UUID,
    dataset: Row,
    as_of: str | datetime | None,
    loc: list[str | int],
) -> datetime | None:
    """The time ``as_of`` (a time, a tag, or ``"latest"``/None for today: None) names in
    ``dataset``; a 404 for an unknown tag, a 422 for a time before the dataset existed."""
    if as_of is None or as_of == LATEST:
        return None
    at = as_of if isinstance(as_of, datetime) else parse_time(as_of)
    if at is None:
        assert isinstance(as_of, str)
        tagged = versions.tag_at(tenant_id, dataset["id"], as_of)
        if tagged is None:
            raise NotFound(f"Tag {as_of!r} not found on dataset {dataset['id']}")
        return tagged
    at = _utc(at)
    if at < _utc(dataset["created_at"]):
        raise Invalid(
            f"{at.isoformat()} is before dataset {dataset['id']} was created"
            f" ({_utc(dataset['created_at']).isoformat()})",
            loc=loc,
        )
    return at


def version_at(
    versions: DatasetVersions, tenant_id: UUID, dataset: Row, at: datetime | None
) -> datetime:
    """The version in force at ``at`` (None: today): the last change at or before it, or
    the dataset's creation if its examples had not changed yet."""
    found = versions.latest_at(tenant_id, dataset["id"], at or datetime.now(UTC))
    return found or _utc(dataset["created_at"])


def diff(before: dict[UUID, datetime], after: dict[UUID, datetime]) -> Row:
    """What changed between two versions' example stamps (``Listing.example_stamps``)."""
    return {
        "examples_added": sorted(set(after) - set(before), key=str),
        "examples_removed": sorted(set(before) - set(after), key=str),
        "examples_modified": sorted(
            (i for i in set(before) & set(after) if before[i] != after[i]), key=str
        ),
    }
