"""Signed download links of example attachments, and keeping them out of the logs.

The SDK downloads each ``attachment_urls[...]["presigned_url"]`` with a plain GET that
carries no API key, as it would a storage service's presigned URL.  So the URL carries its
own proof instead: ``?signed=<expires>.<tenant>.<digest>.<mac>``, an HMAC-SHA256 of the
tenant, example, attachment name, blob digest and expiry time under the server's secret.
A link names one version of one attachment (its digest): the bytes it gives never change,
and it stops working when it expires.  A link is a bearer credential for that one file
until then, so the access log shows ``signed=[redacted]``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from uuid import UUID

from evaldelta.errors import Forbidden
from evaldelta.store.attachments import Meta, is_digest

# Expiry times are rounded up to this, so that reads close together give the same URL
# (and a client may cache what it downloaded).
_ROUND_SECONDS = 60
_SIGNED = re.compile(r"(signed=)[^&\s\"'\\]+")


def download_path(example_id: UUID, name: str) -> str:
    return f"/api/v1/examples/{example_id}/attachments/{quote(name, safe='')}"


@dataclass(frozen=True)
class AttachmentLinks:
    """Makes and checks signed links; ``seconds`` is how long a link lives."""

    secret: bytes
    seconds: int

    @classmethod
    def from_secret(cls, secret: str | None, seconds: int) -> AttachmentLinks:
        key = secret.encode() if secret else secrets.token_bytes(32)
        return cls(key, seconds)

    def _mac(self, tenant: UUID, example_id: UUID, name: str, digest: str, expires: int) -> str:
        message = f"{tenant}\n{example_id}\n{name}\n{digest}\n{expires}".encode()
        return hmac.new(self.secret, message, hashlib.sha256).hexdigest()

    def token(self, tenant: UUID, example_id: UUID, name: str, digest: str) -> str:
        expires = math.ceil((time.time() + self.seconds) / _ROUND_SECONDS) * _ROUND_SECONDS
        mac = self._mac(tenant, example_id, name, digest, expires)
        return f"{expires}.{tenant.hex}.{digest}.{mac}"

    def urls(
        self, base: str, tenant: UUID, example_id: UUID, attachments: dict[str, Meta] | None
    ) -> dict[str, Any] | None:
        """An example's ``attachment_urls`` as LangSmith shapes them (None: it has none)."""
        if not attachments:
            return None
        return {
            f"attachment.{name}": {
                "presigned_url": base.rstrip("/")
                + download_path(example_id, name)
                + "?signed="
                + self.token(tenant, example_id, name, meta["digest"]),
                "mime_type": meta["mime_type"],
            }
            for name, meta in sorted(attachments.items())
        }

    def verify(self, token: str, example_id: UUID, name: str) -> tuple[UUID, str]:
        """The (tenant, digest) a link is for; 403 if it was not made here or expired."""
        parts = token.split(".")
        try:
            expires_text, tenant_hex, digest, mac = parts
            expires, tenant = int(expires_text), UUID(hex=tenant_hex)
        except ValueError:
            raise Forbidden("this is not a download link this server made") from None
        expected = self._mac(tenant, example_id, name, digest, expires)
        if not is_digest(digest) or not hmac.compare_digest(mac, expected):
            raise Forbidden("this is not a download link this server made")
        if expires < time.time():
            raise Forbidden("this download link has expired: read the example again for a new one")
        return tenant, digest


def _redacted(value: Any) -> Any:
    text = value if isinstance(value, str) else repr(value) if not _plain(value) else None
    if text is None or "signed=" not in text:
        return value
    return _SIGNED.sub(r"\1[redacted]", text if isinstance(value, str) else str(value))


def _plain(value: Any) -> bool:
    return isinstance(value, int | float | bool) or value is None


class RedactSignedLinks(logging.Filter):
    """Log records (access lines, ASGI traces) with every ``signed=`` value blanked.  The
    arguments are redacted one by one, keeping their number: uvicorn's access formatter
    unpacks them."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "signed=" in record.msg:
            record.msg = _SIGNED.sub(r"\1[redacted]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_redacted(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _redacted(v) for k, v in record.args.items()}
        return True
