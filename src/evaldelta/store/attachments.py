"""Example attachments, written once for both stores.

An example keeps, in its ``attachments`` column, ``name -> {mime_type, size, digest}``;
the bytes are kept apart, once per SHA-256 digest (identical files are stored once), by
the store's blob keeper: a folder beside a DuckDB file (``FileBlobs``), a table on
ClickHouse.  Since the column is part of the example row, every version of an example in
its history names the attachments it had then, and an ``as_of`` read shows them.

Blobs are written before the example row that names them, so a row never points at
nothing; a write that fails after its blobs leaves them unnamed, and ``collect`` (run when
a store opens) removes blobs no example version names once they are ``GRACE_SECONDS``
old (younger ones may belong to a write still under way, on another server).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from evaldelta.errors import Invalid

# Blobs younger than this are never collected: their example may not be committed yet.
GRACE_SECONDS = 3600.0
MAX_NAME_CHARS = 200
# Printable, no path separators, no control characters: a name goes in a URL path.
_NAME = re.compile(r"[^/\\\x00-\x1f\x7f]+")
_DIGEST = re.compile(r"[0-9a-f]{64}")

Meta = dict[str, Any]  # {"mime_type": str, "size": int, "digest": str}


def digest_of(data: bytes) -> str:
    """The SHA-256 of ``data``, in hex: a blob's address."""
    return hashlib.sha256(data).hexdigest()


def is_digest(text: str) -> bool:
    return _DIGEST.fullmatch(text) is not None


def check_name(name: str, loc: list[str | int]) -> str:
    """``name`` if it can name an attachment (it appears in download URLs), else a 422."""
    if not name or len(name) > MAX_NAME_CHARS:
        raise Invalid(f"an attachment name must be 1 to {MAX_NAME_CHARS} characters", loc=loc)
    if not _NAME.fullmatch(name) or name in (".", ".."):
        raise Invalid(
            "an attachment name may not hold '/', '\\' or control characters, nor be . or ..",
            loc=loc,
        )
    return name


def meta_of(mime_type: str, data: bytes) -> Meta:
    return {"mime_type": mime_type, "size": len(data), "digest": digest_of(data)}


def apply_operations(
    current: Mapping[str, Meta] | None,
    operations: Mapping[str, Any] | None,
    uploaded: Mapping[str, Meta],
    loc: list[str | int],
) -> dict[str, Meta]:
    """An example's attachments after an update, as LangSmith defines it.

    Without ``operations`` every attachment is kept.  With them, an attachment is kept only
    if ``retain`` names it or ``rename`` gives it a new name; the others are dropped.
    Attachments ``uploaded`` are then added, replacing any of the same name.  Naming an
    attachment the example does not have, or renaming two to one name, is a 422.
    """
    current = dict(current or {})
    if operations is None:
        return {**current, **uploaded}
    rename: Mapping[str, str] = operations.get("rename") or {}
    retain: Iterable[str] = operations.get("retain") or []
    kept: dict[str, Meta] = {}
    for name in retain:
        if name not in current:
            raise Invalid(f"retain names no attachment of the example: {name!r}", loc=loc)
        kept[name] = current[name]
    for old, new in rename.items():
        if old not in current:
            raise Invalid(f"rename names no attachment of the example: {old!r}", loc=loc)
        check_name(new, loc)
        if new in kept:
            raise Invalid(f"two attachments would be named {new!r}", loc=loc)
        kept[new] = current[old]
    return {**kept, **uploaded}


def referenced(states: Iterable[Mapping[str, Meta] | None]) -> set[str]:
    """The digests some example state names."""
    return {m["digest"] for s in states if s for m in s.values()}
