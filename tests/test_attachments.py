"""Example attachments through the SDK, on both stores: what ``create_examples`` and
``update_examples`` send is kept, ``read_example`` and ``list_examples`` give the exact
bytes back through signed links, versions keep the attachments they had, and what
should be refused (sizes, names, other tenants, forged links) is refused plainly."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from langsmith import evaluate
from langsmith import schemas as ls
from langsmith.utils import LangSmithNotFoundError

from evaldelta.server.attachment_links import AttachmentLinks
from evaldelta.store import open_store
from evaldelta.store.attachments import digest_of
from evaldelta.store.clickhouse import blobs as clickhouse_blobs
from tests.conftest import STORE_KINDS, Server, run_server, store_url
from tests.support.attachments import attached_example, example_parts, upload
from tests.support.ingest import unique

EVERY_BYTE = bytes(range(256)) * 4  # no text decoding survives this unchanged
PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(2000)


@pytest.fixture(scope="module", params=STORE_KINDS)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    directory: Path = tmp_path_factory.mktemp(f"attachments-{request.param}") / "data"
    with run_server(directory, store=store_url(request.param, directory)) as running:
        yield running


def contents(example: Any) -> dict[str, tuple[str, bytes]]:
    """An SDK example's attachments: name -> (MIME type, bytes downloaded)."""
    return {n: (a["mime_type"], a["reader"].read()) for n, a in example.attachments.items()}


def test_what_the_sdk_uploads_comes_back_byte_for_byte(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("att"))
    first, second = uuid.uuid4(), uuid.uuid4()
    created = client.create_examples(
        dataset_id=dataset.id,
        examples=[
            {
                "id": first,
                "inputs": {"q": 1},
                "attachments": {
                    "image": ("image/png", PNG),
                    "raw": ("application/octet-stream", EVERY_BYTE),
                },
            },
            {"id": second, "inputs": {"q": 2}, "attachments": {"same": ("image/png", PNG)}},
        ],
    )
    assert created["count"] == 2

    read = client.read_example(first)
    assert contents(read) == {
        "image": ("image/png", PNG),
        "raw": ("application/octet-stream", EVERY_BYTE),
    }
    listed = {
        e.id: contents(e)
        for e in client.list_examples(dataset_id=dataset.id, include_attachments=True)
    }
    assert listed[first] == contents(client.read_example(first))
    assert listed[second] == {"same": ("image/png", PNG)}
    # Without include_attachments the list carries no URLs, as LangSmith answers.
    assert all(not e.attachments for e in client.list_examples(dataset_id=dataset.id))


def test_updates_rename_retain_replace_and_add(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("att-update"))
    example_id = uuid.uuid4()
    client.create_examples(
        dataset_id=dataset.id,
        examples=[
            {
                "id": example_id,
                "inputs": {"q": 1},
                "attachments": {
                    "a": ("text/plain", b"alpha"),
                    "b": ("text/plain", b"bravo"),
                    "c": ("text/plain", b"charlie"),
                },
            }
        ],
    )
    before = client.read_example(example_id).modified_at
    client.update_examples(
        dataset_id=dataset.id,
        updates=[
            ls.ExampleUpdate(
                id=example_id,
                attachments={"d": ("text/csv", b"x,y"), "a2": ("image/png", PNG)},
                attachments_operations=ls.AttachmentsOperations(rename={"a": "a2"}, retain=["b"]),
            )
        ],
    )
    # a was renamed to a2, then replaced by the upload of that name; c was dropped.
    assert contents(client.read_example(example_id)) == {
        "a2": ("image/png", PNG),
        "b": ("text/plain", b"bravo"),
        "d": ("text/csv", b"x,y"),
    }
    # An update that names no attachments leaves them as they are.
    client.update_example(example_id, inputs={"q": 2})
    client.update_dataset_splits(dataset_id=dataset.id, split_name="x", example_ids=[example_id])
    assert set(client.read_example(example_id).attachments) == {"a2", "b", "d"}
    # The single-example call, renaming only.
    client.update_example(
        example_id,
        attachments_operations=ls.AttachmentsOperations(rename={"b": "bee"}, retain=["d"]),
    )
    assert contents(client.read_example(example_id)) == {
        "bee": ("text/plain", b"bravo"),
        "d": ("text/csv", b"x,y"),
    }
    # The version before the updates still has its attachments, bytes and all.
    old = client.read_example(example_id, as_of=before)
    assert contents(old) == {
        "a": ("text/plain", b"alpha"),
        "b": ("text/plain", b"bravo"),
        "c": ("text/plain", b"charlie"),
    }
    listed_then = client.list_examples(
        dataset_id=dataset.id, as_of=before, include_attachments=True
    )
    assert set(next(iter(listed_then)).attachments) == {"a", "b", "c"}


