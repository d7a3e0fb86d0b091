"""A strict Server-Sent Events parser for tests (WHATWG HTML, "Interpreting an event stream").

It follows the spec's algorithm (lines end in CRLF, LF or CR; a blank line dispatches; a
line starting with ``:`` is a comment; ``field: value`` with one optional space removed;
``data`` lines joined with ``\\n``), and is strict where a browser would be lenient, since a
test wants to see every deviation: undecodable UTF-8, a byte-order mark, unknown fields and
a stream that stops in the middle of an event are errors rather than silently dropped.

:class:`SSEParser` is incremental: feed it bytes as they arrive off the socket and it returns
the events completed so far, which is what the streaming tests need to tell *when* an
event arrived.
"""

from __future__ import annotations

import codecs
import json
import uuid
from dataclasses import dataclass, field

KNOWN_FIELDS = frozenset({"event", "data", "id", "retry"})


class SSEError(AssertionError):
    """The bytes are not a well-formed event stream."""


@dataclass(frozen=True)
class Event:
    """One dispatched event: its type and its ``data`` lines (joined), as the spec says.

    ``data`` is None when the event had no ``data:`` line at all; a browser's
    ``EventSource`` would not dispatch such an event.
    """

    event: str = "message"
    data: str | None = None
    id: str | None = None
    fields: tuple[tuple[str, str], ...] = field(default=(), repr=False)


class SSEParser:
    """Incremental, strict SSE parser. Call :meth:`feed` per chunk, then :meth:`close`."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="strict")
        self._buffer = ""
        self._started = False
        self._pending_cr = False
        self._fields: list[tuple[str, str]] = []

    def feed(self, chunk: bytes) -> list[Event]:
        """Consume bytes; return the events whose terminating blank line has arrived."""
        try:
            text = self._decoder.decode(chunk)
        except UnicodeDecodeError as err:
            raise SSEError(f"event stream is not UTF-8: {err}") from err
        if not self._started and text:
            self._started = True
            if text.startswith("\ufeff"):
                raise SSEError("event stream starts with a byte-order mark")
        return self._consume(text)

    def close(self) -> list[Event]:
        """End of stream: anything left over is an error (the spec would drop it)."""
        try:
            tail = self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as err:
            raise SSEError(f"event stream ends inside a UTF-8 sequence: {err}") from err
        events = self._consume(tail)
        if self._buffer:
            raise SSEError(f"event stream ends inside a line: {self._buffer!r}")
        if self._fields:
            raise SSEError(f"event stream ends before the blank line of {self._fields!r}")
        return events

    def _consume(self, text: str) -> list[Event]:
        events: list[Event] = []
        for char in text:
            if self._pending_cr:
                self._pending_cr = False
                if char == "\n":  # the LF of a CRLF pair: the line already ended
                    continue
            if char in "\r\n":
                self._pending_cr = char == "\r"
                line, self._buffer = self._buffer, ""
                event = self._line(line)
                if event is not None:
                    events.append(event)
            else:
                self._buffer += char
        return events

    def _line(self, line: str) -> Event | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None  # a comment (keep-alive)
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name not in KNOWN_FIELDS:
            raise SSEError(f"unknown SSE field {name!r} in line {line!r}")
        self._fields.append((name, value))
        return None

    def _dispatch(self) -> Event | None:
        fields, self._fields = self._fields, []
        if not fields:
            return None  # blank lines between events are allowed
        kind = "message"
        data: list[str] = []
        event_id = None
        for name, value in fields:
            if name == "event":
                kind = value or "message"
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value
            elif name == "retry" and not value.isdigit():
                raise SSEError(f"retry must be digits, got {value!r}")
        return Event(kind, "\n".join(data) if data else None, event_id, tuple(fields))


def parse_events(raw: bytes) -> list[Event]:
    """Every event of a complete stream, strictly."""
    parser = SSEParser()
    return [*parser.feed(raw), *parser.close()]


# --- the feedback-delta stream's contract ----------------------------------------------------

Lists = dict[str, list[str]]


def delta_stream(
    raw: bytes, keys: list[str], comparisons: list[str]
) -> tuple[dict[str, dict[str, Lists]], dict[str, str]]:
    """Check a whole ``/runs/delta/stream`` body; return (lists by key, errors by key).

    Every event is ``data`` or ``end``; exactly one ``end``, last, with a ``data:`` line;
    every ``data`` payload is ``{"feedback_deltas": {...}, "errors": null | [...]}`` holding
    at least one key; every requested key is in exactly one chunk, either with lists for
    every comparison session or named by an error entry.
    """
    events = parse_events(raw)
    assert events, "empty event stream"
    assert [e.event for e in events[:-1]] == ["data"] * (len(events) - 1), events
    assert events[-1].event == "end", events[-1]
    assert events[-1].data is not None, "the end event needs a data line to be dispatched"
    json.loads(events[-1].data)
    deltas: dict[str, dict[str, Lists]] = {}
    errors: dict[str, str] = {}
    for event in events[:-1]:
        assert event.data is not None, event
        chunk = json.loads(event.data)
        assert isinstance(chunk, dict) and set(chunk) == {"feedback_deltas", "errors"}, chunk
        answered = chunk["feedback_deltas"]
        assert isinstance(answered, dict), chunk
        failed: dict[str, str] = {}
        if chunk["errors"] is not None:
            assert isinstance(chunk["errors"], list) and chunk["errors"], chunk
            for entry in chunk["errors"]:
                assert set(entry) == {"feedback_keys", "error"}, entry
                assert isinstance(entry["error"], str) and entry["error"], entry
                assert isinstance(entry["feedback_keys"], list) and entry["feedback_keys"]
                for key in entry["feedback_keys"]:
                    assert key not in failed, f"key {key!r} in two error entries"
                    failed[key] = entry["error"]
        named = [*answered, *failed]
        assert named, f"a chunk with no key: {chunk}"
        for key in named:
            assert named.count(key) == 1, f"key {key!r} both answered and failed"
            assert key not in deltas and key not in errors, f"key {key!r} in two chunks"
        for key, per_session in answered.items():
            deltas[key] = _check_sessions(key, per_session, comparisons)
        errors.update(failed)
    assert set(deltas) | set(errors) == set(keys), (sorted(deltas), sorted(errors), keys)
    return deltas, errors


def _check_sessions(key: str, per_session: object, comparisons: list[str]) -> dict[str, Lists]:
    assert isinstance(per_session, dict), per_session
    assert set(per_session) == set(comparisons), (key, sorted(per_session), comparisons)
    for session, lists in per_session.items():
        assert isinstance(lists, dict), lists
        assert set(lists) == {"improved_examples", "regressed_examples"}, (key, session, lists)
        improved, regressed = lists["improved_examples"], lists["regressed_examples"]
        assert isinstance(improved, list) and isinstance(regressed, list)
        for example in (*improved, *regressed):
            assert str(uuid.UUID(example)) == example, example
        assert len(set(improved)) == len(improved) and len(set(regressed)) == len(regressed)
        assert not set(improved) & set(regressed), (key, session)
    return per_session
