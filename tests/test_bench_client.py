"""The bench's stream reader splits events the same way however the bytes arrive."""

from __future__ import annotations

from itertools import pairwise

from hypothesis import given
from hypothesis import strategies as st

from evaldelta.bench.harness.deltas import EventSplitter

event_st = st.binary(min_size=1, max_size=40).filter(lambda b: b"\n\n" not in b and b"\r" not in b)


@given(
    events=st.lists(
        event_st.filter(lambda b: not b.endswith(b"\n") and not b.startswith(b"\n")), max_size=8
    ),
    cuts=st.lists(st.integers(0, 400), max_size=12),
)
def test_events_are_the_same_whatever_the_chunking(events: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(e + b"\n\n" for e in events)
    bounds = sorted({c for c in cuts if c < len(stream)} | {0, len(stream)})
    splitter = EventSplitter()
    got: list[bytes] = []
    for start, end in pairwise(bounds):
        got += splitter.feed(stream[start:end])
    assert got == events
