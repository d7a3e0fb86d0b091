"""API keys by id and presigned feedback tokens: the rules and reads both stores share.

Both kinds of secret are kept only as their SHA-256 hash (the caller hashes; the store
never sees a secret).  A key or token is found by its hash; a tenant lists and revokes its
keys by id, and lists the tokens of a run.  Each backend only inserts and removes rows
(``_put_api_key``, ``_drop_api_key``, ``_put_feedback_token``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from evaldelta.errors import Conflict, NotFound
from evaldelta.store.base import Page, Row
from evaldelta.store.listing import Listing

# What a listed key shows: never its hash.
API_KEY_COLUMNS = "id, tenant_id, key_prefix, description, created_at, expires_at"
TOKEN_COLUMNS = (
    "tenant_id, id, run_id, feedback_key, feedback_config, feedback_id, expires_at, created_at"
)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _listed_key(row: Row) -> Row:
    return {
        "id": UUID(str(row["id"])),
        "tenant_id": UUID(str(row["tenant_id"])),
        "short_key": row["key_prefix"],
        "description": row["description"] or "",
        "created_at": _utc(row["created_at"]),
        "expires_at": _utc(row["expires_at"]),
    }


def _listed_token(row: Row) -> Row:
    return {
        **row,
        "tenant_id": UUID(str(row["tenant_id"])),
        "id": UUID(str(row["id"])),
        "run_id": UUID(str(row["run_id"])),
        "feedback_id": None if row["feedback_id"] is None else UUID(str(row["feedback_id"])),
        "expires_at": _utc(row["expires_at"]),
        "created_at": _utc(row["created_at"]),
    }


class Credentials:
    """The mixin of ``CommonStore`` for API keys and feedback tokens."""

    _list: Listing

    # --- backend primitives ------------------------------------------------------------

    def _put_api_key(self, row: Row) -> None:
        raise NotImplementedError

    def _drop_api_key(self, row: Row) -> None:
        """Delete the key ``row`` (as ``_key_rows`` read it)."""
        raise NotImplementedError

    def _put_feedback_token(self, row: Row) -> None:
        raise NotImplementedError

    def _key_rows(self, where: str, params: Sequence[Any]) -> list[Row]:
        """Stored key rows (every column) matching ``where``; a backend may add columns."""
        return self._list.rows(f"SELECT * FROM api_keys WHERE {where}", params)

    # --- API keys ----------------------------------------------------------------------

    def tenant_named(self, name: str) -> UUID | None:
        """The id of the tenant of this name, or None (``write_tenant`` makes one)."""
        rows = self._list.rows("SELECT id FROM tenants WHERE name = ? LIMIT 1", [name])
        return UUID(str(rows[0]["id"])) if rows else None

    def write_api_key(
        self,
        tenant_id: UUID,
        key_hash: str,
        key_prefix: str,
        *,
        description: str = "",
        expires_at: datetime | None = None,
    ) -> Row:
        """Store a key by its hash; returns it as listed (no hash)."""
        row = {
            "key_hash": key_hash,
            "tenant_id": tenant_id,
            "key_prefix": key_prefix,
            "created_at": datetime.now(UTC),
            "id": uuid4(),
            "description": description,
            "expires_at": _utc(expires_at),
        }
        self._put_api_key(row)
        return _listed_key(row)

    def api_key_for_hash(self, key_hash: str) -> Row | None:
        """The key (id, tenant, expiry) whose hash this is, or None."""
        rows = self._list.rows(
            f"SELECT {API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?", [key_hash]
        )
        return _listed_key(rows[0]) if rows else None

    def list_api_keys(self, tenant_id: UUID, page: Page) -> list[Row]:
        """A tenant's keys, oldest first."""
        rows = self._list.rows(
            f"""SELECT {API_KEY_COLUMNS} FROM api_keys WHERE tenant_id = ?
                ORDER BY created_at, {self._list.dialect.id_order("id")} LIMIT ? OFFSET ?""",
            [tenant_id, page.limit, page.offset],
        )
        return [_listed_key(r) for r in rows]

    def write_api_key_revoke(self, tenant_id: UUID, key_id: UUID) -> Row:
        """Delete a tenant's key; a 404 for a key it does not hold, a 409 for its last
        key (the tenant would lock itself out of the API)."""
        found = self._key_rows("tenant_id = ? AND id = ?", [tenant_id, key_id])
        if not found:
            raise NotFound(f"API key {key_id} not found")
        count = self._list.rows(
            "SELECT count(*) AS n FROM api_keys WHERE tenant_id = ?", [tenant_id]
        )
        if int(count[0]["n"]) <= 1:
            raise Conflict("this is the tenant's last API key: create another before revoking it")
        self._drop_api_key(found[0])
        return _listed_key(found[0])

    # --- feedback tokens -------------------------------------------------------------

    def write_feedback_token(self, tenant_id: UUID, row: Row) -> Row:
        """Store a token by its hash: ``row`` holds ``token_hash``, ``run_id``,
        ``feedback_key``, ``feedback_config``, ``feedback_id`` and ``expires_at``."""
        stored = {
            **row,
            "tenant_id": tenant_id,
            "id": row.get("id") or uuid4(),
            "expires_at": _utc(row["expires_at"]),
            "created_at": datetime.now(UTC),
        }
        self._put_feedback_token(stored)
        return _listed_token({k: v for k, v in stored.items() if k != "token_hash"})

    def feedback_token_for_hash(self, token_hash: str) -> Row | None:
        """The token whose hash this is (with its tenant), expired or not, or None."""
        rows = self._list.rows(
            f"SELECT {TOKEN_COLUMNS} FROM feedback_tokens WHERE token_hash = ?", [token_hash]
        )
        return _listed_token(rows[0]) if rows else None

    def list_feedback_tokens(self, tenant_id: UUID, run_id: UUID, page: Page) -> list[Row]:
        """A run's tokens, oldest first (expired ones too, until they are dropped)."""
        rows = self._list.rows(
            f"""SELECT {TOKEN_COLUMNS} FROM feedback_tokens WHERE tenant_id = ? AND run_id = ?
                ORDER BY created_at, {self._list.dialect.id_order("id")} LIMIT ? OFFSET ?""",
            [tenant_id, run_id, page.limit, page.offset],
        )
        return [_listed_token(r) for r in rows]
