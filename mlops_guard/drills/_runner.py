"""One drill run: inject a fault into the real pipeline and time what follows.

A run copies the healthy fixture, arms the guard (or not: the baseline), marks the injection on
``time.monotonic()``, injects, and waits for the first signal that names a root cause
(:mod:`mlops_guard.drills._causes`), then, with the guard, for the pipeline to be healthy again
as the scenario's own check of the real state says (the alias history, the quarantine
manifest, the retried run's state). Without the guard only the orchestrator's view counts (a
run that failed or crashed) and nothing acts on it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.drills._watch import Detection, SignalWatch

if TYPE_CHECKING:
    from mlops_guard.drills._chain import AlertChain
    from mlops_guard.drills._fixture import Fixture
    from mlops_guard.settings import GuardSettings

__all__ = [
    "DRILL_WINDOW_SECONDS",
    "DrillContext",
    "RunRecord",
    "Scenario",
    "run_scenario",
]

_log = logging.getLogger("mlops_guard.drills")

#: The window uptime is measured over, from the injection: one hour, the period of the
#: scheduled drift check in deployments/prefect.yaml (without an event-driven check, a fault
#: in the data waits up to that long to be seen). A fault not resolved in it counts as down
#: for the whole window.
DRILL_WINDOW_SECONDS = 3600.0
#: How long a run waits for a detection, then for a recovery, before giving up.
TIMEOUT_SECONDS = 90.0
_POLL_SECONDS = 0.02


@dataclass
class DrillContext:
    """What a scenario works with in one run."""

    scenario: str
    run: int
    seed: int
    guard: bool
    workdir: Path
    settings: GuardSettings
    fixture: Fixture
    watch: SignalWatch
    stack: contextlib.ExitStack
    state: dict[str, Any] = field(default_factory=dict)
    injected_at: float = 0.0
    #: The real Prometheus chain of this run (begun: its Pushgateway and Prometheus up), or
    #: None: the built-in rule evaluator.
    chain: AlertChain | None = None

    def wait(self, condition: Callable[[], Any], timeout: float = TIMEOUT_SECONDS) -> Any:
        """``condition()`` once it is truthy, None after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            found = condition()
            if found:
                return found
            if time.monotonic() > deadline:
                return None
            time.sleep(_POLL_SECONDS)

    @contextlib.contextmanager
    def orchestrated(self, flow: str) -> Iterator[None]:
        """Run a pipeline step as the orchestrator would: an exception is a failed run,
        reported (``run.failed``) and swallowed so the drill goes on."""
        try:
            yield
        except Exception as exc:  # noqa: BLE001 - a failed run is what the orchestrator sees
            self.watch.orchestrator(
                "run.failed", flow=flow, error=f"{type(exc).__name__}: {exc}"[:300]
            )
            self.state.setdefault("failed_runs", []).append(flow)


class Scenario:
    """A fault, the signal that should name it, and the check that it was resolved.

    Subclasses set ``name``, ``root_cause`` (None for ``clean``) and ``fault`` (one line), and
    override :meth:`inject` and :meth:`recovered`; :meth:`arm` starts what the guard runs
    beside the pipeline, :meth:`respond` what the guard's signal sets off.
    """

    name: str = ""
    root_cause: str | None = None
    fault: str = ""
    #: Needs the fixture's MLflow store (False: the training-loop scenarios).
    needs_pipeline: bool = True
    #: A rollback alert reaches the receiver: through Prometheus and Alertmanager when the
    #: drill has them (:mod:`mlops_guard.drills._chain`), else the built-in evaluator.
    uses_alerts: bool = False

    def prepare(self, ctx: DrillContext) -> None:
        """Bring the run to the healthy state the fault hits (both modes)."""

    def arm(self, ctx: DrillContext) -> None:
        """Start the guard's watchers and receivers (guard mode only)."""

    def inject(self, ctx: DrillContext) -> None:
        raise NotImplementedError

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        """What the guard's signal sets off (guard mode only, after the detection)."""

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        """The evidence that the pipeline is healthy again, or None."""
        return None

    def busy(self, ctx: DrillContext) -> bool:
        """Work the fault set off is still going on (a signal may still come)."""
        return False

    def configure(self, settings: GuardSettings) -> GuardSettings:
        """The run's settings (a scenario may point them at a service of its own)."""
        return settings

    def setup(self, fixture: Fixture | None, workdir: Path) -> None:
        """Start what the scenario keeps across its runs (called once, after the fixture)."""

    def close(self) -> None:
        """Release what the scenario kept across runs (servers)."""


