"""Multipart bodies exactly as the langsmith SDK sends them, decoded and grouped.

The bodies are captured from a real ``langsmith.Client``: a requests adapter stands in for
the network, so every byte (boundary, part headers, zstd frame) is the SDK's own.
"""

from __future__ import annotations

import gzip
import io
import threading
import tracemalloc
import uuid
import zlib
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
import requests
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langsmith import Client
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from evaldelta.ingest.multipart import (
    Attachment,
    IngestError,
    Part,
    RunOps,
    decode_body,
    group_example_parts,
    group_run_parts,
    parse_multipart,
)

MAX = 64 * 1024 * 1024
BATCH_CONFIG = {
    "use_multipart_endpoint": True,
    "size_limit": 100,
    "size_limit_bytes": 20_971_520,
    "scale_up_qsize_trigger": 1000,
    "scale_up_nthreads_limit": 16,
    "scale_down_nempty_trigger": 4,
}


@dataclass
class Sent:
    url: str
    headers: CaseInsensitiveDict[str]
    body: bytes


class _Capture(BaseAdapter):
    """Answers every request with 202 and keeps what was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[Sent] = []
        self._lock = threading.Lock()

    def send(self, request: Any, *args: Any, **kwargs: Any) -> requests.Response:
        body = request.body.read() if hasattr(request.body, "read") else request.body
        with self._lock:
            self.sent.append(Sent(request.url, CaseInsensitiveDict(request.headers), body or b""))
        response = requests.Response()
        response.status_code, response._content = 202, b"{}"
        response.headers["Content-Type"] = "application/json"
        response.url, response.request = request.url, request
        return response

    def close(self) -> None:
        pass


@contextmanager
def sdk_client(**instance_flags: bool) -> Iterator[tuple[Client, list[Sent]]]:
    capture = _Capture()
    session = requests.Session()
    info = {
        "version": "0.12.0",
        "batch_ingest_config": BATCH_CONFIG,
        "instance_flags": instance_flags,
    }
    client = Client(api_url="http://sdk.test", api_key="k", session=session, info=info)
    session.mount("http://", capture)  # after Client(), which mounts its own retrying adapter
    try:
        yield client, capture.sent
    finally:
        client.cleanup(timeout=10)


def start_run(client: Client, run_id: uuid.UUID) -> datetime:
    start = datetime.now(UTC)
    client.create_run(
        "Target",
        {"question": "q0"},
        "chain",
        id=run_id,
        trace_id=run_id,
        start_time=start,
        dotted_order=start.strftime("%Y%m%dT%H%M%S%fZ") + str(run_id),
        project_name="exp",
    )
    return start


def end_run(client: Client, run_id: uuid.UUID, start: datetime, **extra: Any) -> None:
    client.update_run(
        run_id,
        outputs={"answer": "a0"},
        error="RuntimeError('x')",
        end_time=datetime.now(UTC),
        trace_id=run_id,
        dotted_order=start.strftime("%Y%m%dT%H%M%S%fZ") + str(run_id),
        **extra,
    )


def ingest(sent: Sent) -> RunOps:
    body = decode_body(sent.body, sent.headers.get("Content-Encoding"), max_decoded_bytes=MAX)
    if sent.headers["Content-Type"].startswith("application/json") and sent.url.endswith(
        "/feedback"
    ):  # feedback the SDK posted on its own rather than in a frame
        return RunOps([], [], [orjson.loads(body)], [])
    return group_run_parts(parse_multipart(body, sent.headers["Content-Type"]))


def ingest_all(sent: list[Sent]) -> RunOps:
    """All requests of a trace: a slow machine may split one batch in two."""
    ops = [ingest(s) for s in sent]
    return RunOps(
        posts=[run for o in ops for run in o.posts],
        patches=[run for o in ops for run in o.patches],
        feedback=[item for o in ops for item in o.feedback],
        attachments=[item for o in ops for item in o.attachments],
    )


def trace(**instance_flags: bool) -> tuple[uuid.UUID, list[Sent]]:
    run_id = uuid.uuid4()
    with sdk_client(**instance_flags) as (client, sent):
        start = start_run(client, run_id)
        end_run(client, run_id, start, attachments={"pic": ("text/plain", b"a picture")})
        client.create_feedback(
            run_id, "exact_match", score=0.75, trace_id=run_id, session_id=uuid.uuid4()
        )
        client.flush()
    return run_id, sent


def test_zstd_frame_carries_post_patch_feedback_and_attachment_as_separate_parts() -> None:
    run_id, sent = trace(zstd_compression_enabled=True)
    # The SDK may send an op uncompressed when it misses the frame being flushed (seen
    # under load in CI); the frames it compresses are all of unknown size.
    compressed = [f for f in sent if f.headers.get("Content-Encoding") == "zstd"]
    assert compressed
    for frame in compressed:
        params = zstandard.get_frame_parameters(frame.body)
        assert params.content_size == zstandard.CONTENTSIZE_UNKNOWN  # what makes a bomb hard

    ops = ingest_all(sent)
    [post], [patch], [feedback] = ops.posts, ops.patches, ops.feedback
    assert post["id"] == str(run_id) and post["name"] == "Target"
    assert post["inputs"] == {"question": "q0"}
    assert post["extra"]["runtime"]["sdk"] == "langsmith-py"
    assert "end_time" not in post and "outputs" not in post
    assert patch["outputs"] == {"answer": "a0"} and patch["error"] == "RuntimeError('x')"
    assert patch["end_time"] and patch["session_id"] is None
    assert feedback["run_id"] == str(run_id) and feedback["score"] == 0.75
    assert ops.attachments == [Attachment(str(run_id), "pic", "text/plain", b"a picture")]


def ingest_merged(run_id: uuid.UUID, start: str) -> Sent:
    """``Client.multipart_ingest`` of one run's create and update, which it merges."""
    run = {
        "id": str(run_id),
        "trace_id": str(run_id),
        "dotted_order": f"20260101T000000000000Z{run_id}",
        "name": "Target",
        "run_type": "chain",
        "session_name": "exp",
        "start_time": start,
    }
    update = {**run, "end_time": start, "outputs": {"answer": "a0"}, "error": "boom"}
    update["attachments"] = {"pic": ("image/png", b"\x89PNG")}
    with sdk_client() as (client, sent):
        client.multipart_ingest(create=[{**run, "inputs": {"question": "q0"}}], update=[update])
    [request] = sent
    return request