def test_a_deleted_example_keeps_its_attachments_in_past_versions(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("att-delete"))
    example_id = uuid.uuid4()
    client.create_examples(
        dataset_id=dataset.id,
        examples=[{"id": example_id, "inputs": {}, "attachments": {"f": ("text/plain", b"1")}}],
    )
    version = client.read_example(example_id).modified_at
    client.delete_example(example_id)
    with pytest.raises(LangSmithNotFoundError):
        client.read_example(example_id)
    assert contents(client.read_example(example_id, as_of=version)) == {"f": ("text/plain", b"1")}


def test_json_update_renames_and_drops(served: Server) -> None:
    with served.http() as http:
        dataset = http.post("/datasets", json={"name": unique("att-json")}).json()
        example = attached_example(http, dataset["id"], name="pic")
        renamed = http.patch(
            f"/examples/{example['id']}",
            json={"attachments_operations": {"rename": {"pic": "photo"}}},
        )
        assert renamed.status_code == 200, renamed.text
        assert list(renamed.json()["attachment_urls"]) == ["attachment.photo"]
        unknown = http.patch(
            f"/examples/{example['id']}", json={"attachments_operations": {"retain": ["nope"]}}
        )
        assert unknown.status_code == 422
        assert unknown.json()["detail"][0]["loc"] == ["body", "attachments_operations"]
        backslash = http.patch(
            f"/examples/{example['id']}",
            json={"attachments_operations": {"rename": {"photo": "a\\b"}}},
        )
        assert backslash.status_code == 422
        dropped = http.patch(f"/examples/{example['id']}", json={"attachments_operations": {}})
        assert dropped.json()["attachment_urls"] is None


def test_evaluate_hands_the_attachments_to_the_target(served: Server) -> None:
    client = served.sdk()
    dataset = client.create_dataset(unique("att-eval"))
    client.create_examples(
        dataset_id=dataset.id,
        examples=[{"inputs": {"n": 1}, "attachments": {"doc": ("text/plain", b"the answer")}}],
    )
    seen: list[bytes] = []

    def target(inputs: dict[str, Any], attachments: dict[str, Any]) -> dict[str, Any]:
        seen.append(attachments["doc"]["reader"].read())
        return {"ok": True}

    results = evaluate(target, data=dataset.name, client=client, experiment_prefix=unique("att"))
    assert seen == [b"the answer"]
    # The experiment's results show the example's attachments as links, as LangSmith does.
    client.flush()
    project = client.read_project(project_name=results.experiment_name)
    with served.http() as http:
        rows = http.post(f"/datasets/{dataset.id}/runs", json={"session_ids": [str(project.id)]})
    (row,) = rows.json()
    assert "attachments" not in row
    assert httpx.get(row["attachment_urls"]["attachment.doc"]["presigned_url"]).content == (
        b"the answer"
    )


def _link(served: Server, example: dict[str, Any]) -> str:
    url: str = next(iter(example["attachment_urls"].values()))["presigned_url"]
    assert url.startswith(served.url + "/api/v1/examples/")
    return url


