"""The per-run reliability report: one self-contained HTML page (no network requests, plots
embedded) built from a working directory's run log and artifacts.

Sections: the stage timeline, validation results with quarantined rows and examples, drift per
column, model quality over time, canary verdicts, the alias history with reasons, alerts
received and what they did, and the training monitor's summary.

>>> from mlops_guard.report import write_report  # doctest: +SKIP
>>> write_report("report.html", flow_run_id="7a23c82d-...")  # doctest: +SKIP

:func:`publish_report` also logs the page to the MLflow runs the window names (artifact
``reliability/report.html``) and, for a flow run, attaches a markdown artifact linking to it
through the orchestrator sinks (Prefect's, when its API is configured).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.report._attach import Attached, MlflowAttachment, attach_report, publish_report
    from mlops_guard.report._build import SECTIONS, RunEvents, read_events, write_report

__all__ = [
    "SECTIONS",
    "Attached",
    "MlflowAttachment",
    "RunEvents",
    "attach_report",
    "publish_report",
    "read_events",
    "write_report",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        **dict.fromkeys(["SECTIONS", "RunEvents", "read_events", "write_report"], "_build"),
        **dict.fromkeys(
            ["Attached", "MlflowAttachment", "attach_report", "publish_report"], "_attach"
        ),
    },
)