@cache
def plain_body() -> tuple[str, bytes]:
    """One uncompressed SDK request with six parts."""
    request = ingest_merged(uuid.uuid4(), datetime.now(UTC).isoformat())
    return request.headers["Content-Type"], request.body


def test_uncompressed_batch_merges_the_patch_into_the_post() -> None:
    run_id, start = uuid.uuid4(), datetime.now(UTC).isoformat()
    request = ingest_merged(run_id, start)
    assert "Content-Encoding" not in request.headers
    ops = ingest(request)
    [post] = ops.posts
    assert ops.patches == [] and post["id"] == str(run_id) and post["end_time"] == start
    assert post["inputs"] == {"question": "q0"} and post["outputs"] == {"answer": "a0"}
    assert post["error"] == "boom"
    assert ops.attachments == [Attachment(str(run_id), "pic", "image/png", b"\x89PNG")]


def test_patch_in_a_later_request_comes_out_as_a_patch() -> None:
    run_id = uuid.uuid4()
    with sdk_client() as (client, sent):
        start = start_run(client, run_id)
        client.flush()
        end_run(client, run_id, start)
        client.flush()
    first, second = (ingest(s) for s in sent)
    assert [p["id"] for p in first.posts] == [str(run_id)] and first.patches == []
    [patch] = second.patches
    assert second.posts == [] and patch["outputs"] == {"answer": "a0"}


