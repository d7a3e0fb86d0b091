"""Attachment blobs on ClickHouse: rows of ``attachment_blobs``, one per SHA-256 digest.

A table rather than a directory: several servers may share one ClickHouse database and
none of them owns a disk the others can read, while the database is already what they
share and back up.  Blobs are written raw (a ``String`` holds any bytes) and read back
base64-encoded, so no client decodes them as text.  The table's sort key is the digest,
so a blob written twice is one row after a merge.  See ``store/attachments.py``.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from evaldelta.store.attachments import GRACE_SECONDS
from evaldelta.store.clickhouse.connection import Connection


def put(conn: Connection, digest: str, data: bytes) -> None:
    """Insert the blob (again, if it is there: that makes it young, see ``collect``)."""
    row = {"digest": digest, "data": data, "size": len(data), "written_at": datetime.now(UTC)}
    conn.insert("attachment_blobs", list(row), [row])


def get(conn: Connection, digest: str) -> bytes | None:
    found = conn.one(
        "SELECT base64Encode(data) AS data FROM attachment_blobs WHERE digest = ? LIMIT 1",
        [digest],
    )
    return None if found is None else base64.b64decode(found["data"])


def collect(conn: Connection, live: set[str], grace: float = GRACE_SECONDS) -> int:
    """Delete blobs that no example names, last written over ``grace`` seconds ago."""
    cutoff = datetime.now(UTC) - timedelta(seconds=grace)
    found = conn.one(
        """SELECT count() AS n FROM (SELECT digest, max(written_at) AS last
           FROM attachment_blobs GROUP BY digest) WHERE last < ? AND digest NOT IN ?""",
        [cutoff, sorted(live) or [""]],
    )
    dead = int(found["n"]) if found else 0
    if dead:
        conn.command(
            """DELETE FROM attachment_blobs WHERE digest IN (SELECT digest FROM (
                   SELECT digest, max(written_at) AS last FROM attachment_blobs
                   GROUP BY digest) WHERE last < ? AND digest NOT IN ?)""",
            [cutoff, sorted(live) or [""]],
        )
    return dead
