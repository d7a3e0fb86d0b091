"""Reading the multipart bodies the LangSmith SDK sends, as pure functions.

``decode_body`` (in ``decoding``) undoes ``Content-Encoding`` under a hard cap on the
decoded size, ``parse_multipart`` (in ``parts``) splits the body into ``Part``s, and
``group_run_parts`` / ``group_example_parts`` turn part names such as
``post.<run_id>.outputs`` back into one dict per run, feedback or example.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple
from uuid import UUID

import orjson

from evaldelta.errors import IngestError
from evaldelta.ingest.decoding import decode_body
from evaldelta.ingest.parts import DEFAULT_CONTENT_TYPE, Part, parse_multipart

__all__ = [
    "DEFAULT_CONTENT_TYPE",
    "Attachment",
    "IngestError",
    "Part",
    "RunOps",
    "decode_body",
    "group_example_parts",
    "group_run_parts",
    "parse_multipart",
]

JsonDict = dict[str, Any]

RUN_FIELDS = frozenset({"inputs", "outputs", "events", "extra", "error", "serialized"})
EXAMPLE_FIELDS = frozenset({"inputs", "outputs", "attachments_operations"})
# The form the SDK writes ids in; anything else is parsed by ``UUID`` and canonicalised.
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Attachment(NamedTuple):
    """Raw bytes attached to a run by an ``attachment.<run_id>.<name>`` part."""

    run_id: str
    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class RunOps:
    """What one ``POST /runs/multipart`` carries, grouped by kind."""

    posts: list[JsonDict]
    patches: list[JsonDict]
    feedback: list[JsonDict]
    attachments: list[Attachment]


# -- part names -------------------------------------------------------------------------


def group_run_parts(parts: Iterable[Part]) -> RunOps:
    """Turn the parts of ``POST /runs/multipart`` into run, feedback and attachment records.

    ``post.<id>`` / ``patch.<id>`` is the run's main JSON object; ``post.<id>.<field>``
    carries one big field, merged in under its name (``error`` is a JSON string). A field
    may arrive without its main part. Parts may come in any order; a repeated part
    replaces the earlier one.
    """
    mains: dict[tuple[str, str], JsonDict] = {}
    fields: dict[tuple[str, str], JsonDict] = {}
    feedback: dict[str, JsonDict] = {}
    attachments: list[Attachment] = []
    for part in parts:
        event, _, rest = part.name.partition(".")
        if event == "attachment":
            run_id, _, name = rest.partition(".")
            if not name:
                raise _invalid(part, "names no attachment")
            run_id = _uuid(run_id, part)
            attachments.append(Attachment(run_id, name, part.content_type, part.data))
        elif event == "feedback":
            feedback_id = _uuid(rest, part)
            feedback[feedback_id] = _main_object(part, feedback_id)
        elif event in ("post", "patch"):
            run_id, sep, field = rest.partition(".")
            key = (event, _uuid(run_id, part))
            fields.setdefault(key, {})
            if not sep:
                mains[key] = _main_object(part, key[1])
            elif field in RUN_FIELDS:
                fields[key][field] = _field_value(part, field)
            else:
                raise _invalid(part, f"names an unknown run field {field!r}")
        else:
            raise _invalid(part, "is not post, patch, feedback or attachment")
    runs = {key: {**mains.get(key, {}), **values, "id": key[1]} for key, values in fields.items()}
    return RunOps(
        posts=[run for (event, _), run in runs.items() if event == "post"],
        patches=[run for (event, _), run in runs.items() if event == "patch"],
        feedback=list(feedback.values()),
        attachments=attachments,
    )


def group_example_parts(parts: Iterable[Part]) -> list[JsonDict]:
    """Turn the parts of a multipart example upload into one dict per example.

    Parts are ``<id>`` (created_at, metadata, split, ...), ``<id>.inputs``,
    ``<id>.outputs`` and ``<id>.attachment.<name>`` (or ``.attachments.<name>``). Each
    dict has ``id``, ``inputs``, ``outputs`` (None when not sent), the main fields and
    ``attachments``: ``{name: (content_type, data)}``.
    """
    mains: dict[str, JsonDict] = {}
    fields: dict[str, JsonDict] = {}
    attachments: dict[str, dict[str, tuple[str, bytes]]] = {}
    for part in parts:
        head, sep, rest = part.name.partition(".")
        example_id = _uuid(head, part)
        fields.setdefault(example_id, {})
        attachments.setdefault(example_id, {})
        kind, _, name = rest.partition(".")
        if not sep:
            mains[example_id] = _main_object(part, example_id)
        elif rest in EXAMPLE_FIELDS:
            fields[example_id][rest] = _json(part)
        elif kind in ("attachment", "attachments") and name:
            attachments[example_id][name] = (part.content_type, part.data)
        else:
            raise _invalid(part, "is not an example part")
    return [
        {
            "inputs": None,
            "outputs": None,
            **mains.get(example_id, {}),
            **values,
            "id": example_id,
            "attachments": attachments[example_id],
        }
        for example_id, values in fields.items()
    ]


def _invalid(part: Part, problem: str) -> IngestError:
    return IngestError(422, f"part {part.name!r} {problem}", part=part.name)


def _canonical_uuid(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    if _CANONICAL_UUID.fullmatch(value):
        return value
    try:
        return str(UUID(value))
    except ValueError:
        return None


def _uuid(text: str, part: Part) -> str:
    canonical = _canonical_uuid(text)
    if canonical is None:
        raise _invalid(part, f"names {text!r}, which is not a UUID")
    return canonical


def _json(part: Part) -> Any:
    try:
        return orjson.loads(part.data)
    except orjson.JSONDecodeError as err:
        raise _invalid(part, f"is not valid JSON: {err}") from None


def _main_object(part: Part, part_id: str) -> JsonDict:
    """The JSON object of a main part, its ``id`` checked against (or set from) the name."""
    value = _json(part)
    if not isinstance(value, dict):
        raise _invalid(part, "is not a JSON object")
    body_id = value.get("id")
    if body_id is not None and body_id != part_id and _canonical_uuid(body_id) != part_id:
        raise _invalid(part, f"has another id in its body: {body_id!r}")
    value["id"] = part_id
    return value


def _field_value(part: Part, field: str) -> Any:
    value = _json(part)
    if field == "error" and not isinstance(value, str):
        raise _invalid(part, "is not a JSON string")
    return value
