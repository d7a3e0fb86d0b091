"""Example attachments between the wire and the store: the parts of a multipart upload
checked against the size limits, their blobs written, and ``attachment_urls`` made for
the examples a route answers with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from fastapi import Request

from evaldelta.errors import PayloadTooLarge
from evaldelta.server.attachment_links import AttachmentLinks
from evaldelta.settings import Settings
from evaldelta.store.attachments import Meta, apply_operations, check_name, meta_of
from evaldelta.store.base import Row, Store


@dataclass(frozen=True)
class Uploaded:
    """The attachments of one example in one request: ``name -> meta``, and the bytes
    of each by digest."""

    metas: dict[str, Meta]
    blobs: dict[str, bytes]


def uploaded(items: list[Row], settings: Settings) -> dict[str, Uploaded]:
    """Each example's attachments (by example id), checked before anything is written:
    names (422), each attachment's size and the request's total (413)."""
    total = 0
    found: dict[str, Uploaded] = {}
    for item in items:
        parts: Mapping[str, tuple[str, bytes]] = item.get("attachments") or {}
        metas: dict[str, Meta] = {}
        blobs: dict[str, bytes] = {}
        for name, (mime_type, data) in parts.items():
            part = f"{item['id']}.attachment.{name}"
            check_name(name, ["body", part])
            if len(data) > settings.attachment_max_bytes:
                raise PayloadTooLarge(
                    f"attachment {part!r} is {len(data)} bytes; the limit of one attachment"
                    f" is {settings.attachment_max_bytes} bytes",
                    loc=["body", part],
                )
            total += len(data)
            if total > settings.attachments_max_request_bytes:
                raise PayloadTooLarge(
                    "the attachments of this request are more than"
                    f" {settings.attachments_max_request_bytes} bytes together: send them"
                    " in several requests",
                    loc=["body", part],
                )
            metas[name] = meta_of(mime_type, data)
            blobs[metas[name]["digest"]] = data
        found[item["id"]] = Uploaded(metas, blobs)
    return found


def write_blobs(store: Store, uploads: Mapping[Any, Uploaded]) -> None:
    """Write the blobs of ``uploads``: in the writer, before the rows that name them."""
    for upload in uploads.values():
        for digest, data in upload.blobs.items():
            store.write_attachment_blob(digest, data)


def attachments_after(
    current: Row, operations: Mapping[str, Any] | None, upload: Uploaded | None, loc: list[Any]
) -> dict[str, Meta] | None:
    """An example's attachments after an update, or None when the update leaves them."""
    if operations is None and (upload is None or not upload.metas):
        return None
    return apply_operations(
        current.get("attachments"), operations, upload.metas if upload else {}, loc
    )


def links(request: Request) -> AttachmentLinks:
    return cast(AttachmentLinks, request.app.state.attachment_links)


def presented(request: Request, tenant: UUID, row: Row, *, urls: bool = True) -> Row:
    """An example row as the API answers it: its stored ``attachments`` turned into
    ``attachment_urls`` (signed download links), or left out when ``urls`` is false."""
    attachments = row.pop("attachments", None)
    if urls:
        row["attachment_urls"] = links(request).urls(
            str(request.base_url), tenant, row["id"], attachments
        )
    return row
