"""The scheduled trace check: the spans of the last window, checked and recorded.

Every window it reads the span files the collector wrote (OTLP JSON, its file exporter),
keeps the spans of the window, counts causality violations and estimates each host's clock;
the offsets, their uncertainty and the least one-way delays go to the metrics sink, where
the ``ClockOffsetNearOneWayDelay`` rule warns before traces turn causally wrong, and a
``traces.checked`` run-log line names the hosts whose clocks are off. Orchestrators run it as
a flow (``mlops_guard.integrations.prefect.trace_check_flow``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings
    from mlops_guard.traces._check import TraceReport

__all__ = ["SPAN_FILE_PATTERNS", "TRACE_CHECK_FLOW", "check_recent_spans", "span_files"]

TRACE_CHECK_FLOW = "mlops-guard-trace-check"
SPAN_FILE_PATTERNS = ("*.json", "*.jsonl", "*.json.gz", "*.jsonl.gz")

_log = logging.getLogger("mlops_guard.traces")


def span_files(directory: Path, since: float) -> list[Path]:
    """Span files written to since ``since`` (Unix seconds): older ones hold no span of it."""
    found = {p for pattern in SPAN_FILE_PATTERNS for p in directory.glob(pattern) if p.is_file()}
    return sorted(p for p in found if p.stat().st_mtime >= since)


def _summary(report: TraceReport, files: int, window_minutes: float) -> str:
    rows = "\n".join(
        f"| {name} | {'-' if h.offset_ns is None else f'{h.offset_ns / 1e6:+.3f}'} | "
        f"{'-' if h.lower_ns is None else f'{h.lower_ns / 1e6:+.3f}'} .. "
        f"{'-' if h.upper_ns is None else f'{h.upper_ns / 1e6:+.3f}'} | "
        f"{'-' if h.drift_ppm is None else f'{h.drift_ppm:+.2f}'} | {h.samples} | {h.method} |"
        for name, h in report.hosts.items()
    )
    violations = ", ".join(f"{kind} {count}" for kind, count in report.violations.items())
    warned = ", ".join(report.early_warnings) or "none"
    return (
        f"# Trace check of the last {window_minutes:g} minutes\n\n"
        f"{report.spans:,} spans in {report.traces:,} traces from {files} files; reference "
        f"host `{report.reference_host}`.\n\nviolations: {violations}\n\n"
        f"offset past half the least one-way delay: **{warned}**\n\n"
        "| host | offset ms | interval ms | drift ppm | samples | method |\n"
        "|---|---|---|---|---|---|\n" + rows + "\n"
    )


def check_recent_spans(
    spans_dir: str | None = None,
    window_minutes: float = 60.0,
    reference: str | None = None,
    until_unix: float | None = None,
    settings: GuardSettings | None = None,
) -> dict[str, Any]:
    """Check the spans of the last ``window_minutes`` (ending at ``until_unix``, default now)
    in ``spans_dir`` (default ``<workdir>/traces``); returns the report as a dict, with
    ``files``, the number of span files read."""
    from mlops_guard._events import publish_markdown
    from mlops_guard.metrics import MetricsSink
    from mlops_guard.runlog import log_event
    from mlops_guard.traces._check import check_table
    from mlops_guard.traces._metrics import record_report
    from mlops_guard.traces._otlp import read_spans

    settings = resolve_settings(settings)
    directory = Path(spans_dir) if spans_dir else settings.workdir / "traces"
    end = time.time() if until_unix is None else until_unix
    since = end - window_minutes * 60
    files = span_files(directory, since) if directory.is_dir() else []
    if not files:
        _log.info("no span files written to %s in the last %g minutes", directory, window_minutes)
        return {"spans": 0, "files": 0}
    table = read_spans(files).since(int(since * 1e9))
    if not len(table):
        _log.info("no spans of the last %g minutes in %d files", window_minutes, len(files))
        return {"spans": 0, "files": len(files)}
    report, _ = check_table(table, reference=reference)
    record_report(report)
    MetricsSink(settings).flush(flow=TRACE_CHECK_FLOW)
    publish_markdown("trace-check", _summary(report, len(files), window_minutes))
    skewed = report.violation_count > 0 or bool(report.early_warnings)
    log_event(
        "traces.checked",
        "WARNING" if skewed else "INFO",
        settings=settings,
        spans=report.spans,
        traces=report.traces,
        files=len(files),
        reference_host=report.reference_host,
        violations=dict(report.violations),
        violation_count=report.violation_count,
        early_warnings=list(report.early_warnings),
        offsets_ms={
            name: round(h.offset_ns / 1e6, 3)
            for name, h in report.hosts.items()
            if h.offset_ns is not None
        },
    )
    if report.violation_count:
        _log.warning("causality violations: %s", report.violations)
    if report.early_warnings:
        _log.warning(
            "clock offset past half the least one-way delay on: %s",
            ", ".join(report.early_warnings),
        )
    return {**report.to_dict(), "files": len(files)}
