"""``BodyDecoder``: a body decoded piece by piece, however it is split, is the body decoded
whole; the cap and the budget are checked as bytes are produced."""

from __future__ import annotations

import gzip
import random
import zlib

import pytest
import zstandard

from evaldelta.errors import IngestError
from evaldelta.ingest.decoding import BodyDecoder

TEXT = b"".join(b"line %d of a body that compresses well\n" % i for i in range(20_000))


def packed(encoding: str, data: bytes) -> bytes:
    """``data`` in two frames or members, as a client may send it."""
    half = len(data) // 2
    match encoding:
        case "zstd":
            pack = zstandard.ZstdCompressor().compress
        case "gzip":
            pack = gzip.compress
        case _:
            return zlib.compress(data)  # deflate: one zlib stream
    return pack(data[:half]) + pack(data[half:])


def pieces(data: bytes, seed: int) -> list[bytes]:
    rng = random.Random(seed)
    cuts = sorted(rng.sample(range(1, len(data)), 20))
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


@pytest.mark.parametrize("encoding", ["zstd", "gzip", "deflate", "identity"])
@pytest.mark.parametrize("seed", range(5))
def test_any_split_decodes_to_the_whole(encoding: str, seed: int) -> None:
    body = TEXT if encoding == "identity" else packed(encoding, TEXT)
    decoder = BodyDecoder(encoding, max_decoded_bytes=len(TEXT))
    out = b"".join(b"".join(decoder.feed(piece)) for piece in pieces(body, seed))
    decoder.finish()
    assert out == TEXT


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
def test_a_body_cut_short_is_400_however_split(encoding: str) -> None:
    body = packed(encoding, TEXT)[:-7]
    decoder = BodyDecoder(encoding, max_decoded_bytes=len(TEXT))
    for piece in pieces(body, 1):
        decoder.feed(piece)
    with pytest.raises(IngestError) as refused:
        decoder.finish()
    assert refused.value.status_code == 400


def test_a_bomb_stops_at_the_cap_and_charges_as_it_goes() -> None:
    compressor = zstandard.ZstdCompressor(level=1).compressobj()
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(256)) + compressor.flush()
    charged: list[int] = []
    decoder = BodyDecoder("zstd", max_decoded_bytes=16 << 20, charge=charged.append)
    with pytest.raises(IngestError) as refused:
        for piece in pieces(bomb, 2):
            decoder.feed(piece)
    assert refused.value.status_code == 413
    assert 8 << 20 <= sum(charged) <= 16 << 20  # charged before kept, never past the cap
