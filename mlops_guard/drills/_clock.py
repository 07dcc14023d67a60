"""The clock-skew scenario: one host of a three-host inference path runs ahead.

The scoring path is ingest -> model -> postprocess, each hop a call (a CLIENT span on the
caller, a SERVER span on the callee) with 2 ms of least one-way delay, written as OTLP JSON
lines into ``<workdir>/traces`` as the collector's file exporter would. This machine is one
host, so the three hosts' spans come from :mod:`mlops_guard.traces._synthetic` (true times on
one clock, each host writing them through its own); the check that reads them is the
product's scheduled trace check, run as each span file arrives. The fault puts the model
host's clock 5 ms ahead: past the one-way delay, so calls it serves end after their callers
do. The guard's response is ``trace adjust``: the traces are trusted again once the adjusted
copy checks clean.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.drills._runner import DrillContext, Scenario

if TYPE_CHECKING:
    from mlops_guard.drills._watch import Detection

__all__ = ["ClockSkew", "arm_trace_check", "trace_check_busy", "write_spans"]

_log = logging.getLogger("mlops_guard.drills")

SKEW_MS = 5.0
DELAY_MS = 2.0
TRACES = 300
WINDOW_SECONDS = 20.0
#: The host the offsets are read against: the one the requests enter by, as an operator
#: running the check would choose (``--reference``).
REFERENCE = "ingest"
#: How often the drill looks for a new span file; the check runs once per new file.
_LOOK_SECONDS = 0.05


def write_spans(ctx: DrillContext, name: str, skew_ms: float) -> Path:
    """The last 20 s of the scoring path's traces, the model host ``skew_ms`` ahead, as one
    OTLP JSON lines file in ``<workdir>/collector``."""
    from mlops_guard.traces._otlp import write_documents
    from mlops_guard.traces._synthetic import Clock, Hop, synthetic_documents

    hops = [Hop("ingest", "model", delay_ms=DELAY_MS), Hop("model", "post", delay_ms=DELAY_MS)]
    clocks = {"ingest": Clock(), "model": Clock(skew_ms), "post": Clock()}
    start = time.time_ns() - int(WINDOW_SECONDS * 1e9)
    documents = synthetic_documents(
        hops,
        clocks,
        traces=TRACES,
        window_s=WINDOW_SECONDS,
        start_unix_nano=start,
        seed=ctx.seed + ctx.run,
    )
    path = _spans_dir(ctx) / name
    write_documents(documents, path)
    return path


def _spans_dir(ctx: DrillContext) -> Path:
    # Where the collector's file exporter writes the path's spans; mlops-guard's own spans
    # (one host here) go to <workdir>/traces.
    directory = ctx.workdir / "collector"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def arm_trace_check(ctx: DrillContext) -> None:
    """Start the trace check on every new span file of the run (guard mode)."""
    check = _SpanFileCheck(ctx, _spans_dir(ctx)).start()
    ctx.stack.callback(check.stop)
    ctx.state["trace_check"] = check


def trace_check_busy(ctx: DrillContext) -> bool:
    """A trace check is running, or due for a span file it has not read."""
    check: _SpanFileCheck | None = ctx.state.get("trace_check")
    if check is None:
        return False
    # Unread files first, then the flag: the checker raises the flag before it marks files
    # read, so one of the two always shows a check that has not logged its line yet.
    files = {p.name for p in check.directory.glob("*.jsonl")}
    if not files <= check.seen:
        return True
    return check.checking


class _SpanFileCheck:
    """Runs the product's trace check each time a new span file lands (a trigger on the
    collector's file rotation), in a thread of its own."""

    def __init__(self, ctx: DrillContext, directory: Path) -> None:
        self.ctx = ctx
        self.directory = directory
        self.seen: set[str] = set()
        self.checking = False
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="drill-trace-check", daemon=True)

    def start(self) -> _SpanFileCheck:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=30)

    def _run(self) -> None:
        from mlops_guard.settings import use_settings
        from mlops_guard.traces import check_recent_spans

        with use_settings(self.ctx.settings):
            while not self.stopped.wait(_LOOK_SECONDS):
                files = {p.name for p in self.directory.glob("*.jsonl")}
                if files <= self.seen:
                    continue
                self.checking = True
                try:
                    self.seen |= files
                    check_recent_spans(str(self.directory), window_minutes=1.0, reference=REFERENCE)
                except Exception:  # noqa: BLE001 - a failed check is logged; the next file is checked
                    _log.exception("the drill's trace check of %s failed", self.directory)
                finally:
                    self.checking = False


class ClockSkew(Scenario):
    name = "clock-skew"
    root_cause = "clock_skew"
    fault = f"the model host's clock runs {SKEW_MS:g} ms ahead (one-way delay {DELAY_MS:g} ms)"
    needs_pipeline = False

    def arm(self, ctx: DrillContext) -> None:
        arm_trace_check(ctx)

    def inject(self, ctx: DrillContext) -> None:
        ctx.state["spans"] = write_spans(ctx, "spans-skewed.jsonl", SKEW_MS)

    def busy(self, ctx: DrillContext) -> bool:
        return trace_check_busy(ctx)

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        from mlops_guard.traces import adjust_spans

        out = ctx.workdir / "traces-adjusted" / "spans.jsonl"
        out.parent.mkdir(parents=True, exist_ok=True)
        adjust_spans([ctx.state["spans"]], out, reference=REFERENCE)
        ctx.state["adjusted"] = out

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        from mlops_guard.traces import check_spans

        out: Path | None = ctx.state.get("adjusted")
        if out is None:
            return None
        before = check_spans([ctx.state["spans"]], reference=REFERENCE)
        after = check_spans([out], reference=REFERENCE)
        if after.violation_count or after.early_warnings:
            return None
        found = before.hosts["model"].offset_ns
        return {
            "at": time.monotonic(),
            "violations_before": before.violation_count,
            "violations_after": after.violation_count,
            "model_offset_found_ms": None if found is None else round(found / 1e6, 3),
            "adjusted": str(out),
        }
