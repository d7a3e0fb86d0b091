"""Undoing a request body's ``Content-Encoding`` piece by piece, under a decoded-size cap.

``BodyDecoder`` takes the body as it arrives and returns the decoded bytes each piece
yields, checking the cap (and calling ``charge``) as output is produced: a bomb (64 KiB of
zstd that expands to gigabytes) is refused after decoding at most the cap plus one step,
however the input is split. ``decode_body`` is the same for a body held whole.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import zstandard

from evaldelta.errors import IngestError

ENCODINGS = ("identity", "zstd", "gzip", "x-gzip", "deflate")

# zstd expands at most ~32 KiB per input byte (an RLE block: 4 bytes for 128 KiB), so
# feeding 256 bytes at a time yields at most 8 MiB per step; zlib is capped exactly.
_ZSTD_STEP = 256
_STEP_OUTPUT = 8 << 20


def _zstd() -> zstandard.ZstdDecompressionObj:
    return zstandard.ZstdDecompressor().decompressobj()


def _zlib(encoding: str) -> Callable[[], zlib._Decompress]:
    wbits = zlib.MAX_WBITS if encoding == "deflate" else 16 + zlib.MAX_WBITS
    return lambda: zlib.decompressobj(wbits=wbits)


def _no_charge(_: int) -> None:
    return None


class BodyDecoder:
    """One request body's decoder: ``feed`` each piece as it arrives, then ``finish``.

    ``charge(n)`` is called before ``n`` more decoded bytes are kept; it may raise to
    refuse them (the server's budget of decoded bytes in flight). Errors are
    ``IngestError``: 400 for a corrupt or truncated body, 413 past ``max_decoded_bytes``,
    415 for an unknown encoding (raised by the constructor).
    """

    def __init__(
        self,
        content_encoding: str | None,
        *,
        max_decoded_bytes: int,
        charge: Callable[[int], None] = _no_charge,
    ) -> None:
        encoding = (content_encoding or "identity").strip().lower() or "identity"
        if encoding not in ENCODINGS:
            raise IngestError(415, f"unsupported Content-Encoding {content_encoding!r}")
        self.encoding = encoding
        self.limit = max_decoded_bytes
        self.decoded = 0
        self._charge = charge
        self._zstd = _zstd() if encoding == "zstd" else None
        self._new_zlib = None if encoding in ("identity", "zstd") else _zlib(encoding)
        self._zlib = self._new_zlib() if self._new_zlib else None

    @property
    def identity(self) -> bool:
        """Whether the body passes through as it is (no work worth a thread)."""
        return self.encoding == "identity"

    def feed(self, data: bytes) -> list[bytes]:
        """The decoded bytes ``data`` (the next piece of the body) yields."""
        out: list[bytes] = []
        try:
            if self._zstd is not None:
                self._feed_zstd(data, out)
            elif self._zlib is not None:
                self._feed_zlib(data, out)
            elif data:
                out.append(data)
                self._keep(len(data))
        except (zstandard.ZstdError, zlib.error) as err:
            out.clear()
            raise IngestError(400, f"corrupt {self.encoding} body: {err}") from None
        except BaseException:
            # The error outlives this call (a worker thread keeps its last one): its
            # traceback must not keep what was decoded alive.
            out.clear()
            raise
        return out

    def finish(self) -> None:
        """Check the body ended where a frame or member ends (400 if not)."""
        stream = self._zstd or self._zlib
        if stream is not None and not stream.eof:
            raise IngestError(400, "truncated compressed body")

    def _keep(self, size: int) -> None:
        if self.decoded + size > self.limit:
            raise IngestError(413, f"decoded body larger than {self.limit} bytes")
        self._charge(size)
        self.decoded += size

    def _feed_zstd(self, data: bytes, out: list[bytes]) -> None:
        pos = 0
        while pos < len(data):
            assert self._zstd is not None
            if self._zstd.eof:  # a frame ended; what follows it is the next frame
                self._zstd = _zstd()
            step = data[pos : pos + _ZSTD_STEP]
            self._keep_piece(self._zstd.decompress(step), out)
            pos += len(step)
            if self._zstd.eof:
                unused = len(self._zstd.unused_data)
                if unused >= len(step):
                    raise IngestError(400, "empty compressed frame")
                pos -= unused

    def _feed_zlib(self, data: bytes, out: list[bytes]) -> None:
        while data:
            assert self._zlib is not None and self._new_zlib is not None
            if self._zlib.eof:  # a member ended; what follows it is the next member
                self._zlib = self._new_zlib()
            self._keep_piece(self._zlib.decompress(data, _STEP_OUTPUT), out)
            data = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail

    def _keep_piece(self, piece: bytes, out: list[bytes]) -> None:
        size = len(piece)
        if size:
            out.append(piece)
        del piece  # out alone holds it, and feed clears out if _keep refuses it
        self._keep(size)


def decode_body(body: bytes, content_encoding: str | None, *, max_decoded_bytes: int) -> bytes:
    """Undo ``Content-Encoding`` (zstd, gzip, deflate or identity) of a whole request body.

    Never holds much more than ``max_decoded_bytes`` (413) however well the input
    compresses. Several concatenated zstd frames or gzip members decode to the
    concatenation of their contents.
    """
    decoder = BodyDecoder(content_encoding, max_decoded_bytes=max_decoded_bytes)
    pieces = decoder.feed(body)
    decoder.finish()
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)
