"""API keys: made random, stored hashed, resolved to a tenant on every request."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool

from evaldelta.errors import Forbidden, Unauthorized
from evaldelta.store.base import Store

KEY_PREFIX = "evd_"
# Keys this server makes are 47 characters.  A value far longer cannot be one: it is
# refused as a wrong key before it costs a hash (a header may be tens of kilobytes).
MAX_KEY_CHARS = 512


def new_api_key() -> str:
    """A fresh key: 256 random bits, URL-safe, recognisable by its prefix."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """SHA-256 of the key: keys are random and long, so no slow hash is needed."""
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(store: Store, tenant_name: str) -> tuple[UUID, str]:
    """Create the tenant if needed and a new key for it; returns (tenant id, key).

    Runs directly on the store: only for use while no server owns it, or from the writer.
    """

    def work() -> tuple[UUID, str]:
        tenant_id = store.write_tenant(tenant_name)
        key = new_api_key()
        store.write_api_key(tenant_id, hash_api_key(key), key[: len(KEY_PREFIX) + 4])
        return tenant_id, key

    return store.run_in_transaction(work)


def _presented_key(request: Request) -> str | None:
    key = request.headers.get("x-api-key")
    if key:
        return key
    auth = request.headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class KeyCache:
    """Hash → tenant id for keys already seen (keys are never revoked while serving)."""

    def __init__(self) -> None:
        self._known: dict[str, UUID] = {}

    async def resolve(self, store: Store, key: str) -> UUID | None:
        """The tenant of ``key``, or None for a key that is not one (too long, unknown)."""
        if len(key) > MAX_KEY_CHARS:
            return None
        digest = hash_api_key(key)
        tenant_id = self._known.get(digest)
        if tenant_id is None:
            tenant_id = await run_in_threadpool(store.tenant_for_key_hash, digest)
            if tenant_id is None:
                return None
            self._known[digest] = tenant_id
        return tenant_id


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
