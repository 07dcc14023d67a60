"""Attaching a written report where its run is looked at: the MLflow runs of its window (as an
artifact) and, through the orchestrator sinks, the flow run in Prefect (a markdown artifact
linking to it). Both are best effort: a store that is down is logged and counted, and the
report file stays written."""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import GuardError

if TYPE_CHECKING:
    from mlops_guard.report._build import RunEvents
    from mlops_guard.settings import GuardSettings

__all__ = [
    "ARTIFACT_DIR",
    "ARTIFACT_NAME",
    "ORCHESTRATOR_ARTIFACT_KEY",
    "Attached",
    "MlflowAttachment",
    "attach_report",
    "mlflow_runs_of",
    "publish_report",
]

#: Where the page goes in each MLflow run's artifacts: ``reliability/report.html``.
ARTIFACT_DIR = "reliability"
ARTIFACT_NAME = "report.html"
#: The key of the orchestrator's artifact on the flow run (Prefect: lowercase and dashes).
ORCHESTRATOR_ARTIFACT_KEY = "reliability-report"
#: ``mlops_guard_sink_failures_total{sink=...}`` when logging to MLflow fails.
MLFLOW_SINK = "mlflow_report"

# MLflow run ids are 32 hex digits; run-log fields named run_id from other systems (an
# Airflow DAG run id, say) never look like that.
_MLFLOW_RUN_ID = re.compile(r"^[0-9a-f]{32}$")
_log = logging.getLogger("mlops_guard.report")


@dataclass
class MlflowAttachment:
    """The report as an artifact of one MLflow run (``logged`` False, with ``error``, when it
    could not be written there)."""

    run_id: str
    run_name: str | None = None
    artifact_uri: str | None = None
    link: str | None = None
    logged: bool = False
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_name": self.run_name,
            "artifact_path": f"{ARTIFACT_DIR}/{ARTIFACT_NAME}",
            "artifact_uri": self.artifact_uri,
            "logged": self.logged,
            "error": self.error,
        }


@dataclass
class Attached:
    """Where a report went besides its file."""

    report: Path
    tracking_uri: str
    window: str = ""
    events: int = 0
    mlflow_runs: list[MlflowAttachment] = field(default_factory=list)
    flow_run_id: str | None = None
    orchestrators: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "report": str(self.report),
            "window": self.window,
            "events": self.events,
            "mlflow": {
                "tracking_uri": self.tracking_uri,
                "runs": [r.to_json() for r in self.mlflow_runs],
            },
            "orchestrator_artifact": {
                "flow_run_id": self.flow_run_id,
                "key": ORCHESTRATOR_ARTIFACT_KEY if self.orchestrators else None,
                "attached_by": self.orchestrators,
            },
            "failures": self.failures,
        }


def mlflow_runs_of(run: RunEvents) -> list[str]:
    """The MLflow run ids the window's events name (a registration's ``run_id``), in the
    order they first appear."""
    found: list[str] = []
    for event in run.events:
        value = event.get("run_id")
        if isinstance(value, str) and _MLFLOW_RUN_ID.match(value) and value not in found:
            found.append(value)
    return found


def _file_uri(location: str) -> str:
    if "://" in location or location.startswith(("mlflow-artifacts:", "dbfs:", "s3:")):
        return location
    return Path(location).resolve().as_uri()


def _run_link(tracking_uri: str, experiment_id: str, run_id: str, artifact_uri: str) -> str:
    """Where a person opens the report: the MLflow UI's artifact view when the tracking URI is
    an MLflow server, else the stored file itself."""
    if tracking_uri.startswith(("http://", "https://")):
        from mlops_guard.registry._client import _redact

        base = _redact(tracking_uri).rstrip("/")
        return f"{base}/#/experiments/{experiment_id}/runs/{run_id}/artifacts"
    return _file_uri(artifact_uri)


