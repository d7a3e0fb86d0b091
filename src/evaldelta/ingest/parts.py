"""Splitting a whole ``multipart/form-data`` body into its parts with bytes methods.

The body is already in memory (it usually arrives zstd-compressed as a whole), so one
``bytes.split`` on the delimiter does the framing in C and the SDK's header block is read
by one regular expression, rather than one Python callback per chunk and header as a
streaming parser needs (python-multipart: about 8x slower on the SDK's bodies).  The
framing is RFC 2046's (delimiter ``CRLF--boundary``, optional preamble and epilogue,
transport padding after a delimiter) and the part headers RFC 7578's: every part needs
``Content-Disposition: form-data; name=...``; any fault is a 400.
"""

from __future__ import annotations

import itertools
import re
from typing import NamedTuple

from evaldelta.errors import IngestError

DEFAULT_CONTENT_TYPE = "application/octet-stream"

# RFC 2046 §5.1.1: 1 to 70 characters from this set, not ending in a space.
_BOUNDARY = re.compile(r"[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]")
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
# One ``; name=value`` parameter, the value a token or a quoted string.
_PARAM = re.compile(rf'\s*;\s*({_TOKEN})\s*=\s*(?:"((?:[^"\\]|\\.)*)"|({_TOKEN}))\s*')
_ESCAPE = re.compile(r"\\(.)")
_SDK_DISPOSITION = 'form-data; name="'
# The header block the SDK writes (what follows the boundary line), matched in one go.
_SDK_HEADERS = re.compile(
    rb'\r\nContent-Disposition: form-data; name="([^"\\\r\n]+)"'
    rb"(?:\r\nContent-Type: ([!-:<-~]+)(?:; length=[0-9]+)?)?"
    rb"(?:\r\nContent-Length: [0-9]+)?"
)


class Part(NamedTuple):
    """One part of a multipart body; ``content_type`` without its ``length=`` parameter.

    A named tuple: a body holds a part per feedback row, and a tuple is made in C, where a
    frozen dataclass's ``__init__`` costs a Python call and three ``object.__setattr__``.
    """

    name: str
    content_type: str
    data: bytes


def header_params(value: str) -> tuple[str, dict[str, str]]:
    """``form-data; name="x"`` -> ``("form-data", {"name": "x"})``; names lower-cased.

    A value that does not parse as ``type *(; name=value)`` raises ``ValueError``.
    """
    head = value.partition(";")[0]
    params: dict[str, str] = {}
    pos = len(head)
    while value[pos:].strip(" \t;"):  # a trailing ";" is tolerated, as clients send it
        match = _PARAM.match(value, pos)
        if match is None:
            raise ValueError(f"malformed header parameters in {value!r}")
        name, quoted, token = match.groups()
        params[name.lower()] = token if quoted is None else _ESCAPE.sub(r"\1", quoted)
        pos = match.end()
    return head.strip().lower(), params


def boundary_of(content_type: str) -> bytes:
    """The boundary a ``multipart/*`` Content-Type names (400 if none or malformed)."""
    try:
        media_type, params = header_params(content_type)
    except ValueError:
        media_type, params = "", {}
    boundary = params.get("boundary", "")
    if not media_type.startswith("multipart/") or not _BOUNDARY.fullmatch(boundary):
        raise IngestError(400, "expected Content-Type multipart/form-data with a boundary")
    return boundary.encode("ascii")


def parse_multipart(body: bytes, content_type: str, *, max_parts: int = 100_000) -> list[Part]:
    """Split a ``multipart/form-data`` body into its parts, in order.

    Every part needs a ``Content-Disposition: form-data; name=...``; per-part
    ``Content-Length`` headers are not needed. A body without its closing boundary is
    rejected (400), as is one with more than ``max_parts`` parts (413).
    """
    delimiter = b"\r\n--" + boundary_of(content_type)
    if body.count(delimiter) > max_parts + 1:
        raise IngestError(413, f"more than {max_parts} parts")
    # The first delimiter may open the body (no CRLF before it): one split in C does the
    # framing; chunk 0 is the preamble, the chunk after the closing ``--`` the epilogue.
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2:
        raise IngestError(400, "malformed multipart body: the boundary does not occur")
    parts: list[Part] = []
    for chunk in itertools.islice(chunks, 1, None):
        if chunk.startswith(b"--"):
            return parts
        if len(parts) >= max_parts:
            raise IngestError(413, f"more than {max_parts} parts")
        head, blank, data = chunk.partition(b"\r\n\r\n")
        if not blank:
            raise IngestError(400, "malformed multipart body: a part has no header block")
        if not head.startswith(b"\r\n"):  # transport padding: spaces or tabs, then CRLF
            padding, crlf, head = head.partition(b"\r\n")
            if not crlf or padding.strip(b" \t"):
                raise IngestError(400, "malformed multipart body: junk after a boundary")
            head = b"\r\n" + head
        sdk = _SDK_HEADERS.fullmatch(head)
        if sdk is not None:  # the SDK's own header block, the usual case
            try:
                name = sdk[1].decode()
            except UnicodeDecodeError:
                raise IngestError(400, "part headers are not UTF-8") from None
            kind = sdk[2]
            parts.append(Part(name, DEFAULT_CONTENT_TYPE if kind is None else kind.decode(), data))
        else:
            parts.append(Part(*_part_headers(head[2:]), data))
    raise IngestError(400, "truncated multipart body: no closing boundary")


def _part_headers(block: bytes) -> tuple[str, str]:
    """The part's name and content type (without ``length=``) from its header block."""
    try:
        text = block.decode()
    except UnicodeDecodeError:
        raise IngestError(400, "part headers are not UTF-8") from None
    disposition = content_type = None
    for line in text.split("\r\n"):
        field, colon, value = line.partition(":")
        if not colon or not field or field != field.rstrip() or field[0] in " \t":
            raise IngestError(400, "malformed multipart body: a bad part header line")
        field = field.lower()
        if field == "content-disposition":
            disposition = value.strip()
        elif field == "content-type":
            content_type = value.strip()
    name = _name_of(disposition)
    return name, _without_length(content_type) if content_type else DEFAULT_CONTENT_TYPE


def _name_of(disposition: str | None) -> str:
    """The ``name`` of a ``form-data`` Content-Disposition (400 if there is none)."""
    if disposition is None:
        name = ""
    elif (
        disposition.startswith(_SDK_DISPOSITION)
        and disposition.endswith('"')
        and disposition.count('"') == 2
        and "\\" not in disposition
    ):
        name = disposition[len(_SDK_DISPOSITION) : -1]  # the SDK's form, the usual case
    else:
        try:
            kind, params = header_params(disposition)
        except ValueError:
            kind, params = "", {}
        name = params.get("name", "") if kind == "form-data" else ""
    if not name:
        raise IngestError(400, "a part has no Content-Disposition: form-data; name=...")
    return name


def _without_length(content_type: str) -> str:
    """``text/plain; length=16`` -> ``text/plain`` (the SDK's size hint, not a MIME param)."""
    if ";" not in content_type:
        return content_type
    params = (p.strip() for p in content_type.split(";"))
    return "; ".join(p for p in params if p and not p.lower().startswith("length="))
