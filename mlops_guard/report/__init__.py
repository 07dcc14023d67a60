"""The per-run reliability report: one self-contained HTML page (no network requests, plots
embedded) built from a working directory's run log and artifacts.

Sections: the stage timeline, validation results with quarantined rows and examples, drift per
column, model quality over time, canary verdicts, the alias history with reasons, alerts
received and what they did, and the training monitor's summary.

>>> from mlops_guard.report import write_report  # doctest: +SKIP
>>> write_report("report.html", flow_run_id="7a23c82d-...")  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.report._build import SECTIONS, RunEvents, read_events, write_report

__all__ = ["SECTIONS", "RunEvents", "read_events", "write_report"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    dict.fromkeys(__all__, "_build"),
)
