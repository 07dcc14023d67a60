"""The validation gate the pipelines call before training and before scoring."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import BatchRejected, UsageError
from mlops_guard.validation._quarantine import quarantine_batch, quarantine_rows, split_rows
from mlops_guard.validation._result import ValidationResult
from mlops_guard.validation._settings import ValidationSettings
from mlops_guard.validation._suite import Suite, load_suite

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.settings import GuardSettings, ValidationPolicy

__all__ = ["VALIDATION_FAILED_EVENT", "GateResult", "gate"]

_POLICIES = ("fail", "quarantine_rows")
#: The Prefect event of a gated batch that failed validation, on resource
#: ``mlops_guard.suite.<suite>``. Payload: suite, flow, source, policy, rows, rows_passed,
#: rows_quarantined, failed_expectations (how many), failed (the first
#: :data:`MAX_EVENT_FAILURES`: expectation, column, unexpected_count), quarantined (the
#: quarantine entry), and the flow run and trace ids when known.
VALIDATION_FAILED_EVENT = "mlops_guard.validation.failed"
#: Failed expectations listed in the event; the quarantine manifest has them all. A suite can
#: hold hundreds of expectations, and Prefect refuses events above its size limit.
MAX_EVENT_FAILURES = 20


@dataclass(frozen=True)
class GateResult:
    """What the gate let through and what it kept back.

    ``passed`` holds the rows that may go on (all of them when the batch passed);
    ``rows_passed + rows_quarantined == result.rows`` always.
    """

    passed: pd.DataFrame
    result: ValidationResult
    policy: str
    rows_passed: int
    rows_quarantined: int
    quarantined: Path | None

    def to_json(self) -> dict[str, Any]:
        return {
            **self.result.to_json(),
            "policy": self.policy,
            "rows_passed": self.rows_passed,
            "rows_quarantined": self.rows_quarantined,
        }


def _observe(
    result: ValidationResult,
    *,
    flow: str,
    policy: str,
    rows_passed: int,
    rows_quarantined: int,
    settings: GuardSettings,
    metrics: GuardMetrics,
) -> None:
    """Metrics and the run-log event; best effort, never raises into the pipeline."""
    import logging

    from mlops_guard.runlog import log_event

    try:
        metrics.validation_failed_expectations.labels(flow=flow, suite=result.suite).set(
            len(result.failed)
        )
        status = "passed" if result.success else "failed"
        metrics.validation_runs_total.labels(flow=flow, suite=result.suite, status=status).inc()
        if rows_quarantined:
            metrics.rows_quarantined_total.labels(flow=flow, suite=result.suite).inc(
                rows_quarantined
            )
    except Exception as exc:  # noqa: BLE001 - observability never breaks the job
        metrics.sink_failures_total.labels(sink="metrics").inc()
        logging.getLogger("mlops_guard.validation").warning("validation metrics failed: %s", exc)
    log_event(
        "validation.completed" if result.success else "validation.failed",
        "INFO" if result.success else "WARNING",
        settings=settings,
        suite=result.suite,
        policy=policy,
        rows=result.rows,
        rows_passed=rows_passed,
        rows_quarantined=rows_quarantined,
        failed_expectations=len(result.failed),
        failed=[o.label for o in result.failed],
        quarantined=result.quarantined,
        source=result.source,
    )
    if not result.success:
        _emit_failed(
            result,
            flow=flow,
            policy=policy,
            rows_passed=rows_passed,
            rows_quarantined=rows_quarantined,
            metrics=metrics,
        )


def _emit_failed(
    result: ValidationResult,
    *,
    flow: str,
    policy: str,
    rows_passed: int,
    rows_quarantined: int,
    metrics: GuardMetrics,
) -> None:
    from mlops_guard._events import GuardEvent, emit
    from mlops_guard.runlog import current_context

    context = current_context()
    failed = result.failed
    emit(
        GuardEvent(
            event=VALIDATION_FAILED_EVENT,
            resource_id=f"mlops_guard.suite.{result.suite}",
            resource_name=result.suite,
            payload={
                "suite": result.suite,
                "flow": flow,
                "source": result.source,
                "policy": policy,
                "rows": result.rows,
                "rows_passed": rows_passed,
                "rows_quarantined": rows_quarantined,
                "failed_expectations": len(failed),
                "failed": [
                    {
                        "expectation": o.expectation,
                        "column": o.column,
                        "unexpected_count": o.unexpected_count,
                    }
                    for o in failed[:MAX_EVENT_FAILURES]
                ],
                "quarantined": result.quarantined,
                "flow_run_id": context.get("flow_run_id"),
                "trace_id": context.get("trace_id"),
            },
        ),
        metrics=metrics,
    )


def gate(
    df: pd.DataFrame,
    *,
    suite: Suite | str | Path,
    policy: ValidationPolicy,
    flow: str,
    source: str,
    settings: GuardSettings,
    optional_columns: Collection[str] = (),
    validation_settings: ValidationSettings | None = None,
    metrics: GuardMetrics | None = None,
) -> GateResult:
    """Validate a batch, quarantine what fails, record it, and return the rows that may go on.

    ``policy="fail"``: a failed batch is quarantined whole under ``settings.quarantine_dir``
    and :class:`BatchRejected` (a :class:`~mlops_guard.errors.ValidationFailed`) is raised
    with the result as ``.result`` and the entry as ``.quarantined``.
    ``policy="quarantine_rows"``: failing rows are quarantined with their reasons and the
    passing rows are returned (a table-level failure, such as a missing column, quarantines
    every row). ``optional_columns`` may be absent from
    the batch (the label at scoring time); when absent, expectations about them are skipped.

    Updates ``mlops_guard_validation_failed_expectations{flow,suite}``,
    ``mlops_guard_validation_runs_total`` and ``mlops_guard_rows_quarantined_total``, logs
    ``validation.completed`` or ``validation.failed`` to the run log, and emits the Prefect event
    :data:`VALIDATION_FAILED_EVENT` for a batch that failed (when a Prefect API is configured or
    the gate runs inside a flow run).

    >>> from mlops_guard.demo import make_dataset
    >>> from mlops_guard.settings import GuardSettings
    >>> import tempfile
    >>> s = GuardSettings(workdir=tempfile.mkdtemp())
    >>> gate(make_dataset(rows=200, seed=2), suite="churn", policy="fail", flow="training",
    ...      source="example", settings=s).rows_passed
    200
    """
    from mlops_guard.metrics import get_metrics

    if policy not in _POLICIES:
        raise UsageError(
            f"validation policy {policy!r} is unknown", hint=f"use one of {', '.join(_POLICIES)}"
        )
    metrics = metrics or get_metrics()
    vsettings = validation_settings or ValidationSettings()
    loaded = load_suite(suite, expectations_dir=vsettings.expectations_dir)
    absent = [c for c in optional_columns if c not in df.columns]
    if absent:
        loaded = loaded.without_columns(absent)
    qdir = settings.quarantine_dir
    if policy == "fail":
        from mlops_guard.validation._validate import validate

        result = validate(df, loaded, source=source, settings=vsettings)
        entry: Path | None = None
        if not result.success:
            entry = quarantine_batch(df, result, qdir, source)
            result = result.with_quarantine(str(entry))
        rows_quarantined = 0 if result.success else result.rows
        _observe(
            result,
            flow=flow,
            policy=policy,
            rows_passed=result.rows - rows_quarantined,
            rows_quarantined=rows_quarantined,
            settings=settings,
            metrics=metrics,
        )
        if not result.success:
            raise BatchRejected(
                f"batch {source!r} failed suite {result.suite!r}: "
                + ", ".join(o.label for o in result.failed[:3])
                + (f" and {len(result.failed) - 3} more" if len(result.failed) > 3 else ""),
                hint=f"the batch is kept in {entry}; see its manifest.json",
                result=result,
                quarantined=entry,
            )
        return GateResult(df, result, policy, result.rows, 0, None)

    passing, failing, result = split_rows(df, loaded, settings=vsettings, source=source)
    entry = None
    if len(failing):
        entry = quarantine_rows(failing, result, qdir, source)
        result = result.with_quarantine(str(entry))
    _observe(
        result,
        flow=flow,
        policy=policy,
        rows_passed=len(passing),
        rows_quarantined=len(failing),
        settings=settings,
        metrics=metrics,
    )
    return GateResult(passing, result, policy, len(passing), len(failing), entry)
