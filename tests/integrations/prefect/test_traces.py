"""The scheduled trace check on a real Prefect server: the window's spans only, metrics in
the textfile sink, a markdown artifact."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_guard.integrations.prefect import trace_check_flow
from mlops_guard.settings import GuardSettings
from mlops_guard.traces._otlp import write_documents
from mlops_guard.traces._synthetic import Clock, Hop, synthetic_documents

pytestmark = pytest.mark.usefixtures("prefect_server")

START = 1_760_000_000  # seconds; the synthetic traces' first span


def test_trace_check_flow_reads_the_window_and_records_offsets(tmp_path: Path) -> None:
    spans = tmp_path / "traces"
    clocks = {"a": Clock(), "b": Clock(-2.0)}
    documents = synthetic_documents(
        [Hop("a", "b", delay_ms=1.0)],
        clocks,
        traces=600,
        window_s=600,
        start_unix_nano=START * 10**9,
    )
    write_documents(documents, spans / "spans.jsonl")
    settings = GuardSettings(workdir=tmp_path)
    # The last 5 of the 10 minutes: about half the traces.
    result = trace_check_flow(
        spans_dir=str(spans),
        window_minutes=5,
        reference="a",
        until_unix=START + 600,
        settings=settings,
    )
    assert result["files"] == 1
    assert 250 < result["traces"] < 350
    assert abs(result["hosts"]["b"]["offset_ms"] + 2.0) < 0.1
    assert result["violations"]["child_before_parent"] > 0
    text = settings.metrics_textfile("mlops-guard-trace-check").read_text()
    assert 'mlops_guard_clock_offset_seconds{flow="mlops-guard-trace-check",host="b"}' in text
    assert "mlops_guard_causality_violations_total" in text


def test_trace_check_flow_without_spans_reports_nothing(tmp_path: Path) -> None:
    result = trace_check_flow(
        spans_dir=str(tmp_path / "none"), settings=GuardSettings(workdir=tmp_path)
    )
    assert result == {"spans": 0, "files": 0}
