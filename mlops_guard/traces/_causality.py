"""Parent/child pairs across hosts: the causality violations they show, and the clock samples
they give.

A pair is a span and its parent (or, for a messaging consumer, the producer it links to) on
two different known hosts. Each pair says something about the two clocks, whatever the
network did:

* a synchronous call (the parent is a CLIENT or the child a SERVER) is NTP's four timestamps:
  the request cannot arrive before it left, the reply neither;
* a message (PRODUCER -> CONSUMER) and any other cross-host child are one-way: the receiver
  cannot start before the sender did.

Each such "cannot" is a sample ``receiver_clock - sender_clock = delay + offset`` with
``delay >= 0``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from mlops_guard.traces._otlp import (
    KIND_CLIENT,
    KIND_CONSUMER,
    KIND_PRODUCER,
    KIND_SERVER,
    SpanTable,
    trace_code_of,
)

__all__ = [
    "Pairs",
    "Samples",
    "SpanIndex",
    "ViolationKind",
    "find_pairs",
    "samples_of",
    "span_index",
    "violations_of",
]

_IntArray = np.ndarray[Any, np.dtype[np.int64]]


class ViolationKind(StrEnum):
    CHILD_BEFORE_PARENT = "child_before_parent"
    CHILD_ENDS_AFTER_PARENT = "child_ends_after_parent"
    CONSUMER_BEFORE_PRODUCER = "consumer_before_producer"
    NEGATIVE_DURATION = "negative_duration"


@dataclass(frozen=True)
class Pairs:
    """Cross-host pairs as row indices into a :class:`SpanTable`."""

    parent: _IntArray
    child: _IntArray
    messaging: np.ndarray[Any, np.dtype[np.bool_]]  # producer -> consumer
    synchronous: np.ndarray[Any, np.dtype[np.bool_]]  # client -> server call


@dataclass(frozen=True)
class Samples:
    """One-way clock samples: ``recv`` (on ``dst``'s clock) happened after ``send`` (on
    ``src``'s), so ``offset[dst] - offset[src] <= recv - send``."""

    src: np.ndarray[Any, np.dtype[np.int32]]
    dst: np.ndarray[Any, np.dtype[np.int32]]
    send: _IntArray
    recv: _IntArray
    ntp: np.ndarray[Any, np.dtype[np.bool_]]  # half of a client/server exchange

    def __len__(self) -> int:
        return len(self.src)


class SpanIndex:
    """Rows by (trace, span id), found by binary search over sorted 64-bit keys.

    A dictionary of a million string keys costs seconds to build in Python; sorting a million
    integers costs milliseconds. The key mixes the trace's code into the span id, and every
    hit is checked against both, so a collision of keys is a miss, never a wrong pair.
    """

    _MIX = np.uint64(0x9E3779B97F4A7C15)  # 2**64 / golden ratio: spreads small codes

    def __init__(self, table: SpanTable) -> None:
        self.traces = table.trace_codes
        self.spans = table.span_numbers
        keys = self._keys(self.traces, self.spans)
        self.order = np.argsort(keys, kind="stable")  # stable: the first duplicate wins
        self.sorted_keys = keys[self.order]

    def _keys(
        self, traces: np.ndarray[Any, Any], spans: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, np.dtype[np.uint64]]:
        with np.errstate(over="ignore"):
            keys: np.ndarray[Any, np.dtype[np.uint64]] = spans ^ (
                traces.astype(np.uint64) * self._MIX
            )
        return keys

    def find(
        self, traces: np.ndarray[Any, Any], spans: np.ndarray[Any, Any]
    ) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Row of each (trace code, span number), -1 where there is none."""
        if not len(self.sorted_keys):
            return np.full(len(traces), -1, dtype=np.int64)
        keys = self._keys(traces, spans)
        where = np.searchsorted(self.sorted_keys, keys)
        where[where >= len(self.sorted_keys)] = 0
        rows = self.order[where].astype(np.int64)
        hit = (
            (self.sorted_keys[where] == keys)
            & (self.traces[rows] == traces)
            & (self.spans[rows] == spans)
        )
        rows[~hit] = -1
        return rows


def span_index(table: SpanTable) -> SpanIndex:
    return SpanIndex(table)


def find_pairs(table: SpanTable, index: SpanIndex | None = None) -> Pairs:
    """Every parent/child (and producer/consumer link) pair whose spans are on two different
    known hosts."""
    index = SpanIndex(table) if index is None else index
    has_parent = np.flatnonzero(table.parent_numbers != 0)
    found = index.find(table.trace_codes[has_parent], table.parent_numbers[has_parent])
    children = [has_parent[found >= 0]]
    parents = [found[found >= 0]]
    kinds = table.kinds
    if table.links:
        link_rows = np.asarray([row for row, _, _, _ in table.links], dtype=np.int64)
        codes = trace_code_of(table)
        link_traces = np.asarray(
            [codes.get((high, low), -1) for _, high, low, _ in table.links], dtype=np.int64
        )
        link_spans = np.asarray([number for _, _, _, number in table.links], dtype=np.uint64)
        target = index.find(link_traces, link_spans)
        ok = target >= 0
        ok[ok] = (
            (kinds[link_rows[ok]] == KIND_CONSUMER)
            & (kinds[target[ok]] == KIND_PRODUCER)
            & (table.parent_numbers[link_rows[ok]] != link_spans[ok])
        )
        children.append(link_rows[ok])
        parents.append(target[ok])
    parent = np.concatenate(parents)
    child = np.concatenate(children)
    hosts = table.hosts
    unknown = table.host_names.index("") if "" in table.host_names else -1
    cross = (hosts[parent] != hosts[child]) & (hosts[parent] != unknown) & (hosts[child] != unknown)
    parent, child = parent[cross], child[cross]
    parent_kind, child_kind = kinds[parent], kinds[child]
    messaging = (parent_kind == KIND_PRODUCER) & (child_kind == KIND_CONSUMER)
    synchronous = ~messaging & ((parent_kind == KIND_CLIENT) | (child_kind == KIND_SERVER))
    return Pairs(parent=parent, child=child, messaging=messaging, synchronous=synchronous)


def violations_of(table: SpanTable, pairs: Pairs) -> dict[str, int]:
    """Counts of each violation kind (all four kinds present, zero or not)."""
    start, end = table.start, table.end
    parent_start, child_start = start[pairs.parent], start[pairs.child]
    early = child_start < parent_start
    late = pairs.synchronous & (end[pairs.child] > end[pairs.parent])
    return {
        ViolationKind.CHILD_BEFORE_PARENT.value: int(np.count_nonzero(early & ~pairs.messaging)),
        ViolationKind.CHILD_ENDS_AFTER_PARENT.value: int(np.count_nonzero(late)),
        ViolationKind.CONSUMER_BEFORE_PRODUCER.value: int(
            np.count_nonzero(early & pairs.messaging)
        ),
        ViolationKind.NEGATIVE_DURATION.value: int(np.count_nonzero(end < start)),
    }


def samples_of(table: SpanTable, pairs: Pairs) -> Samples:
    """The clock samples of the pairs (pairs with a negative-duration span are left out: their
    timestamps are wrong for a reason no offset explains)."""
    start, end, hosts = table.start, table.end, table.hosts
    sane = (end[pairs.parent] >= start[pairs.parent]) & (end[pairs.child] >= start[pairs.child])
    parent, child, sync = pairs.parent[sane], pairs.child[sane], pairs.synchronous[sane]
    back_parent, back_child = parent[sync], child[sync]
    return Samples(
        # request (or message): parent's host -> child's host; reply: child's -> parent's.
        src=np.concatenate([hosts[parent], hosts[back_child]]).astype(np.int32),
        dst=np.concatenate([hosts[child], hosts[back_parent]]).astype(np.int32),
        send=np.concatenate([start[parent], end[back_child]]),
        recv=np.concatenate([start[child], end[back_parent]]),
        ntp=np.concatenate([sync, np.ones(len(back_child), dtype=np.bool_)]),
    )