@dataclass
class RunRecord:
    """What one run measured; times are seconds on one monotonic clock from the injection."""

    scenario: str
    run: int
    guard: bool
    root_cause: str | None
    detected: bool = False
    detected_cause: str | None = None
    detected_by: str | None = None
    detection_source: str | None = None
    detection_detail: dict[str, Any] = field(default_factory=dict)
    ttd_seconds: float | None = None
    recovered: bool = False
    ttr_seconds: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    false_alarms: int = 0
    alarms: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    #: How the rollback alert reached the receiver: "prometheus" (the real chain) or
    #: "builtin" (the drill's evaluator); None where no alert is involved.
    alert_path: str | None = None
    workdir: str = ""
    seconds: float = 0.0  # the whole run: preparation, fault, recovery, teardown

    @property
    def root_cause_correct(self) -> bool:
        return self.detected and self.detected_cause == self.root_cause

    @property
    def uptime_share(self) -> float:
        down = self.ttr_seconds if self.recovered and self.ttr_seconds is not None else None
        if self.root_cause is None:
            return 1.0
        if down is None:
            return 0.0
        return max(0.0, 1.0 - min(down, DRILL_WINDOW_SECONDS) / DRILL_WINDOW_SECONDS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "run": self.run,
            "guard": self.guard,
            "root_cause": self.root_cause,
            "detected": self.detected,
            "detected_cause": self.detected_cause,
            "detected_by": self.detected_by,
            "detection_source": self.detection_source,
            "detection_detail": self.detection_detail,
            "root_cause_correct": self.root_cause_correct,
            "ttd_seconds": self.ttd_seconds,
            "recovered": self.recovered,
            "ttr_seconds": self.ttr_seconds,
            "uptime_share": self.uptime_share,
            "evidence": self.evidence,
            "false_alarms": self.false_alarms,
            "alarms": self.alarms,
            "error": self.error,
            "alert_path": self.alert_path,
            "workdir": self.workdir,
            "seconds": round(self.seconds, 3),
        }


def run_scenario(
    scenario: Scenario,
    *,
    run: int,
    seed: int,
    guard: bool,
    fixture: Fixture,
    workdir: Path,
    timeout: float = TIMEOUT_SECONDS,
    chain: AlertChain | None = None,
) -> RunRecord:
    """One run of ``scenario`` in a fresh copy of ``fixture`` at ``workdir``; with ``chain``
    (the scenario's), a guarded run of a scenario that ``uses_alerts`` alerts through it."""
    from mlops_guard.drills._fixture import settings_for
    from mlops_guard.metrics import reset_metrics

    if scenario.needs_pipeline:
        fixture.copy_to(workdir)
    else:
        workdir.mkdir(parents=True)
    # A fresh metrics registry, as a fresh process would have: one run's gauges must not
    # reach the next run's textfiles (a stale "worse than previous" would fire its rule).
    reset_metrics()
    began = time.monotonic()
    record = RunRecord(scenario.name, run, guard, scenario.root_cause, workdir=str(workdir))
    with contextlib.ExitStack() as stack:
        alerts: AlertChain | None = None
        gateway: str | None = None
        try:
            if guard and scenario.uses_alerts:
                record.alert_path = "builtin" if chain is None else "prometheus"
            if record.alert_path == "prometheus" and chain is not None:
                alerts = chain
                stack.callback(chain.end_run)
                gateway = chain.begin_run()
            settings = scenario.configure(settings_for(workdir, pushgateway_url=gateway))
        except Exception as exc:  # noqa: BLE001 - a service that did not start fails this run
            _log.exception("drill %s run %d not configured", scenario.name, run)
            record.error = f"{type(exc).__name__}: {exc}"[:500]
            record.seconds = time.monotonic() - began
            return record
        watch = stack.enter_context(SignalWatch(settings.runlog_path))
        ctx = DrillContext(
            scenario.name, run, seed, guard, workdir, settings, fixture, watch, stack, chain=alerts
        )
        try:
            _drive(scenario, ctx, record, timeout)
        except Exception as exc:  # noqa: BLE001 - a broken run is reported, the drill goes on
            _log.exception("drill %s run %d failed", scenario.name, run)
            record.error = f"{type(exc).__name__}: {exc}"[:500]
    record.seconds = time.monotonic() - began
    return record


def _drive(scenario: Scenario, ctx: DrillContext, record: RunRecord, timeout: float) -> None:
    from mlops_guard.settings import use_settings

    with use_settings(ctx.settings):
        scenario.prepare(ctx)
        if ctx.guard:
            scenario.arm(ctx)
        from mlops_guard.runlog import rfc3339_now

        ctx.state["injected_wall"] = rfc3339_now()
        ctx.injected_at = ctx.watch.mark()
        scenario.inject(ctx)

        def detected() -> Detection | None:
            found = ctx.watch.detection(guard=ctx.guard)
            if found is not None:
                return found
            # Nothing more can come: the fault's work is done and no check is still running.
            if not scenario.busy(ctx) and ctx.watch.idle:
                # Lines not read yet may still set off a check: read them, and go on waiting
                # while any check they set off runs.
                ctx.watch.poll()
                if not ctx.watch.idle:
                    return None
                settled = ctx.watch.detection(guard=ctx.guard)
                if settled is None:
                    ctx.state["settled"] = True
                return settled
            return None

        detection = ctx.wait(lambda: detected() or ctx.state.get("settled"), timeout)
        if isinstance(detection, Detection):
            record.detected = True
            record.detected_cause = detection.root_cause
            record.detected_by = detection.event
            record.detection_source = detection.source
            record.detection_detail = detection.detail
            record.ttd_seconds = detection.seen - ctx.injected_at
        if scenario.root_cause is None:
            record.alarms = [
                {"event": s.name, "root_cause": cause, "source": s.source}
                for s, cause in ctx.watch.alarms()
            ]
            record.false_alarms = len(record.alarms)
            return
        if not isinstance(detection, Detection) or not ctx.guard:
            # An unnoticed fault is not resolved, and without the guard nothing acts on a
            # failed run: the baseline is down for the window.
            return
        scenario.respond(ctx, detection)
        evidence = ctx.wait(lambda: scenario.recovered(ctx), timeout)
        if evidence:
            record.recovered = True
            record.ttr_seconds = float(evidence.pop("at", time.monotonic())) - ctx.injected_at
            record.evidence = evidence