def _log_to_mlflow(
    page: Path, run_ids: list[str], settings: GuardSettings, attached: Attached
) -> None:
    from mlops_guard.errors import RegistryUnavailable
    from mlops_guard.metrics import get_metrics
    from mlops_guard.registry._client import RegistryClient

    client = RegistryClient(settings)
    with tempfile.TemporaryDirectory(prefix="mlops-guard-report-") as tmp:
        # The same artifact name whatever -o was, so links to it are stable.
        staged = Path(tmp) / ARTIFACT_NAME
        shutil.copyfile(page, staged)
        down: str | None = None
        for run_id in run_ids:
            entry = MlflowAttachment(run_id)
            attached.mlflow_runs.append(entry)
            if down is not None:
                entry.error = down
                continue
            try:
                found = client.call(f"read run {run_id}", client.mlflow.get_run, run_id)
                client.call(
                    f"log the report to run {run_id}",
                    client.mlflow.log_artifact,
                    run_id,
                    str(staged),
                    artifact_path=ARTIFACT_DIR,
                )
            except Exception as exc:  # noqa: BLE001 - the report file is written either way
                get_metrics().sink_failures_total.labels(sink=MLFLOW_SINK).inc()
                entry.error = str(exc) if isinstance(exc, GuardError) else (
                    f"MLflow refused run {run_id} ({type(exc).__name__}: "
                    f"{' '.join(str(exc).split())[:200]})"
                )  # fmt: skip
                attached.failures.append(entry.error)
                _log.warning("report not logged to MLflow run %s: %s", run_id, entry.error)
                if isinstance(exc, RegistryUnavailable):
                    # The store is down: every further run would wait out the same retries.
                    down = f"not tried: {entry.error}"
                continue
            entry.run_name = found.info.run_name
            entry.artifact_uri = (
                f"{found.info.artifact_uri.rstrip('/')}/{ARTIFACT_DIR}/{ARTIFACT_NAME}"
            )
            entry.link = _run_link(
                settings.mlflow_tracking_uri, found.info.experiment_id, run_id, entry.artifact_uri
            )
            entry.logged = True


def _markdown(attached: Attached, window: str) -> str:
    lines = [f"## mlops-guard reliability report: {window}", ""]
    logged = [r for r in attached.mlflow_runs if r.logged]
    for entry in logged:
        lines.append(
            f"- [{ARTIFACT_DIR}/{ARTIFACT_NAME}]({entry.link}) in MLflow run "
            f"`{entry.run_id}` ({entry.run_name or 'unnamed'})"
        )
    if not logged:
        lines.append("- in no MLflow run (none found in the window, or MLflow was down)")
    lines.append(f"- written to `{attached.report}` on the host that ran `mlops-guard report`")
    return "\n".join(lines) + "\n"


def attach_report(
    page: Path,
    run: RunEvents,
    settings: GuardSettings,
    *,
    window: str,
    flow_run_id: str | None = None,
) -> Attached:
    """Log ``page`` to every MLflow run the window names and, for a flow run, attach a markdown
    artifact linking to it through the orchestrator sinks (Prefect's when its API is
    configured). Never raises for a store that is down: see :attr:`Attached.failures`."""
    from mlops_guard import _events
    from mlops_guard.registry._client import _redact

    attached = Attached(page.resolve(), _redact(settings.mlflow_tracking_uri), window=window)
    attached.events = len(run.events)
    run_ids = mlflow_runs_of(run)
    if run_ids:
        _log_to_mlflow(page, run_ids, settings, attached)
    if flow_run_id is not None:
        attached.flow_run_id = flow_run_id
        tried = _events.publish_run_artifact(
            "markdown",
            flow_run_id,
            ORCHESTRATOR_ARTIFACT_KEY,
            _markdown(attached, window),
            description="the mlops-guard reliability report of this flow run",
        )
        attached.orchestrators = [name for name, error in tried.items() if error is None]
        attached.failures += [
            f"{name} did not attach the report to flow run {flow_run_id} ({error})"
            for name, error in tried.items()
            if error is not None
        ]
    return attached


def publish_report(
    out: str | Path,
    *,
    settings: GuardSettings | None = None,
    flow_run_id: str | None = None,
    since: str | None = None,
) -> Attached:
    """Write the report of the window to ``out``, then attach it (:func:`attach_report`)."""
    from mlops_guard.report._build import read_events, render, window_name
    from mlops_guard.settings import resolve_settings

    settings = resolve_settings(settings)
    run = read_events(settings, flow_run_id=flow_run_id, since=since)
    window = window_name(flow_run_id, since)
    page = render(out, run, settings, window=window)
    return attach_report(page, run, settings, window=window, flow_run_id=flow_run_id)
