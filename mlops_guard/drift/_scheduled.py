"""The scheduled drift check of a model's champion, with no orchestrator in it: the latest
scored batches against the champion's reference profile, its report attached to the champion's
MLflow run and published as the run's artifacts, and the labelled quality when the batches
carry labels. Prefect's integration runs it as the flow ``mlops-guard-drift-check``; an Airflow
operator calls it in a task."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.drift._check import DriftCheckResult, run_drift_check
from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["DRIFT_CHECK_FLOW", "REPORT_ARTIFACT_DIR", "check_champion_drift", "report_link"]


#: The name the orchestrators give the check's runs (and the metrics' ``flow`` label).
DRIFT_CHECK_FLOW = "mlops-guard-drift-check"

#: Where the HTML report goes among the champion run's MLflow artifacts.
REPORT_ARTIFACT_DIR = "drift"


def report_link(tracking_uri: str, experiment_id: str, run_id: str, artifact: str) -> str | None:
    """The MLflow UI page showing ``artifact`` of a run, or None when the tracking URI is not
    a web server a browser can open (a SQLite file, a local directory).

    >>> report_link("http://mlflow:5000/", "3", "abc", "drift/churn.html")
    'http://mlflow:5000/#/experiments/3/runs/abc/artifactPath/drift/churn.html'
    >>> report_link("sqlite:///mlflow.db", "3", "abc", "drift/churn.html") is None
    True
    """
    from urllib.parse import quote

    if not tracking_uri.lower().startswith(("http://", "https://")):
        return None
    # The artifact route of MLflow 3's UI (runPageWithArtifact in its router).
    return (
        f"{tracking_uri.rstrip('/')}/#/experiments/{quote(experiment_id, safe='')}"
        f"/runs/{quote(run_id, safe='')}/artifactPath/{quote(artifact)}"
    )


def _summary(result: DriftCheckResult, report_line: str | None) -> str:
    report = result.report
    rows = "\n".join(
        f"| {name} | {c.test} | {c.statistic:.4g} | {c.threshold:.4g} | {c.drifted} |"
        for name, c in report.columns.items()
    )
    parts = [
        f"# Drift check of {result.model} v{result.model_version}\n",
        f"dataset drift: **{result.dataset_drift}** (share {report.drift_share:.2f}, "
        f"threshold {report.share_threshold:.2f}, {result.rows:,} rows)\n",
        "| column | test | statistic | threshold | drifted |\n|---|---|---|---|---|\n"
        + rows
        + "\n",
    ]
    if report.skipped:
        parts.append(
            "not tested: "
            + "; ".join(f"{name} ({s.reason})" for name, s in report.skipped.items())
            + "\n"
        )
    if report.outputs:
        outputs = "\n".join(
            f"| {name} | {c.test} | {c.statistic:.4g} | {c.threshold:.4g} | {c.drifted} |"
            for name, c in report.outputs.items()
        )
        parts.append(
            f"prediction drift (model outputs, not in the share): **{report.prediction_drift}**"
            "\n\n| output | test | statistic | threshold | drifted |\n|---|---|---|---|---|\n"
            + outputs
            + "\n"
        )
    if result.concept is not None:
        c = result.concept
        parts.append(
            f"concept drift: **{c.significant}** ({c.metric} {c.current_quality:.4f} against "
            f"{c.reference_quality:.4f}, minimum effect {c.min_drop:g})\n"
        )
    if report_line:
        parts.append(report_line + "\n")
    return "\n".join(parts)


def _attach(result: DriftCheckResult, settings: GuardSettings, run_id: str | None) -> None:
    """Attach the HTML report to the champion's MLflow run, then publish the markdown summary
    (with where to open the report) and, when the MLflow UI is a web server, a link to the
    report there; all best effort (counted on failure), the check's result stands either way.

    Never a ``file://`` link: a browser will not open one from the Prefect UI.
    """
    import logging

    from mlops_guard.metrics import get_metrics

    log = logging.getLogger("mlops_guard.drift")
    link: str | None = None
    attached: str | None = None
    if result.html is not None and run_id is not None:
        try:
            from mlops_guard.drift._check import _client

            client = _client(settings)
            client.log_artifact(run_id, result.html, artifact_path=REPORT_ARTIFACT_DIR)
            attached = f"{REPORT_ARTIFACT_DIR}/{Path(result.html).name}"
            experiment_id = str(client.get_run(run_id).info.experiment_id)
            link = report_link(settings.mlflow_tracking_uri, experiment_id, run_id, attached)
        except Exception as exc:  # noqa: BLE001 - observability never breaks the job
            get_metrics().sink_failures_total.labels(sink="mlflow_artifacts").inc()
            log.warning("drift report not attached to MLflow (%s: %s)", type(exc).__name__, exc)
    report_line: str | None = None
    if link is not None:
        report_line = f"Evidently report: [{attached}]({link}) (MLflow run {run_id})"
    elif result.html is not None:
        where = f"; also artifact `{attached}` of MLflow run `{run_id}`" if attached else ""
        report_line = (
            f"Evidently report (HTML file on the host that ran the check): `{result.html}`{where}"
        )
    key = result.model.lower().replace("_", "-")
    from mlops_guard._events import publish_link, publish_markdown

    publish_markdown(f"drift-summary-{key}", _summary(result, report_line))
    if link is not None:
        publish_link(
            f"drift-report-{key}", link, description=f"drift share {result.report.drift_share:.2f}"
        )


def check_champion_drift(
    model: str | None = None,
    batches: int | None = None,
    html: bool = True,
    settings: GuardSettings | None = None,
) -> DriftCheckResult:
    """Compare the latest scored batches with the champion's reference profile.

    Writes the result to the run log and metrics, emits ``mlops_guard.drift.detected`` on
    drift, publishes a markdown summary as a Prefect artifact, and (with ``html``) writes
    Evidently's report under ``<workdir>/artifacts/drift/`` and attaches it to the champion's
    MLflow run; the summary says where to open it (with an MLflow server, a link artifact
    points at the report in the MLflow UI).
    """
    from mlops_guard.drift._check import load_champion_reference
    from mlops_guard.runlog import rfc3339_now

    settings = resolve_settings(settings)
    name = model or settings.model_name
    reference = load_champion_reference(name, settings)
    html_path = None
    if html:
        stamp = rfc3339_now().replace(":", "").replace("-", "").split(".")[0]
        html_path = settings.artifacts_dir / "drift" / f"{name}-{stamp}.html"
    result = run_drift_check(
        settings=settings, model=name, batches=batches, reference=reference, html_path=html_path
    )
    _attach(result, settings, reference.run_id)
    _check_quality(result, reference, settings)
    return result


def _check_quality(result: DriftCheckResult, reference: Any, settings: GuardSettings) -> None:
    """When the checked batches carry labels, judge the champion's labelled quality against
    its reference quality too (``mlops_guard_model_quality*`` gauges with the version as a
    label, the ``quality.checked`` event). Best effort: the drift verdict stands either way."""
    import logging

    import pandas as pd

    from mlops_guard.data import read_table
    from mlops_guard.errors import GuardError
    from mlops_guard.quality import check_quality

    contract = reference.contract
    if contract is None or not result.batches:
        return
    frames = [read_table(path) for path in result.batches]
    labelled = pd.concat(frames, ignore_index=True)
    if contract.label not in labelled.columns or labelled[contract.label].isna().all():
        return
    try:
        check = check_quality(result.model, labelled, version=reference.version, settings=settings)
    except GuardError as exc:
        logging.getLogger("mlops_guard.drift").warning("labelled quality not checked: %s", exc)
        return
    result.notes.append(
        "labelled quality " + ("degraded" if check.degraded else "holds") + f" on {check.rows} rows"
    )