def test_file_attachment_has_length_in_content_type_and_no_content_length(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_bytes(b"from a file")
    run_id = uuid.uuid4()
    with sdk_client() as (client, sent):
        start = start_run(client, run_id)
        end_run(
            client,
            run_id,
            start,
            attachments={"notes": ("text/plain", notes)},
            dangerously_allow_filesystem=True,
        )
        client.flush()
    assert b"Content-Type: text/plain; length=11\r\n\r\nfrom a file" in sent[0].body
    ops = ingest(sent[0])
    assert ops.attachments == [Attachment(str(run_id), "notes", "text/plain", b"from a file")]


def test_gzip_body_decodes_to_the_same_runs() -> None:
    content_type, body = plain_body()
    headers = CaseInsensitiveDict({"Content-Type": content_type, "Content-Encoding": "gzip"})
    gzipped = Sent("", headers, gzip.compress(body))
    identity = Sent("", CaseInsensitiveDict({"Content-Type": content_type}), body)
    assert ingest(gzipped) == ingest(identity)


def test_example_upload_groups_parts_per_example() -> None:
    ids = [uuid.uuid4(), uuid.uuid4()]
    examples = [
        {
            "id": ids[0],
            "inputs": {"q": 1},
            "reference_outputs": {"a": 1},
            "metadata": {"m": 1},
            "split": "train",
            "attachments": {"doc": ("text/plain", b"abc")},
        },
        {"id": ids[1], "inputs": {"q": 2}},
    ]
    with sdk_client(dataset_examples_multipart_enabled=True) as (client, sent):
        client.create_examples(dataset_id=uuid.uuid4(), examples=examples)
    [upload] = [s for s in sent if s.url.endswith("/examples")]
    assert "/v1/platform/datasets/" in upload.url
    parts = parse_multipart(upload.body, upload.headers["Content-Type"])
    first, second = group_example_parts(parts)
    assert first["id"] == str(ids[0])
    assert first["inputs"] == {"q": 1} and first["outputs"] == {"a": 1}
    assert first["metadata"] == {"m": 1} and first["split"] == "train" and first["created_at"]
    assert first["attachments"] == {"doc": ("text/plain", b"abc")}
    assert second["id"] == str(ids[1]) and second["outputs"] is None and second["attachments"] == {}


def json_part(name: str, value: Any) -> Part:
    return Part(name, "application/json", orjson.dumps(value))


def test_parts_in_any_order_and_a_field_without_its_main_part() -> None:
    content_type, body = plain_body()
    parts = parse_multipart(body, content_type)
    assert group_run_parts(reversed(parts)) == group_run_parts(parts)
    run_id = str(uuid.uuid4())
    ops = group_run_parts([json_part(f"patch.{run_id}.outputs", {"answer": 1})])
    assert ops.patches == [{"id": run_id, "outputs": {"answer": 1}}] and ops.posts == []


def test_example_attachment_accepts_the_plural_spelling() -> None:
    example_id = str(uuid.uuid4())
    [example] = group_example_parts([Part(f"{example_id}.attachments.img", "image/png", b"\x89P")])
    assert example["attachments"] == {"img": ("image/png", b"\x89P")}


def multipart(*chunks: bytes, boundary: bytes = b"b0undary") -> bytes:
    return b"".join(b"--" + boundary + b"\r\n" + chunk + b"\r\n" for chunk in chunks) + (
        b"--" + boundary + b"--\r\n"
    )


def error_of(fn: Any, *args: Any, **kwargs: Any) -> IngestError:
    with pytest.raises(IngestError) as info:
        fn(*args, **kwargs)
    return info.value


@pytest.mark.parametrize("cut", ["half", "closing_line", "inside_closing_boundary"])
def test_truncated_body_is_400(cut: str) -> None:
    content_type, body = plain_body()
    closing = body.rindex(b"\r\n--") + 2
    end = {"half": len(body) // 2, "closing_line": closing, "inside_closing_boundary": closing + 5}
    assert error_of(parse_multipart, body[: end[cut]], content_type).status_code == 400


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data; boundary=garbage", "multipart/form-data", "application/json", ""],
)
def test_wrong_or_missing_boundary_is_400(content_type: str) -> None:
    _, body = plain_body()
    assert error_of(parse_multipart, body, content_type).status_code == 400


def test_part_without_a_name_is_400() -> None:
    body = multipart(b'Content-Disposition: form-data; filename="x"\r\n\r\n{}')
    err = error_of(parse_multipart, body, "multipart/form-data; boundary=b0undary")
    assert err.status_code == 400


def test_too_many_parts_is_413() -> None:
    content_type, body = plain_body()
    assert error_of(parse_multipart, body, content_type, max_parts=3).status_code == 413


def test_zstd_bomb_is_413_in_little_memory() -> None:
    """Decoding stops at the limit: it never holds the gigabyte the frame expands to."""
    buffer = io.BytesIO()
    with zstandard.ZstdCompressor(level=3).stream_writer(buffer, closefd=False) as writer:
        zeros = bytes(1 << 20)
        for _ in range(1024):  # 1 GiB of zeros, a ~32 KiB frame without a content size
            writer.write(zeros)
    bomb = buffer.getvalue()
    tracemalloc.start()
    try:
        err = error_of(decode_body, bomb, "zstd", max_decoded_bytes=10 << 20)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert err.status_code == 413
    assert peak < 40 << 20


def test_gzip_bomb_is_413() -> None:
    compressor = zlib.compressobj(level=1, wbits=31)
    zeros = bytes(1 << 20)
    bomb = b"".join(compressor.compress(zeros) for _ in range(64)) + compressor.flush()
    assert error_of(decode_body, bomb, "gzip", max_decoded_bytes=1 << 20).status_code == 413


def test_identity_body_over_the_limit_is_413() -> None:
    assert error_of(decode_body, b"x" * 11, None, max_decoded_bytes=10).status_code == 413


@pytest.mark.parametrize("encoding", ["zstd", "gzip"])
def test_corrupt_or_truncated_compressed_body_is_400(encoding: str) -> None:
    _, body = plain_body()
    pack = zstandard.ZstdCompressor().compress if encoding == "zstd" else gzip.compress
    packed = pack(body)
    for bad in (b"not compressed at all", packed[: len(packed) // 2], packed + b"trailing junk"):
        assert error_of(decode_body, bad, encoding, max_decoded_bytes=MAX).status_code == 400


def test_concatenated_zstd_frames_decode_to_the_concatenation() -> None:
    frame = zstandard.ZstdCompressor().compress(b"abc")
    assert decode_body(frame + frame, "zstd", max_decoded_bytes=MAX) == b"abcabc"


def test_unknown_encoding_is_415() -> None:
    assert error_of(decode_body, b"", "br", max_decoded_bytes=MAX).status_code == 415


RUN = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("part", "says"),
    [
        (Part(f"post.{RUN}", "application/json", b'{"id": '), "not valid JSON"),
        (Part(f"post.{RUN}.inputs", "application/json", b"{nope}"), "not valid JSON"),
        (json_part(f"post.{RUN}", ["not", "an", "object"]), "not a JSON object"),
        (json_part(f"post.{RUN}", {"id": str(uuid.uuid4())}), "another id"),
        (json_part(f"feedback.{RUN}", {"id": 7}), "another id"),
        (json_part(f"post.{RUN}.error", {"type": "RuntimeError"}), "not a JSON string"),
        (json_part(f"post.{RUN}.secrets", {}), "unknown run field"),
        (json_part(f"post.{RUN}.", {}), "unknown run field"),
        (json_part(f"delete.{RUN}", {}), "is not post, patch"),
        (json_part("post.not-a-uuid", {}), "not a UUID"),
        (Part(f"attachment.{RUN}", "text/plain", b"x"), "names no attachment"),
    ],
)
def test_invalid_run_part_is_422_naming_the_part(part: Part, says: str) -> None:
    err = error_of(group_run_parts, [part])
    assert err.status_code == 422 and says in err.message
    assert part.name in err.message and err.loc == ["body", part.name]


def test_matching_id_in_another_spelling_is_accepted() -> None:
    run_id = uuid.uuid4()
    ops = group_run_parts([json_part(f"post.{run_id}", {"id": run_id.hex.upper()})])
    assert ops.posts == [{"id": str(run_id)}]


def test_invalid_example_parts_are_422() -> None:
    example_id = str(uuid.uuid4())
    for part in (json_part(f"{example_id}.secrets", {}), json_part("nope.inputs", {})):
        assert error_of(group_example_parts, [part]).status_code == 422


def run_all(body: bytes, content_type: str, encoding: str | None) -> None:
    decoded = decode_body(body, encoding, max_decoded_bytes=1 << 20)
    parts = parse_multipart(decoded, content_type)
    group_run_parts(parts)
    group_example_parts(parts)


FUZZ = settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.too_slow])


