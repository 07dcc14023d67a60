"""The Prefect flow of the scheduled drift check (imports Prefect: loaded on first use)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from prefect import flow

from mlops_guard.drift._check import DriftCheckResult, run_drift_check

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["drift_check_flow"]


def _attach(result: DriftCheckResult, settings: GuardSettings, run_id: str | None) -> None:
    """Link the HTML report from a Prefect artifact and attach it to the champion's MLflow run;
    both best effort (counted on failure), the check's result stands either way."""
    import logging

    from mlops_guard.metrics import get_metrics

    log = logging.getLogger("mlops_guard.drift")
    if result.html is None:
        return
    try:
        from prefect.artifacts import create_link_artifact, create_markdown_artifact

        key = f"drift-report-{result.model}".lower().replace("_", "-")
        create_link_artifact(
            link=Path(result.html).resolve().as_uri(),
            link_text="Evidently drift report",
            key=key,
            description=f"drift share {result.report.drift_share:.2f}",
        )
        rows = "\n".join(
            f"| {name} | {c.test} | {c.statistic:.4g} | {c.threshold:.4g} | {c.drifted} |"
            for name, c in result.report.columns.items()
        )
        create_markdown_artifact(
            markdown=(
                f"# Drift check of {result.model} v{result.model_version}\n\n"
                f"dataset drift: **{result.dataset_drift}** "
                f"(share {result.report.drift_share:.2f})\n\n"
                "| column | test | statistic | threshold | drifted |\n|---|---|---|---|---|\n"
                f"{rows}\n"
            ),
            key=f"drift-summary-{result.model}".lower().replace("_", "-"),
        )
    except Exception as exc:  # noqa: BLE001 - observability never breaks the job
        get_metrics().sink_failures_total.labels(sink="prefect_artifacts").inc()
        log.warning("drift report artifact not created (%s: %s)", type(exc).__name__, exc)
    if run_id is None:
        return
    try:
        from mlops_guard.drift._check import _client

        _client(settings).log_artifact(run_id, result.html, artifact_path="drift")
    except Exception as exc:  # noqa: BLE001 - observability never breaks the job
        get_metrics().sink_failures_total.labels(sink="mlflow_artifacts").inc()
        log.warning("drift report not attached to MLflow (%s: %s)", type(exc).__name__, exc)


@flow(name="mlops-guard-drift-check", log_prints=False, validate_parameters=False)
def drift_check_flow(
    model: str | None = None,
    batches: int | None = None,
    html: bool = True,
    settings: GuardSettings | None = None,
) -> DriftCheckResult:
    """Compare the latest scored batches with the champion's reference profile.

    Writes the result to the run log and metrics, emits ``mlops_guard.drift.detected`` on
    drift, and (with ``html``) writes Evidently's report under ``<workdir>/artifacts/drift/``,
    links it from a Prefect artifact and attaches it to the champion's MLflow run.
    """
    from mlops_guard.drift._check import load_champion_reference
    from mlops_guard.runlog import rfc3339_now
    from mlops_guard.settings import GuardSettings

    settings = settings or GuardSettings()
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
    return result