def test_links_need_no_key_and_cannot_be_forged(served: Server) -> None:
    with served.http() as alpha, served.http("beta") as beta:
        dataset = alpha.post("/datasets", json={"name": unique("att-links")}).json()
        example = attached_example(alpha, dataset["id"], name="pic")
        theirs = beta.post("/datasets", json={"name": unique("att-links-b")}).json()
        other = attached_example(beta, theirs["id"], name="pic")
    url = _link(served, example)
    got = httpx.get(url)  # no key: the link is the credential
    assert got.status_code == 200
    assert got.content.startswith(b"\x89PNG")
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["content-disposition"].startswith("attachment;")
    token = parse_qs(urlsplit(url).query)["signed"][0]
    # The same token on another example, another name, or altered: refused.
    elsewhere = f"{served.url}/api/v1/examples/{other['id']}/attachments/pic"
    for forged in (
        httpx.get(elsewhere, params={"signed": token}),
        httpx.get(url.replace("/attachments/pic", "/attachments/pic2")),
        httpx.get(url[:-4] + ("0000" if not url.endswith("0000") else "1111")),
        httpx.get(url.split("?")[0], params={"signed": "garbage"}),
    ):
        assert forged.status_code == 403, forged.text
        assert "detail" in forged.json()
    # Without a link, the key: and a key of another tenant finds nothing.
    bare = url.split("?")[0]
    assert httpx.get(bare).status_code == 401
    assert httpx.get(bare, headers={"x-api-key": served.keys["beta"]}).status_code == 404
    keyed = httpx.get(bare, headers={"x-api-key": served.keys["alpha"]})
    assert keyed.status_code == 200 and keyed.content == got.content


def test_an_expired_link_is_refused_with_a_reason() -> None:
    links = AttachmentLinks(b"secret", seconds=60)
    tenant, example_id, digest = uuid.uuid4(), uuid.uuid4(), digest_of(b"x")
    expires = int(time.time()) - 5
    mac = links._mac(tenant, example_id, "f", digest, expires)
    with pytest.raises(Exception, match="expired"):
        links.verify(f"{expires}.{tenant.hex}.{digest}.{mac}", example_id, "f")
    fresh = links.token(tenant, example_id, "f", digest)
    assert links.verify(fresh, example_id, "f") == (tenant, digest)
    other_server = AttachmentLinks(b"another secret", seconds=60)
    with pytest.raises(Exception, match="not a download link"):
        other_server.verify(fresh, example_id, "f")


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("../../etc/passwd", "path separators"),
        ("..", "a dot-dot name"),
        ("tab\there", "a control character"),
        ("x" * 5000, "too long"),
    ],
)
def test_hostile_names_are_refused(served: Server, name: str, why: str) -> None:
    with served.http() as http:
        dataset = http.post("/datasets", json={"name": unique("att-names")}).json()
        example_id = str(uuid.uuid4())
        parts = example_parts(example_id, {"q": 1}, {name: ("text/plain", b"evil")})
        answer = upload(http, dataset["id"], parts)
        assert answer.status_code == 422, why
        assert answer.json()["detail"][0]["loc"] == ["body", f"{example_id}.attachment.{name}"]
        assert http.get("/examples", params={"dataset": dataset["id"]}).json() == []
        renamed = http.patch(
            f"/examples/{attached_example(http, dataset['id'])['id']}",
            json={"attachments_operations": {"rename": {"pic": name}}},
        )
        assert renamed.status_code == 422, why
    # A hostile name in a download URL is a plain 404 (or 422 when too long), never a 500.
    with served.http() as http:
        for path in ("..%2F..%2Fetc%2Fpasswd", "%2e%2e", "x" * 300):
            got = http.get(f"/examples/{uuid.uuid4()}/attachments/{path}")
            assert got.status_code in (404, 422), path


def test_an_upload_to_another_tenants_dataset_writes_nothing(served: Server) -> None:
    with served.http() as alpha, served.http("beta") as beta:
        dataset = alpha.post("/datasets", json={"name": unique("att-tenant")}).json()
        data = os.urandom(64)
        parts = example_parts(str(uuid.uuid4()), {"q": 1}, {"f": ("text/plain", data)})
        assert upload(beta, dataset["id"], parts).status_code == 404
        assert upload(alpha, str(uuid.uuid4()), parts).status_code == 404
    # On DuckDB, no file was written (the dataset is checked before any blob).
    blobs = served.data_dir / "evaldelta.duckdb.attachments"
    assert not (blobs / digest_of(data)[:2] / digest_of(data)).exists()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    directory = tmp_path_factory.mktemp("attachments-limits") / "data"
    with run_server(
        directory, attachment_max_bytes=1000, attachments_max_request_bytes=1500
    ) as running:
        yield running