# Pieces of real bodies, so that fuzzed input gets past the boundary into parts and JSON.
NAMES = [f"post.{RUN}", f"patch.{RUN}.error", f"feedback.{RUN}", f"attachment.{RUN}.x", RUN]
TOKENS = [
    *(name.encode() for name in NAMES),
    *(b"--b0undary\r\n", b"--b0undary--\r\n", b"--b0undary", b"\r\n", b"\r\n\r\n"),
    *(b'Content-Disposition: form-data; name="', b'"', b".inputs", b".attachment.pic"),
    *(b"Content-Type: text/plain; length=3", b"Content-Length: 9"),
    *(b"{}", b'"boom"', f'{{"id":"{RUN}"}}'.encode(), b"[1,", b"\xff\xfe"),
]
multipart_ish = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=8)), max_size=40)


@pytest.mark.timeout(120)
@FUZZ
@given(
    body=st.one_of(st.binary(max_size=2048), multipart_ish.map(b"".join)),
    encoding=st.sampled_from([None, "identity", "zstd", "gzip", "deflate", "br"]),
    boundary=st.sampled_from(["b0undary", "", "x" * 300, "\u00e9"]),
)
def test_arbitrary_bytes_raise_only_ingest_error(body: bytes, encoding: str, boundary: str) -> None:
    with suppress(IngestError):
        run_all(body, f"multipart/form-data; boundary={boundary}", encoding)


