"""Multi-host traces with known clocks, for tests, benchmarks and trying the checks out.

Each trace is a chain of hops from a root span: an ``rpc`` hop is a CLIENT span on the caller
and a SERVER span on the callee (four timestamps), a ``message`` hop a PRODUCER span and the
CONSUMER span it causes. True times come from one clock; each host writes them through its own
``offset + drift * (t - middle)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["Clock", "Hop", "synthetic_documents"]

_KIND = {"root": 2, "client": 3, "server": 2, "producer": 4, "consumer": 5}


@dataclass(frozen=True)
class Clock:
    offset_ms: float = 0.0
    drift_ppm: float = 0.0


@dataclass(frozen=True)
class Hop:
    caller: str
    callee: str
    style: str = "rpc"  # or "message"
    delay_ms: float = 1.0  # least one-way delay caller -> callee
    back_delay_ms: float | None = None  # callee -> caller (rpc); None: same as delay_ms
    jitter_ms: float = 0.2  # mean of the exponential queueing added to each delay


def synthetic_documents(
    hops: Sequence[Hop],
    clocks: Mapping[str, Clock],
    *,
    traces: int = 500,
    window_s: float = 60.0,
    start_unix_nano: int = 1_760_000_000_000_000_000,
    seed: int = 0,
    spans_per_document: int = 1000,
) -> list[dict[str, Any]]:
    """OTLP JSON documents (one resource per host per document) of ``traces`` traces spread
    over ``window_s`` seconds."""
    rng = np.random.default_rng(seed)
    middle = start_unix_nano + int(window_s * 5e8)
    root_host = hops[0].caller if hops else next(iter(clocks))

    def local(host: str, true_ns: float) -> int:
        clock = clocks.get(host, Clock())
        return round(true_ns + clock.offset_ms * 1e6 + clock.drift_ppm * 1e-6 * (true_ns - middle))

    spans: list[tuple[str, dict[str, Any]]] = []
    counter = 0

    def span(host: str, trace: str, parent: str, kind: str, start: float, end: float) -> str:
        nonlocal counter
        counter += 1
        span_id = f"{counter:016x}"
        spans.append(
            (
                host,
                {
                    "traceId": trace,
                    "spanId": span_id,
                    "parentSpanId": parent,
                    "name": kind,
                    "kind": _KIND[kind],
                    "startTimeUnixNano": str(local(host, start)),
                    "endTimeUnixNano": str(local(host, end)),
                },
            )
        )
        return span_id

    starts = np.sort(rng.uniform(0, window_s * 1e9, traces)) + start_unix_nano
    for number, begin in enumerate(starts.tolist()):
        trace = f"{number + 1:032x}"
        # Lay the hops out on the true clock, then write each span on its host's clock.
        t = begin + 1e5
        planned: list[tuple[Hop, float, float, float, float]] = []
        for hop in hops:
            forward = hop.delay_ms * 1e6 + rng.exponential(hop.jitter_ms * 1e6)
            back_base = hop.delay_ms if hop.back_delay_ms is None else hop.back_delay_ms
            back = back_base * 1e6 + rng.exponential(hop.jitter_ms * 1e6)
            work = rng.uniform(0.2e6, 1.0e6)
            planned.append((hop, t, t + forward, t + forward + work, t + forward + work + back))
            t = t + forward + work / 2
        end = max([p[4] for p in planned], default=t) + 1e5
        root = span(root_host, trace, "", "root", begin, end)
        latest = {root_host: root}
        for hop, t1, t2, t3, t4 in planned:
            parent = latest.get(hop.caller, root)
            if hop.style == "rpc":
                client = span(hop.caller, trace, parent, "client", t1, t4)
                latest[hop.callee] = span(hop.callee, trace, client, "server", t2, t3)
            else:
                producer = span(hop.caller, trace, parent, "producer", t1, t1 + 5e4)
                latest[hop.callee] = span(hop.callee, trace, producer, "consumer", t2, t3)

    documents: list[dict[str, Any]] = []
    for first in range(0, len(spans), spans_per_document):
        by_host: dict[str, list[dict[str, Any]]] = {}
        for host, body in spans[first : first + spans_per_document]:
            by_host.setdefault(host, []).append(body)
        documents.append(
            {
                "resourceSpans": [
                    {
                        "resource": {
                            "attributes": [
                                {"key": "host.name", "value": {"stringValue": host}},
                                {"key": "service.name", "value": {"stringValue": f"svc-{host}"}},
                            ]
                        },
                        "scopeSpans": [{"scope": {"name": "synthetic"}, "spans": bodies}],
                    }
                    for host, bodies in by_host.items()
                ]
            }
        )
    return documents
