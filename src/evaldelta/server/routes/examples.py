"""Examples: JSON create and bulk create, multipart upload, list, read, update, delete."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import orjson
from fastapi import APIRouter, Depends, Query, Request
from pydantic import TypeAdapter, ValidationError

from evaldelta.delta.filters.examples import example_filter_to_sql
from evaldelta.delta.filters.parser import MAX_FILTER_LENGTH, FilterError
from evaldelta.errors import Invalid, NotFound
from evaldelta.ingest.multipart import group_example_parts, parse_multipart
from evaldelta.server.auth import Tenant
from evaldelta.server.deps import SettingsDep, StoreDep, WriterDep
from evaldelta.server.example_attachments import (
    attachments_after,
    presented,
    uploaded,
    write_blobs,
)
from evaldelta.server.models import Example, ExampleCreate, ExamplesCreated, ExampleUpdate
from evaldelta.server.query import declared_query_only
from evaldelta.server.routes.body import read_body
from evaldelta.server.routes.params import Limit, Offset
from evaldelta.store.base import ExampleWhere, Page, Row, Store
from evaldelta.store.dataset_versions import LATEST, parse_time

router = APIRouter(tags=["examples"], dependencies=[Depends(declared_query_only)])
platform = APIRouter(tags=["examples"], dependencies=[Depends(declared_query_only)])

_example_list = TypeAdapter(list[ExampleCreate])
_update_list = TypeAdapter(list[ExampleUpdate])

# These bodies are parsed here, part by part, so FastAPI cannot describe them itself.
MULTIPART_EXAMPLES = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "description": (
                        "Parts named <example id> (a JSON object of the example's fields),"
                        " <example id>.inputs and <example id>.outputs (JSON objects), and"
                        " <example id>.attachment.<name> (any bytes, its Content-Type the"
                        " attachment's MIME type), and on update <example id>."
                        "attachments_operations (JSON: rename, retain); optionally compressed"
                        " as a whole (Content-Encoding zstd or gzip)."
                    ),
                    "additionalProperties": {"type": "string", "format": "binary"},
                }
            }
        },
    }
}


@router.post("/examples", response_model=Example)
async def create_example(
    body: ExampleCreate, request: Request, tenant: Tenant, writer: WriterDep
) -> Any:
    row = body.model_dump()
    created = await writer.call(lambda s: s.write_examples(tenant, [row]))
    return presented(request, tenant, created[0], urls=False)


@router.post("/examples/bulk", response_model=list[Example])
async def create_examples(
    body: list[ExampleCreate], request: Request, tenant: Tenant, writer: WriterDep
) -> Any:
    rows = [b.model_dump() for b in body]
    created = await writer.call(lambda s: s.write_examples(tenant, rows))
    return [presented(request, tenant, r, urls=False) for r in created]


@platform.post(
    "/platform/datasets/{dataset_id}/examples",
    response_model=ExamplesCreated,
    status_code=201,
    openapi_extra=MULTIPART_EXAMPLES,
)
async def upload_examples(
    dataset_id: UUID, request: Request, tenant: Tenant, writer: WriterDep, settings: SettingsDep
) -> Any:
    """Multipart upload, as the SDK sends it when ``dataset_examples_multipart_enabled``;
    each ``<id>.attachment.<name>`` part is kept, with its content type as MIME type."""
    body = await read_body(request)
    grouped = group_example_parts(parse_multipart(body, request.headers.get("content-type", "")))
    uploads = uploaded(grouped, settings)
    raw = []
    for item in grouped:
        item = {k: v for k, v in item.items() if k != "attachments"}
        raw.append({**item, "dataset_id": dataset_id})
    try:
        rows = [e.model_dump() for e in _example_list.validate_python(raw)]
    except ValidationError as err:
        first = err.errors()[0]
        raise Invalid(first["msg"], loc=["body", *first["loc"]]) from err
    for row, item in zip(rows, grouped, strict=True):
        row["attachments"] = uploads[item["id"]].metas or None

    def apply(store: Store) -> list[Row]:
        if not store.has_dataset(tenant, dataset_id):  # before any blob is written
            raise NotFound(f"Dataset {dataset_id} not found")
        write_blobs(store, uploads)  # before the rows that name them
        return store.write_examples(tenant, rows)

    created = await writer.call(apply)
    return {
        "example_ids": [r["id"] for r in created],
        "count": len(created),
        "as_of": datetime.now(UTC),
    }


@platform.patch(
    "/platform/datasets/{dataset_id}/examples",
    response_model=ExamplesCreated,
    openapi_extra=MULTIPART_EXAMPLES,
)
async def update_examples_multipart(
    dataset_id: UUID, request: Request, tenant: Tenant, writer: WriterDep, settings: SettingsDep
) -> Any:
    """Multipart update: what the SDK's ``update_example(s)`` send when
    ``dataset_examples_multipart_enabled`` (parts absent or null leave a field unchanged).
    Attachment parts add or replace attachments; ``<id>.attachments_operations`` keeps
    only those it retains or renames."""
    body = await read_body(request)
    grouped = group_example_parts(parse_multipart(body, request.headers.get("content-type", "")))
    uploads = uploaded(grouped, settings)
    try:
        updates = _update_list.validate_python(
            [{k: v for k, v in item.items() if k != "attachments"} for item in grouped]
        )
    except ValidationError as err:
        first = err.errors()[0]
        raise Invalid(first["msg"], loc=["body", *first["loc"]]) from err
    changes = [
        (
            UUID(item["id"]),
            u.model_dump(exclude_none=True, exclude={"dataset_id", "attachments_operations"}),
            _operations(u),
            uploads[item["id"]],
        )
        for item, u in zip(grouped, updates, strict=True)
    ]

    def apply(store: Store) -> list[UUID]:
        stamp = datetime.now(UTC)  # one dataset version for the request
        planned = []
        for example_id, change, operations, upload in changes:  # every check before a write
            current = store.get_example(tenant, example_id)
            if current is None or current["dataset_id"] != dataset_id:
                raise NotFound(f"Example {example_id} not found in dataset {dataset_id}")
            loc = ["body", f"{example_id}.attachments_operations"]
            attachments = attachments_after(current, operations, upload, loc)
            if attachments is not None:
                change = {**change, "attachments": attachments}
            planned.append((example_id, change))
        write_blobs(store, {example_id: upload for example_id, _, _, upload in changes})
        for example_id, change in planned:
            store.write_example_update(tenant, example_id, change, stamp)
        return [example_id for example_id, _ in planned]

    updated = await writer.call(apply)
    return {"example_ids": updated, "count": len(updated), "as_of": datetime.now(UTC)}


ExampleSelect = Literal[
    "id",
    "created_at",
    "modified_at",
    "name",
    "dataset_id",
    "source_run_id",
    "metadata",
    "inputs",
    "outputs",
    "attachment_urls",
]


def _metadata_query(metadata: str | None) -> dict[str, Any] | None:
    if not metadata:
        return None
    try:
        meta = orjson.loads(metadata)
    except orjson.JSONDecodeError as err:
        raise Invalid("metadata must be a JSON object", loc=["query", "metadata"]) from err
    if not isinstance(meta, dict):
        raise Invalid("metadata must be a JSON object", loc=["query", "metadata"])
    return meta


def _refuse(**given: Any) -> None:
    """A 422 naming the first of ``given`` (parameters LangSmith has that this server does
    not serve) that was sent with a value other than its default."""
    for name, value in given.items():
        if value is not None and value is not False:
            raise Invalid(f"{name} is not supported by this server", loc=["query", name])


def _operations(update: ExampleUpdate) -> dict[str, Any] | None:
    ops = update.attachments_operations
    return None if ops is None else ops.model_dump()


def _selected(
    request: Request, tenant: UUID, rows: list[Row], select: list[ExampleSelect] | None
) -> list[Row]:
    """Each example's default fields, and ``attachment_urls`` (signed download links;
    null without attachments) only when selected, as LangSmith answers."""
    fields = [f for f in Example.model_fields if f != "attachment_urls"]
    urls = bool(select and "attachment_urls" in select)
    if urls:
        fields.append("attachment_urls")
    return [
        {f: row.get(f) for f in fields}
        for row in (presented(request, tenant, r, urls=urls) for r in rows)
    ]


@router.get(
    "/examples",
    response_model=list[Example],
    response_model_exclude_unset=True,  # attachment_urls only when selected
)
def list_examples(
    request: Request,
    tenant: Tenant,
    store: StoreDep,
    dataset: UUID | None = None,
    id: Annotated[list[UUID] | None, Query()] = None,
    as_of: str | None = None,
    splits: Annotated[list[str] | None, Query()] = None,
    metadata: str | None = None,
    filter: Annotated[str | None, Query(max_length=MAX_FILTER_LENGTH)] = None,
    offset: Offset = 0,
    limit: Limit = 100,
    select: Annotated[list[ExampleSelect] | None, Query()] = None,
    inline_s3_urls: bool = True,
    exclude_default_fields: bool = False,
    order: str | None = None,
    random_seed: float | None = None,
    descending: bool | None = None,
    full_text_contains: Annotated[list[str] | None, Query()] = None,
) -> Any:
    """Examples in creation order; ``as_of`` (a time, or a tag of ``dataset``) as they
    were in that version of their dataset.  ``select`` adds ``attachment_urls`` (signed
    download links) to the default fields; ``inline_s3_urls`` must stay true (there is no
    storage key to give instead of a URL); the parameters this server does not serve are
    refused."""
    _refuse(
        inline_s3_urls=not inline_s3_urls,
        exclude_default_fields=exclude_default_fields,
        order=order,
        random_seed=random_seed,
        descending=descending,
        full_text_contains=full_text_contains,
    )
    filter_sql = None
    if filter is not None:
        try:
            filter_sql = example_filter_to_sql(filter, store.filter_dialect)
        except FilterError as err:
            raise Invalid(str(err), loc=["query", "filter"]) from err
    where = ExampleWhere(
        as_of=_as_of(store, tenant, dataset, as_of),
        dataset_id=dataset,
        ids=id,
        splits=splits,
        metadata=_metadata_query(metadata),
        filter_sql=filter_sql,
    )
    rows = store.list_examples(tenant, where, Page(offset, limit))
    return _selected(request, tenant, rows, select)


@router.get("/examples/{example_id}", response_model=Example)
def read_example(
    example_id: UUID,
    request: Request,
    tenant: Tenant,
    store: StoreDep,
    as_of: str | None = None,
    dataset: UUID | None = None,
) -> Any:
    """The example today, or with ``as_of`` (a time or a tag) as it was in that version
    of its dataset (``dataset``, by default the one it is, or was last, in), with the
    ``attachment_urls`` of the attachments it had then."""
    if as_of is None and dataset is None:
        found = store.get_example(tenant, example_id)
    else:
        dataset = dataset or store.example_dataset(tenant, example_id)
        if dataset is None:
            raise NotFound(f"Example {example_id} not found")
        where = ExampleWhere(
            dataset_id=dataset, ids=[example_id], as_of=_as_of(store, tenant, dataset, as_of)
        )
        rows = store.list_examples(tenant, where, Page(0, 1))
        found = rows[0] if rows else None
    if found is None:
        raise NotFound(f"Example {example_id} not found")
    return presented(request, tenant, found)


def _as_of(store: Store, tenant: UUID, dataset: UUID | None, as_of: str | None) -> datetime | None:
    """The time ``as_of`` names (None: today); a tag needs the dataset it is of."""
    if as_of is None or as_of == LATEST:
        return None
    if dataset is not None:
        return store.resolve_as_of(tenant, dataset, as_of, ["query", "as_of"])
    at = parse_time(as_of)
    if at is None:
        raise Invalid("as_of a tag needs the dataset it tags", loc=["query", "as_of"])
    return at


@router.patch("/examples/{example_id}", response_model=Example)
async def update_example(
    example_id: UUID, body: ExampleUpdate, request: Request, tenant: Tenant, writer: WriterDep
) -> Any:
    """A JSON update; ``attachments_operations`` renames and drops attachments (new ones
    come only by the multipart update)."""
    changes = body.model_dump(exclude_unset=True, exclude={"attachments_operations"})
    operations = _operations(body)

    def apply(store: Store) -> Row:
        if operations is not None:
            current = store.get_example(tenant, example_id)
            if current is None:
                raise NotFound(f"Example {example_id} not found")
            loc = ["body", "attachments_operations"]
            changes["attachments"] = attachments_after(current, operations, None, loc)
        return store.write_example_update(tenant, example_id, changes)

    return presented(request, tenant, await writer.call(apply))


@router.delete("/examples/{example_id}")
async def delete_example(example_id: UUID, tenant: Tenant, writer: WriterDep) -> dict[str, str]:
    await writer.call(lambda s: s.write_example_delete(tenant, [example_id]))
    return {"message": "deleted"}


@router.delete("/examples")
async def delete_examples(
    tenant: Tenant,
    writer: WriterDep,
    example_ids: Annotated[list[UUID], Query(min_length=1, max_length=1000)],
) -> dict[str, str]:
    await writer.call(lambda s: s.write_example_delete(tenant, example_ids))
    return {"message": "deleted"}