mutation = st.tuples(
    st.sampled_from(["flip", "insert", "delete", "cut"]),
    st.integers(0, 1 << 20),
    st.integers(0, 255),
)


def mutate(body: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    data = bytearray(body)
    for op, where, byte in edits:
        i = where % (len(data) + 1)
        if op == "flip" and i < len(data):
            data[i] ^= byte or 1
        elif op == "insert":
            data[i:i] = bytes([byte]) * (1 + byte % 8)
        elif op == "delete":
            del data[i : i + 1 + byte % 8]
        elif op == "cut":
            del data[i:]
    return bytes(data)


@pytest.mark.timeout(120)
@FUZZ
@given(edits=st.lists(mutation, min_size=1, max_size=6), compress=st.booleans())
def test_mutated_sdk_bodies_raise_only_ingest_error(
    edits: list[tuple[str, int, int]], compress: bool
) -> None:
    content_type, body = plain_body()
    if compress:  # mutate the zstd frame itself, as a flaky proxy would
        body, encoding = mutate(zstandard.ZstdCompressor().compress(body), edits), "zstd"
    else:
        body, encoding = mutate(body, edits), None
    with suppress(IngestError):
        run_all(body, content_type, encoding)


# -- the splitter: strict framing, and the same parts as a reference parser ---------------

CT = "multipart/form-data; boundary=b0undary"


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            multipart(b"Content-Disposition: form-data; name=a\r\n\r\nx").replace(
                b"--b0undary\r\n", b"--b0undaryX\r\n", 1
            ),
            "junk after a boundary",
        ),
        (
            b"--b0undary\r\nContent-Disposition: form-data; name=a\r\n--b0undary--\r\n",
            "no header block",
        ),
        (multipart(b"Content-Disposition form-data; name=a\r\n\r\nx"), "bad part header"),
        (multipart(b" Content-Disposition: form-data; name=a\r\n\r\nx"), "bad part header"),
        (multipart(b'Content-Disposition: attachment; name="a"\r\n\r\nx'), "no Content-Disp"),
        (multipart(b'Content-Disposition: form-data; name=""\r\n\r\nx'), "no Content-Disp"),
        (multipart(b'Content-Disposition: form-data; name="a\r\n\r\nx'), "no Content-Disp"),
        (multipart(b"Content-Type: text/plain\r\n\r\nx"), "no Content-Disp"),
        (multipart(b'Content-Disposition: form-data; name="\xe9"\r\n\r\nx'), "not UTF-8"),
        (b"no boundary anywhere", "does not occur"),
    ],
)
def test_malformed_framing_is_400_saying_what(body: bytes, says: str) -> None:
    err = error_of(parse_multipart, body, CT)
    assert err.status_code == 400 and says in err.message