def test_sizes_over_the_limits_are_413_and_write_nothing(limited: Server) -> None:
    with limited.http() as http:
        dataset = http.post("/datasets", json={"name": unique("att-413")}).json()
        one, two = str(uuid.uuid4()), str(uuid.uuid4())
        too_big = example_parts(one, {"q": 1}, {"big": ("text/plain", b"x" * 1001)})
        answer = upload(http, dataset["id"], too_big)
        assert answer.status_code == 413
        assert "limit of one attachment is 1000 bytes" in answer.json()["detail"]
        together = example_parts(one, {"q": 1}, {"a": ("text/plain", b"x" * 800)})
        together += example_parts(two, {"q": 2}, {"b": ("text/plain", b"y" * 800)})
        answer = upload(http, dataset["id"], together)
        assert answer.status_code == 413
        assert "1500 bytes together" in answer.json()["detail"]
        assert http.get("/examples", params={"dataset": dataset["id"]}).json() == []
        # The same on an update: the example keeps what it had.
        example = attached_example(http, dataset["id"])
        update = example_parts(example["id"], attachments={"pic": ("text/plain", b"z" * 1001)})
        assert upload(http, dataset["id"], update, method="PATCH").status_code == 413
        kept = http.get(f"/examples/{example['id']}").json()["attachment_urls"]
        assert httpx.get(kept["attachment.pic"]["presigned_url"]).content.startswith(b"\x89PNG")
    blobs = limited.data_dir / "evaldelta.duckdb.attachments"
    if blobs.exists():  # DuckDB: only the one attachment that was accepted is on disk
        assert len(list(blobs.glob("*/*"))) == 1


def test_identical_bytes_are_stored_once_and_orphans_collected(tmp_path: Path) -> None:
    url = store_url("duckdb", tmp_path)
    with run_server(tmp_path, store=url) as server:
        client = server.sdk()
        dataset = client.create_dataset(unique("att-dedupe"))
        client.create_examples(
            dataset_id=dataset.id,
            examples=[
                {"inputs": {"n": n}, "attachments": {"f": ("image/png", PNG)}} for n in range(3)
            ],
        )
    folder = tmp_path / "evaldelta.duckdb.attachments"
    assert [p.name for p in folder.glob("*/*")] == [digest_of(PNG)]
    # A blob no example names (a write that failed after it), old enough: collected at open.
    store = open_store(url)
    orphan = os.urandom(32)
    store.write_attachment_blob(digest_of(orphan), orphan)
    store.close()
    path = folder / digest_of(orphan)[:2] / digest_of(orphan)
    os.utime(path, (time.time() - 7200, time.time() - 7200))
    open_store(url).close()
    assert not path.exists()
    assert [p.name for p in folder.glob("*/*")] == [digest_of(PNG)]


def test_clickhouse_collects_orphan_blobs_too(tmp_path: Path) -> None:
    store = open_store(store_url("chdb", tmp_path))
    try:
        kept, orphan = os.urandom(16), os.urandom(16)
        store.write_attachment_blob(digest_of(kept), kept)
        store.write_attachment_blob(digest_of(orphan), orphan)
        assert store.collect_attachment_blobs() == 0  # young: perhaps a write under way
        # Once old enough (no grace here), the unnamed one goes and a named one stays.
        conn = store._conn  # type: ignore[attr-defined]
        assert clickhouse_blobs.collect(conn, {digest_of(kept)}, grace=0) == 1
        assert store.read_attachment_blob(digest_of(orphan)) is None
        assert store.read_attachment_blob(digest_of(kept)) == kept
    finally:
        store.close()


def test_copying_a_runs_attachments_is_refused_not_ignored(served: Server) -> None:
    """Run attachments are not kept, so asking to copy some to an example is a 422."""
    with served.http() as http:
        dataset = http.post("/datasets", json={"name": unique("att-run")}).json()
        example_id = str(uuid.uuid4())
        parts = example_parts(example_id, {"q": 1}, use_source_run_attachments=["pic"])
        answer = upload(http, dataset["id"], parts)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"][-1] == "use_source_run_attachments"
        body = {"dataset_id": dataset["id"], "inputs": {}, "use_source_run_attachments": ["a"]}
        assert http.post("/examples", json=body).status_code == 422
        assert http.get("/examples", params={"dataset": dataset["id"]}).json() == []
