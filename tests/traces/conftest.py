from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mlops_guard.traces._otlp import write_documents
from mlops_guard.traces._synthetic import Clock, Hop, synthetic_documents


def write_traces(
    path: Path,
    hops: Sequence[Hop],
    clocks: Mapping[str, Clock],
    **options: object,
) -> Path:
    """Generated traces with known clocks, written as OTLP JSON lines."""
    write_documents(synthetic_documents(hops, clocks, **options), path)  # type: ignore[arg-type]
    return path


def true_offset_ms(clocks: Mapping[str, Clock], host: str, ref: str, at: int, middle: int) -> float:
    """host's clock minus ref's at ``at`` (true time), in ms."""

    def local(name: str) -> float:
        clock = clocks[name]
        return clock.offset_ms + clock.drift_ppm * 1e-6 * (at - middle) / 1e6

    return local(host) - local(ref)
