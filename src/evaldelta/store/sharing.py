"""Share tokens, written once for both stores: who shared what, under which token.

A share token is a capability: whoever holds it reads, without a key, one dataset (and,
when shared with ``share_projects``, the experiments on it) or one run's trace.  Tokens
are random UUIDs (122 random bits).  Sharing what is already shared answers the token it
already has (so links handed out stay valid); unsharing deletes the token, and every
public read looks the token up again, so an unshared link stops working at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID

from evaldelta.errors import Conflict
from evaldelta.store.base import Row
from evaldelta.store.listing import Listing

ShareKind = Literal["dataset", "run"]

_COLUMNS = "share_token, tenant_id, kind, target_id, share_projects, created_at"


class ShareTokens:
    """The share-token reads and rules of both stores; each backend says how it stores
    one token row (``_put_share``) and deletes a target's tokens (``_drop_shares``)."""

    _list: Listing

    def _put_share(self, row: Row) -> None:
        """Store a token row (a new token, or a new ``share_projects`` of one)."""
        raise NotImplementedError

    def _drop_shares(self, tenant_id: UUID, kind: ShareKind, target_id: UUID) -> None:
        """Delete every token of the target."""
        raise NotImplementedError

    def get_share(self, tenant_id: UUID, kind: ShareKind, target_id: UUID) -> Row | None:
        """The target's token row, or None when it is not shared.  Two servers sharing one
        target at once may both write a token; the oldest is the one answered."""
        rows = self._list.rows(
            f"SELECT {_COLUMNS} FROM share_tokens"
            " WHERE tenant_id = ? AND kind = ? AND target_id = ?"
            " ORDER BY created_at, share_token LIMIT 1",
            [tenant_id, kind, target_id],
        )
        return rows[0] if rows else None

    def share_by_token(self, token: UUID) -> Row | None:
        """The token's row (its tenant, kind and target), or None for no live token."""
        rows = self._list.rows(
            f"SELECT {_COLUMNS} FROM share_tokens WHERE share_token = ? LIMIT 1", [token]
        )
        return rows[0] if rows else None

    def write_share(
        self,
        tenant_id: UUID,
        kind: ShareKind,
        target_id: UUID,
        *,
        token: UUID,
        share_projects: bool,
    ) -> Row:
        """Share the target: its existing token (with ``share_projects`` as now asked),
        else ``token`` as its new one.  The caller checked that the target is the tenant's
        and that ``token`` is random; a 409 if ``token`` is already another target's."""
        current = self.get_share(tenant_id, kind, target_id)
        if current is not None:
            if bool(current["share_projects"]) != share_projects:
                current = {**current, "share_projects": share_projects}
                self._put_share(current)
            return current
        if self.share_by_token(token) is not None:
            raise Conflict("This share token is already in use")
        row: Row = {
            "share_token": token,
            "tenant_id": tenant_id,
            "kind": kind,
            "target_id": target_id,
            "share_projects": share_projects,
            "created_at": datetime.now(UTC),
        }
        self._put_share(row)
        return row

    def write_unshare(self, tenant_id: UUID, kind: ShareKind, target_id: UUID) -> None:
        """Stop sharing the target: its tokens are gone from the next read on."""
        self._drop_shares(tenant_id, kind, target_id)
