"""API keys: made random, stored hashed, resolved to a tenant on every request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from evaldelta.errors import Forbidden, Unauthorized
from evaldelta.store.base import Row, Store

KEY_PREFIX = "evd_"
# Keys this server makes are 47 characters.  A value far longer cannot be one: it is
# refused as a wrong key before it costs a hash (a header may be tens of kilobytes).
MAX_KEY_CHARS = 512
# How old a known key may get before it is looked up again (see ``KeyCache``).
KEY_RECHECK_SECONDS = 5.0


def new_api_key() -> str:
    """A fresh key: 256 random bits, URL-safe, recognisable by its prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """SHA-256 of the key: keys are random and long, so no slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(store: Store, tenant_name: str, description: str = "") -> tuple[UUID, str]:
    """Create the tenant if needed and a new key for it; returns (tenant id, key).

    Runs directly on the store: only for use while no server owns it, or from the writer.
    """

    def work() -> tuple[UUID, str]:
        tenant_id = store.write_tenant(tenant_name)
        _, key = add_key(store, tenant_id, description)
        return tenant_id, key

    return store.run_in_transaction(work)


def add_key(
    store: Store, tenant_id: UUID, description: str = "", expires_at: datetime | None = None
) -> tuple[Row, str]:
    """A new key of an existing tenant: (the key as listed, the key itself).  Call it
    inside a store transaction (or from the writer)."""
    key = new_api_key()
    row = store.write_api_key(
        tenant_id,
        hash_api_key(key),
        key[: len(KEY_PREFIX) + 4],
        description=description,
        expires_at=expires_at,
    )
    return row, key


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


@dataclass(frozen=True)
class _Known:
    tenant_id: UUID
    key_id: UUID
    expires_at: datetime | None
    checked: float  # time.monotonic() of the store read


class KeyCache:
    """Hash → tenant for keys already seen.

    A key revoked through this server is forgotten at once (``forget``).  Another server
    sharing the store (ClickHouse) revokes it here within ``recheck_seconds``: a known key
    is looked up again once it is that old.
    """

    def __init__(self, recheck_seconds: float = KEY_RECHECK_SECONDS) -> None:
        self._known: dict[str, _Known] = {}
        self._recheck = recheck_seconds
        # Moves on every ``forget``: a lookup that began before a revocation must not
        # remember what it read.
        self._generation = 0

    async def resolve(self, store: Store, key: str) -> UUID | None:
        """The tenant of ``key``, or None for a key that is not one (too long, unknown,
        revoked or expired)."""
        if len(key) > MAX_KEY_CHARS:
            return None
        digest = hash_api_key(key)
        known = self._known.get(digest)
        if known is None or time.monotonic() - known.checked > self._recheck:
            generation = self._generation
            found = await run_in_threadpool(store.api_key_for_hash, digest)
            if found is None:
                self._known.pop(digest, None)
                return None
            known = _Known(found["tenant_id"], found["id"], found["expires_at"], time.monotonic())
            if generation == self._generation:
                self._known[digest] = known
        if known.expires_at is not None and known.expires_at <= datetime.now(UTC):
            return None
        return known.tenant_id

    def forget(self, key_id: UUID) -> None:
        """Stop accepting the key with this id (it was revoked)."""
        self._generation += 1
        for digest, known in list(self._known.items()):
            if known.key_id == key_id:
                del self._known[digest]


async def current_tenant(request: Request) -> UUID:
    """The tenant of the request's API key: 401 without a valid key, 403 on a foreign
    ``X-Tenant-Id``."""
    key = _presented_key(request)
    if not key:
        raise Unauthorized("Missing API key: send it in the x-api-key header")
    state = request.app.state
    cache: KeyCache = state.key_cache
    tenant_id = await cache.resolve(state.store, key)
    if tenant_id is None:
        raise Unauthorized("Invalid API key")
    claimed = request.headers.get("x-tenant-id")
    if claimed and not hmac.compare_digest(claimed.strip().lower(), str(tenant_id)):
        raise Forbidden("X-Tenant-Id does not match the API key's tenant")
    return tenant_id


Tenant = Annotated[UUID, Depends(current_tenant)]


def key_prefix(request: Request) -> str:
    """The prefix of the request's API key, as stored with it (``evd_`` and four
    characters): who reviews in annotation queues.  Depend on ``Tenant`` first, which
    checks the key."""
    key = _presented_key(request) or ""
    return key[: len(KEY_PREFIX) + 4]


Reviewer = Annotated[str, Depends(key_prefix)]
