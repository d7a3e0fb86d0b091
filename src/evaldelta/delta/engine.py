"""The feedback-delta engine: validation before the first byte, then one query per key.

Semantics (documented in docs/deltas.md): per (session, example), the mean of the key's
numeric scores over the session's root runs of that example that pass the session's
filters; a comparison session's example improved when its mean beats the baseline's
(higher, or lower for keys whose config says lower is better), regressed when it loses,
and is in neither list when equal or missing on either side.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Protocol, TypeVar
from uuid import UUID

import orjson
from anyio import to_thread

from evaldelta.delta.coverage import coverage_counts, example_scores, version_fields
from evaldelta.delta.filters.compiler import FilterError, compile_filter, parse_filter
from evaldelta.delta.stats import holm, paired_stats, win_rate_test
from evaldelta.errors import Invalid, NotFound
from evaldelta.store.base import DeltaQuery, ExampleWhere, IdList, Page, SessionWhere, Store
from evaldelta.store.dialect import Dialect
from evaldelta.store.duckdb.dialect import DUCKDB

DeltaLists = dict[str, dict[str, list[UUID]]]
# Per session: its filter strings, in LangSmith's run query language.
Filters = dict[UUID, list[str]]
T = TypeVar("T")


class StreamCut(Exception):
    """Raised by a stream's runner when the stream must end now (its time limit, or the
    server shutting down); the message says why, for the in-band error entry."""


class Runner(Protocol):
    """Runs a stream's blocking store work off the event loop, or raises ``StreamCut``."""

    async def __call__(self, fn: Callable[[], T], /) -> T: ...


def compile_filters(
    filters: Filters | None, allowed: Sequence[UUID], dialect: Dialect = DUCKDB
) -> dict[UUID, tuple[str, list[Any]]]:
    """Each session's filter strings parsed and AND-ed into one SQL fragment over runs ``r``.

    A filter for a session that is not in the request, or one that does not parse, is a
    422 naming the session and the string's index.
    """
    out: dict[UUID, tuple[str, list[Any]]] = {}
    for session_id, texts in (filters or {}).items():
        loc: list[str | int] = ["body", "filters", str(session_id)]
        if session_id not in allowed:
            raise Invalid(
                f"filter for session {session_id}, which is neither the baseline nor a "
                "comparison session of this request",
                loc=loc,
            )
        fragments, params = [], []
        for index, text in enumerate(texts):
            try:
                sql, p = compile_filter(parse_filter(text), dialect=dialect)
            except FilterError as err:
                raise Invalid(
                    f"filter {index} of session {session_id}: {err}", loc=[*loc, index]
                ) from err
            fragments.append(f"({sql})")
            params += p
        if fragments:
            out[session_id] = (" AND ".join(fragments), params)
    return out


def prepare(
    store: Store,
    tenant_id: UUID,
    dataset_id: UUID,
    baseline: UUID,
    comparisons: Sequence[UUID],
    keys: Sequence[str],
    filters: Filters | None,
    comparative_experiment_id: UUID | None = None,
) -> DeltaQuery:
    """Check everything that can be checked before answering: 404 for a dataset or session
    that is not this tenant's, or a session that is not an experiment on this dataset."""
    if not store.has_dataset(tenant_id, dataset_id):
        raise NotFound(f"Dataset {dataset_id} not found")
    comparisons = list(dict.fromkeys(comparisons))
    wanted = list(dict.fromkeys([baseline, *comparisons]))
    found = {  # one read for every session of the request
        s["id"]: s
        for s in store.list_sessions(
            tenant_id, SessionWhere(ids=wanted), Page(0, len(wanted)), stats=False
        )
    }
    for session_id in wanted:
        session = found.get(session_id)
        if session is None or session.get("reference_dataset_id") != dataset_id:
            raise NotFound(f"Session {session_id} not found in dataset {dataset_id}")
    if comparative_experiment_id is not None:
        pairwise = store.get_comparative_experiment(tenant_id, comparative_experiment_id)
        if pairwise is None or pairwise["reference_dataset_id"] != dataset_id:
            raise NotFound(
                f"Comparative experiment {comparative_experiment_id} not found"
                f" in dataset {dataset_id}"
            )
    return DeltaQuery(
        tenant_id=tenant_id,
        dataset_id=dataset_id,
        baseline_session_id=baseline,
        comparison_session_ids=comparisons,
        feedback_keys=list(dict.fromkeys(keys)),
        filters=compile_filters(filters, [baseline, *comparisons], store.filter_dialect),
        comparative_experiment_id=comparative_experiment_id,
    )