@pytest.mark.parametrize("boundary", ["x" * 71, "ends-in-space ", "semi;colon", "é"])
def test_boundary_outside_rfc_2046_is_400(boundary: str) -> None:
    body = multipart(b'Content-Disposition: form-data; name="a"\r\n\r\nx')
    content_type = f'multipart/form-data; boundary="{boundary}"'
    assert error_of(parse_multipart, body, content_type).status_code == 400


def test_preamble_epilogue_padding_and_header_spellings_are_accepted() -> None:
    body = (
        b"a preamble line\r\n--b0undary \t\r\n"  # transport padding after the delimiter
        b"content-type: text/plain; charset=utf-8; length=2\r\nCONTENT-DISPOSITION: form-data;"
        b' name="q\\"uoted"; filename="f.txt"\r\nX-Other: 1\r\n\r\nhi'
        b"\r\n--b0undary\r\nContent-Disposition: form-data; name=token.name\r\n\r\n"
        b'\r\n--b0undary\r\nContent-Disposition: form-data; name="\xc3\xa9t\xc3\xa9"\r\n\r\n'
        b"--b0undar\r\n\r\n"  # data that almost holds the boundary
        b"\r\n--b0undary--\r\nan epilogue\r\n--b0undary\r\n"
    )
    parts = parse_multipart(body, 'multipart/form-data; boundary="b0undary"')
    assert parts == [
        Part('q"uoted', "text/plain; charset=utf-8", b"hi"),
        Part("token.name", "application/octet-stream", b""),
        Part("été", "application/octet-stream", b"--b0undar\r\n\r\n"),
    ]


def reference_parts(body: bytes, boundary: bytes) -> list[Part]:
    """python-multipart's reading of a body, for comparison."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    parts: list[Part] = []
    state: dict[str, Any] = {}

    def begin() -> None:
        state.update(headers={}, field=b"", value=b"", data=b"")

    def header_end() -> None:
        state["headers"][state["field"].lower()] = state["value"]
        state["field"] = state["value"] = b""

    def part_end() -> None:
        _, options = parse_options_header(state["headers"][b"content-disposition"])
        content_type = state["headers"].get(b"content-type", b"application/octet-stream")
        parts.append(Part(options[b"name"].decode(), content_type.decode(), state["data"]))

    def add(key: str) -> Any:
        def on(data: bytes, start: int, end: int) -> None:
            state[key] += data[start:end]

        return on

    callbacks: Any = {
        "on_part_begin": begin,
        "on_header_field": add("field"),
        "on_header_value": add("value"),
        "on_header_end": header_end,
        "on_part_data": add("data"),
        "on_part_end": part_end,
    }
    MultipartParser(boundary, callbacks).write(body)
    return parts


header_case = st.sampled_from([str.title, str.lower, str.upper])
part_strategy = st.tuples(
    st.text(st.characters(blacklist_characters='"\\\r\n', blacklist_categories=["Cs"]), min_size=1),
    st.sampled_from(["application/json", "text/plain", "image/png", None]),
    st.binary(max_size=64),
    header_case,
    st.booleans(),
)


@pytest.mark.timeout(120)
@FUZZ
@given(parts=st.lists(part_strategy, max_size=12))
def test_splitter_reads_well_formed_bodies_as_python_multipart_does(
    parts: list[tuple[str, str | None, bytes, Any, bool]],
) -> None:
    boundary = uuid.uuid4().hex
    chunks = []
    for name, content_type, data, case, with_length in parts:
        head = f'{case("content-disposition")}: form-data; name="{name}"\r\n'
        if content_type is not None:
            head += f"{case('content-type')}: {content_type}\r\n"
        if with_length:
            head += f"{case('content-length')}: {len(data)}\r\n"
        chunks.append(f"--{boundary}\r\n{head}\r\n".encode() + data + b"\r\n")
    body = b"".join(chunks) + f"--{boundary}--\r\n".encode()
    ours = parse_multipart(body, f"multipart/form-data; boundary={boundary}")
    assert ours == reference_parts(body, boundary.encode())
    assert [p.name for p in ours] == [name for name, *_ in parts]
