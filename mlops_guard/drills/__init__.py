"""Drills: inject real faults into the real pipeline and measure detection and recovery.

Each scenario injects one fault (bad data, drift, a worse champion, a crashed stage, a hung or
slow training job, an alert storm) into the product's own pipelines, checks, monitors and
alert receiver, and times on one monotonic clock the injection, the first product signal
that names a root cause (:func:`classify`), and the pipeline being healthy again. The same
faults run without the guard (the baseline: what a plain orchestrator reports) and on clean
runs (false alarms). :func:`scorecard` turns the runs into the study-shaped table::

    from pathlib import Path
    from mlops_guard.drills import render_markdown, run_drills, scorecard

    result = run_drills(["bad-model", "clean"], runs=3, workdir=Path("drill"))
    print(render_markdown(scorecard(result)))

or ``mlops-guard drill all --runs 3``. Attributes load lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.drills._causes import (
        ROOT_CAUSES,
        RootCause,
        classify,
        classify_orchestrator,
    )
    from mlops_guard.drills._drill import SCENARIOS, DrillResult, run_drills, scenario
    from mlops_guard.drills._fixture import Fixture, build_fixture
    from mlops_guard.drills._runner import (
        DRILL_WINDOW_SECONDS,
        DrillContext,
        RunRecord,
        Scenario,
        run_scenario,
    )
    from mlops_guard.drills._scorecard import STUDY, render_markdown, scorecard, write_plot
    from mlops_guard.drills._watch import Detection, Signal, SignalWatch

__all__ = [
    "DRILL_WINDOW_SECONDS",
    "ROOT_CAUSES",
    "SCENARIOS",
    "STUDY",
    "Detection",
    "DrillContext",
    "DrillResult",
    "Fixture",
    "RootCause",
    "RunRecord",
    "Scenario",
    "Signal",
    "SignalWatch",
    "build_fixture",
    "classify",
    "classify_orchestrator",
    "render_markdown",
    "run_drills",
    "run_scenario",
    "scenario",
    "scorecard",
    "write_plot",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(
            ("ROOT_CAUSES", "RootCause", "classify", "classify_orchestrator"), "_causes"
        ),
        **dict.fromkeys(("SCENARIOS", "DrillResult", "run_drills", "scenario"), "_drill"),
        **dict.fromkeys(("Fixture", "build_fixture"), "_fixture"),
        **dict.fromkeys(
            ("DRILL_WINDOW_SECONDS", "DrillContext", "RunRecord", "Scenario", "run_scenario"),
            "_runner",
        ),
        **dict.fromkeys(("STUDY", "render_markdown", "scorecard", "write_plot"), "_scorecard"),
        **dict.fromkeys(("Detection", "Signal", "SignalWatch"), "_watch"),
    },
)