@dataclass(frozen=True)
class Extras:
    """What a delta request asks for beyond LangSmith's lists (evaldelta extensions, all
    off by default so the default answer keeps LangSmith's shape)."""

    stats: bool = False
    coverage: bool = False
    examples: bool = False
    # The request's sessions by id (read once per request for coverage's warnings).
    sessions: Mapping[UUID, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def needs_means(self) -> bool:
        return self.stats or self.coverage or self.examples


def with_sessions(store: Store, query: DeltaQuery, extras: Extras) -> Extras:
    """``extras`` with the request's sessions read, when coverage needs their metadata."""
    if not extras.coverage:
        return extras
    wanted = query.sessions
    found = store.list_sessions(
        query.tenant_id, SessionWhere(ids=wanted), Page(0, len(wanted)), stats=False
    )
    return replace(extras, sessions={s["id"]: s for s in found})


def compute_key(
    store: Store,
    query: DeltaQuery,
    key: str,
    lower_is_better: bool,
    window: Page | None = None,
    *,
    include_stats: bool = False,
    extras: Extras | None = None,
) -> dict[str, dict[str, Any]]:
    """One key's improved and regressed example ids for every comparison session; with
    ``include_stats``, each comparison also gets its paired statistics (over all examples,
    whatever the window); ``extras`` may add coverage and every example's scores."""
    extras = extras or Extras(stats=include_stats)
    lists = store.delta(query, key, lower_is_better=lower_is_better, window=window)
    out: dict[str, dict[str, Any]] = {
        str(sid): {"improved_examples": improved, "regressed_examples": regressed}
        for sid, (improved, regressed) in lists.items()
    }
    if not extras.needs_means:
        return out
    means = store.example_means(query, key)
    errored = store.errored_examples(query, key) if extras.coverage or extras.examples else {}
    base_id = query.baseline_session_id
    baseline = means[base_id]
    window_ids: list[UUID] = []
    for sid in query.comparison_session_ids:
        entry = out[str(sid)]
        if extras.stats:
            stats = paired_stats(baseline, means[sid], lower_is_better=lower_is_better)
            if query.comparative_experiment_id is not None:
                # A pairwise evaluator's scores say which side won each example.
                stats["pairwise"] = win_rate_test(
                    stats["n_improved"], stats["n_unchanged"], stats["n_regressed"]
                )
            entry["stats"] = stats
        if extras.coverage:
            entry["coverage"] = {
                **coverage_counts(baseline, means[sid], errored[base_id], errored[sid]),
                **version_fields(extras.sessions.get(base_id, {}), extras.sessions.get(sid, {})),
            }
        if extras.examples:
            listed = example_scores(
                baseline,
                means[sid],
                errored[base_id],
                errored[sid],
                lower_is_better=lower_is_better,
            )
            if window is not None:
                # The page's window, in the page's order (creation order, as lists page).
                window_ids = window_ids or _window_ids(store, query, window)
                by_id = {row["example_id"]: row for row in listed}
                listed = [by_id[i] for i in window_ids if i in by_id]
            entry["examples"] = listed
    return out


def _window_ids(store: Store, query: DeltaQuery, window: Page) -> list[UUID]:
    """The ids of the dataset's examples at the window's positions."""
    page = store.list_examples(query.tenant_id, ExampleWhere(dataset_id=query.dataset_id), window)
    return [UUID(str(e["id"])) for e in page]


def sse(event: str, data: object) -> bytes:
    """One Server-Sent Event; every event has a data line so browsers dispatch it.  Lists
    of example ids are written as the store formats them (``IdList.json``)."""
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data, default=_json) + b"\n\n"


def _json(value: object) -> orjson.Fragment:
    to_json = getattr(value, "json", None)  # an ``IdList`` (a Protocol check costs more)
    if to_json is None:
        raise TypeError(f"{type(value).__name__} is not JSON serializable")
    return orjson.Fragment(to_json())


def plain_lists(deltas: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``compute_key``'s answer with its example-id lists as plain lists of ``UUID``."""
    return {
        sid: {name: list(v) if isinstance(v, IdList) else v for name, v in fields.items()}
        for sid, fields in deltas.items()
    }


async def stream_deltas(
    store: Store,
    query: DeltaQuery,
    *,
    include_stats: bool = False,
    extras: Extras | None = None,
    run: Runner | None = None,
) -> AsyncGenerator[bytes, None]:
    """One ``data`` event per key as soon as it is computed, then ``end``.

    A failure in one key goes into that key's chunk as an ``errors`` entry; the others
    still arrive.  If the client goes away, the generator is cancelled and no further key
    is computed.  If ``run`` ends the stream early (its time limit, or the server
    shutting down), the keys not sent yet share one ``errors`` entry saying why, and the
    stream still ends with ``end``.  With ``include_stats``, the ``end`` event carries the
    sign-test p-values Holm-adjusted across the keys, per comparison.
    """
    run = run or _run_in_thread
    extras = extras or Extras(stats=include_stats)
    include_stats = extras.stats
    keys = list(query.feedback_keys)
    try:
        lower = await run(partial(store.lower_is_better, query.tenant_id, keys))
        extras = await run(partial(with_sessions, store, query, extras))
    except Exception as err:  # headers are sent: fail every key in band, still end
        yield _failed(keys, err)
        yield sse("end", {})
        return
    p_values: dict[str, dict[str, float | None]] = {}
    for index, key in enumerate(keys):
        try:
            result = await run(partial(compute_key, store, query, key, key in lower, extras=extras))
        except StreamCut as cut:  # every key from here on, in one entry
            yield _failed(keys[index:], cut)
            break
        except Exception as err:  # in band: the stream goes on with the next key
            yield _failed([key], err)
            continue
        if include_stats:
            for sid, delta in result.items():
                p_values.setdefault(sid, {})[key] = delta["stats"]["sign_test_p"]
        yield sse("data", {"feedback_deltas": {key: result}, "errors": None})
    end: dict[str, Any] = {}
    if include_stats:
        end["holm_sign_test_p"] = {
            sid: dict(zip(per_key, holm(list(per_key.values())), strict=True))
            for sid, per_key in p_values.items()
        }
    yield sse("end", end)


async def _run_in_thread(fn: Callable[[], T]) -> T:
    return await to_thread.run_sync(fn)


def _failed(keys: list[str], err: Exception) -> bytes:
    """The ``data`` event of keys that got no answer: why, in band."""
    reason = str(err) if isinstance(err, StreamCut) else f"{type(err).__name__}: {err}"
    return sse(
        "data", {"feedback_deltas": {}, "errors": [{"feedback_keys": keys, "error": reason}]}
    )
