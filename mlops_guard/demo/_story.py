"""The demo: the whole story of a guarded pipeline in one command, on embedded defaults.

In a fresh working directory (SQLite MLflow store there, Prefect's local server): train v1 and
make it champion, score clean batches and check them for drift (none), score a corrupted batch
(its bad rows are quarantined, the rest scored), score a drifted batch and catch the drift (with
Evidently's HTML report), train v2 (challenger). Each step is a real flow run; the summary lists
the steps with their status and the artifacts written.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_guard.errors import ConfigError
from mlops_guard.runlog import log_event
from mlops_guard.settings import GuardSettings, use_settings

__all__ = [
    "DEMO_FLOW",
    "DemoStep",
    "DemoSummary",
    "prepare_workdir",
    "run_demo",
    "tell_story",
]

#: The name of the demo's run in the orchestrator (its flow in Prefect).
DEMO_FLOW = "mlops-guard-demo"

_ACTOR = "demo"

# Sizes: big enough for stable statistics, small enough that the demo (cold Prefect database
# included) stays well under the 90 s budget on a 2-core machine.
TRAIN_ROWS = 20_000
BATCH_ROWS = 5_000
CLEAN_BATCHES = 3
CANARY_ROWS = 12_000  # split over the canary's steps (10%, 25%, 50% of traffic)
# Covariate drift of the drifted batch: numerical shifts in reference standard deviations (0.5 is
# clearly visible), categorical shares moved to the rarest category. Eight of the thirteen
# features move, so the data set drifts by Evidently's rule (at least half the columns); every
# value stays inside the suite's ranges, so validation lets the batch through and only the
# drift check can catch it.
DRIFT = {
    "monthly_charges": 0.8,
    "support_calls": 0.7,
    "data_usage_gb": 0.6,
    "age": 0.5,
    "logins_30d": 0.6,
    "avg_session_minutes": 0.6,
    "contract": 0.3,
    "region": 0.3,
}


@dataclass
class DemoStep:
    """One step of the demo and what came of it."""

    name: str
    status: str  # "ok", "problem-found" (a check caught what it should), or "failed"
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)
    note: str = ""  # one line for people; ``detail`` is for machines


@dataclass
class DemoSummary:
    """The demo's machine-readable summary (``mlops-guard demo --json``)."""

    workdir: str
    model: str
    champion_version: str | None
    challenger_version: str | None
    versions: list[dict[str, Any]]
    alias_history: list[dict[str, Any]]
    stages: list[DemoStep]
    artifacts: dict[str, str]
    seconds: float


def prepare_workdir(workdir: Path | None) -> Path:
    """A fresh working directory: the given one (must be absent or empty), or a new
    ``.mlops-guard/demo-<UTC time>`` under the current directory."""
    if workdir is None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        workdir = Path(".mlops-guard") / f"demo-{stamp}"
    if workdir.exists():
        if not workdir.is_dir():
            raise ConfigError(
                f"--workdir {str(workdir)!r} is a file", hint="pass a new or empty directory"
            )
        if any(workdir.iterdir()):
            raise ConfigError(
                f"--workdir {str(workdir)!r} is not empty",
                hint="the demo starts from nothing: pass a new or empty directory",
            )
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir.resolve()


class _Steps:
    def __init__(self, on_step: Callable[[DemoStep], None] | None = None) -> None:
        self.steps: list[DemoStep] = []
        self.on_step = on_step

    def run(
        self,
        name: str,
        call: Callable[[], Any],
        describe: Callable[[Any], dict[str, Any]],
        problem: Callable[[Any], bool] | None = None,
    ) -> Any:
        start = time.perf_counter()
        try:
            result = call()
        except Exception as exc:
            self.steps.append(
                DemoStep(name, "failed", time.perf_counter() - start, {"error": str(exc)})
            )
            raise
        status = "problem-found" if problem is not None and problem(result) else "ok"
        detail = describe(result)
        note = str(detail.pop("note", ""))
        self.steps.append(DemoStep(name, status, time.perf_counter() - start, detail, note))
        if self.on_step is not None:
            self.on_step(self.steps[-1])
        return result


def _make_data(workdir: Path) -> dict[str, str]:
    from mlops_guard.data import write_table
    from mlops_guard.demo import LABEL, Corruption, SyntheticSpec, make_dataset

    data = workdir / "data"
    files: dict[str, str] = {}
    files["train_v1"] = str(
        write_table(
            make_dataset(SyntheticSpec(rows=TRAIN_ROWS, seed=11)), data / "train-v1.parquet"
        )
    )
    for i in range(CLEAN_BATCHES):
        batch = make_dataset(SyntheticSpec(rows=BATCH_ROWS, seed=21 + i)).drop(columns=[LABEL])
        files[f"batch_clean_{i + 1}"] = str(
            write_table(batch, data / f"batch-clean-{i + 1}.parquet")
        )
    drifted = make_dataset(SyntheticSpec(rows=BATCH_ROWS, seed=31, drift=DRIFT)).drop(
        columns=[LABEL]
    )
    # An upstream export gone wrong: a region code nobody has seen, and ages that went missing.
    corruption = Corruption(
        unseen_category_rate=0.03,
        unseen_category_columns=("region",),
        null_rate=0.02,
        null_columns=("age",),
    )
    corrupted = make_dataset(SyntheticSpec(rows=BATCH_ROWS, seed=41, corruption=corruption))
    files["batch_corrupted"] = str(
        write_table(corrupted.drop(columns=[LABEL]), data / "batch-corrupted.parquet")
    )
    files["batch_drifted"] = str(write_table(drifted, data / "batch-drifted.parquet"))
    # Labelled traffic for the canary (labels arrive with it, as feedback would).
    files["canary"] = str(
        write_table(make_dataset(SyntheticSpec(rows=CANARY_ROWS, seed=51)), data / "canary.parquet")
    )
    files["train_v3"] = str(
        write_table(
            make_dataset(SyntheticSpec(rows=TRAIN_ROWS, seed=13)), data / "train-v3.parquet"
        )
    )
    # v2 learns from a month whose labels follow another relationship (concept drift): on the
    # true relationship it is the worse model, which the canary must notice.
    files["train_v2"] = str(
        write_table(
            make_dataset(SyntheticSpec(rows=TRAIN_ROWS, seed=12, concept_drift=0.8)),
            data / "train-v2.parquet",
        )
    )
    return files


def _versions(settings: GuardSettings) -> list[dict[str, Any]]:
    from mlops_guard.pipelines._mlflow import configure_mlflow

    client = configure_mlflow(settings)
    found = client.search_model_versions(f"name='{settings.model_name}'")
    # Search results do not carry aliases; the registered model does.
    aliases: dict[str, list[str]] = {}
    for alias, version in client.get_registered_model(settings.model_name).aliases.items():
        aliases.setdefault(str(version), []).append(alias)
    rows = []
    for mv in sorted(found, key=lambda v: int(v.version)):
        rows.append(
            {
                "version": str(mv.version),
                "aliases": sorted(aliases.get(str(mv.version), [])),
                "run_id": mv.run_id,
                "tags": {k: v for k, v in mv.tags.items() if k.startswith("mlops_guard.")},
            }
        )
    return rows


def tell_story(workdir: str, on_step: Callable[[DemoStep], None] | None = None) -> DemoSummary:
    """Run the demo story in WORKDIR (which should be fresh: see :func:`prepare_workdir`).

    Training, scoring and the drift checks run as the orchestrator's flows when one is
    installed (Prefect: subflows of ``mlops-guard-demo``), as plain calls otherwise.
    """
    from mlops_guard._events import as_flow
    from mlops_guard.canary import run_canary
    from mlops_guard.drift._scheduled import DRIFT_CHECK_FLOW, check_champion_drift
    from mlops_guard.pipelines._inference import INFERENCE_FLOW, run_inference
    from mlops_guard.pipelines._training import TRAINING_FLOW, run_training
    from mlops_guard.registry import history as registry_history
    from mlops_guard.registry import promote

    train = as_flow(TRAINING_FLOW, run_training)
    score = as_flow(INFERENCE_FLOW, run_inference)
    check_drift = as_flow(DRIFT_CHECK_FLOW, check_champion_drift)
    began = time.perf_counter()
    settings = GuardSettings(workdir=Path(workdir))
    steps = _Steps(on_step)
    with use_settings(settings):
        log_event("demo.started", workdir=str(settings.workdir))
        files = steps.run(
            "generate data",
            lambda: _make_data(settings.workdir),
            lambda f: {"files": len(f), "note": f"{len(f)} seeded data files"},
        )
        v1 = steps.run(
            "train v1",
            lambda: train(files["train_v1"], settings=settings),
            _trained,
        )
        for i in range(CLEAN_BATCHES):
            steps.run(
                f"score clean batch {i + 1}",
                functools.partial(
                    score,
                    files[f"batch_clean_{i + 1}"],
                    batch_id=f"clean-{i + 1}",
                    settings=settings,
                ),
                _scored,
            )
        steps.run(
            "drift check: clean batch",
            functools.partial(check_drift, batches=1, html=False, settings=settings),
            _drift,
            problem=lambda r: r.dataset_drift,
        )
        steps.run(
            "score corrupted batch",
            functools.partial(
                score, files["batch_corrupted"], batch_id="corrupted", settings=settings
            ),
            _scored,
            problem=lambda r: r.rows_quarantined > 0,
        )
        steps.run(
            "score drifted batch",
            lambda: score(files["batch_drifted"], batch_id="drifted", settings=settings),
            _scored,
        )
        drift = steps.run(
            "drift check: drifted batch",
            functools.partial(check_drift, batches=1, html=True, settings=settings),
            _drift,
            problem=lambda r: r.dataset_drift,
        )
        v2 = steps.run(
            "train v2",
            lambda: train(files["train_v2"], settings=settings),
            _trained,
        )
        steps.run(
            "canary: v2 against champion v1",
            functools.partial(run_canary, files["canary"], settings=settings, actor=_ACTOR),
            _canary,
            problem=lambda r: r.decision != "promoted",
        )
        v3 = steps.run(
            "train v3",
            functools.partial(train, files["train_v3"], settings=settings),
            _trained,
        )
        steps.run(
            "operator promotes v3",
            functools.partial(
                promote,
                settings.model_name,
                v3.version,
                reason="reviewed offline; promoted by hand",
                actor="demo-operator",
                settings=settings,
            ),
            _alias_event,
        )
        steps.run(
            "alert fires: receiver rolls the champion back",
            functools.partial(_alert_rollback, settings, v3.version),
            _alias_event,
        )
        history = [
            event.to_dict() for event in registry_history(settings.model_name, settings=settings)
        ]
        versions = _versions(settings)
        champion = next((v["version"] for v in versions if "champion" in v["aliases"]), None)
        challenger = next((v["version"] for v in versions if "challenger" in v["aliases"]), None)
        artifacts = {
            "run_log": str(settings.runlog_path),
            "metrics_dir": str(settings.metrics_dir),
            "mlflow_store": settings.mlflow_tracking_uri,
            "predictions_dir": str(settings.predictions_dir),
            "quarantine_dir": str(settings.quarantine_dir),
            "drift_report_html": str(drift.html),
            **{f"data_{k}": v for k, v in files.items()},
        }
        log_event("demo.finished", champion_version=champion, v1=v1.version, v2=v2.version)
    return DemoSummary(
        workdir=str(settings.workdir),
        model=settings.model_name,
        champion_version=champion,
        challenger_version=challenger,
        versions=versions,
        alias_history=history,
        stages=steps.steps,
        artifacts=artifacts,
        seconds=time.perf_counter() - began,
    )


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in values.items()}


def _alert_rollback(settings: GuardSettings, bad_version: str) -> Any:
    """What Alertmanager does when the error-rate rule fires: POST its webhook (payload version
    "4", bearer token) to a real receiver on a loopback port. The receiver stores the alert,
    answers 202 and rolls the champion back; returns the alias event that names the alert."""
    import secrets
    import socket
    import threading

    import httpx
    import uvicorn
    from pydantic import SecretStr

    from mlops_guard.alerts import WEBHOOK_PATH, create_app
    from mlops_guard.registry import history

    token = secrets.token_urlsafe(24)
    guarded = settings.model_copy(update={"webhook_token": SecretStr(token)})
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(guard_settings=guarded), log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    fingerprint = secrets.token_hex(8)
    payload = {
        "version": "4",
        "status": "firing",
        "receiver": "mlops-guard-rollback",
        "groupKey": '{}:{alertname="ModelErrorRateHigh"}',
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "ModelErrorRateHigh",
                    "action": "rollback",
                    "model": settings.model_name,
                    "model_version": bad_version,
                    "severity": "critical",
                },
                "annotations": {"summary": f"v{bad_version} fails too many rows in production"},
                "startsAt": datetime.now(UTC).isoformat(),
                "fingerprint": fingerprint,
            }
        ],
    }
    try:
        _wait(lambda: server.started, what="the alert receiver to start")
        answer = httpx.post(
            f"http://127.0.0.1:{port}{WEBHOOK_PATH}",
            json=payload,
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        )
        answer.raise_for_status()

        def rolled_back() -> Any:
            return next(
                (
                    e
                    for e in history(settings.model_name, settings=settings)
                    if e.alert_fingerprint and fingerprint in e.alert_fingerprint
                ),
                None,
            )

        return _wait(rolled_back, what="the receiver to roll the champion back")
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _wait(condition: Callable[[], Any], *, what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := condition()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)
    return found


def _trained(result: Any) -> dict[str, Any]:
    return {
        "version": result.version,
        "alias": result.alias,
        **_rounded(result.metrics),
        "note": f"v{result.version} registered as {result.alias} "
        f"(ROC AUC {result.metrics['test_roc_auc']:.3f} on held-out rows)",
    }


def _canary(report: Any) -> dict[str, Any]:
    last = report.steps[-1] if report.steps else None
    if report.decision == "promoted":
        note = f"v{report.challenger} passed every step and is champion"
    else:
        why = "; ".join(last.verdict.reasons[:1]) if last else "no step judged"
        note = (
            f"v{report.challenger} {report.decision} at step {len(report.steps)} ({why}); "
            f"champion stays v{report.champion}"
        )
    return {
        "note": note,
        "decision": report.decision,
        "champion": report.champion,
        "challenger": report.challenger,
        "steps_judged": len(report.steps),
        "last_verdict": last.verdict.verdict if last else None,
        "last_score": last.verdict.score if last else None,
        "reasons": list(last.verdict.reasons[:3]) if last else [],
    }


def _alias_event(event: Any) -> dict[str, Any]:
    cause = f"alert {event.alert_fingerprint.split('@')[0]}" if event.alert_fingerprint else ""
    return {
        "note": f"{event.alias} v{event.from_version} -> v{event.to_version} by {event.actor}"
        + (f" ({cause})" if cause else ""),
        "alias": event.alias,
        "from_version": event.from_version,
        "to_version": event.to_version,
        "actor": event.actor,
        "alert_fingerprint": event.alert_fingerprint,
    }


def _drift(result: Any) -> dict[str, Any]:
    drifted = list(result.report.drifted_columns)
    total = len(result.report.columns)
    note = (
        f"drift in {len(drifted)}/{total} columns ({', '.join(drifted[:4])}"
        + (", ..." if len(drifted) > 4 else "")
        + ")"
        if result.dataset_drift
        else f"no data set drift ({len(drifted)}/{total} columns moved)"
    )
    return {
        "note": note,
        "model_version": result.model_version,
        "dataset_drift": result.dataset_drift,
        "drift_share": round(result.report.drift_share, 3),
        "drifted": list(result.report.drifted_columns),
        "prediction_drift": result.report.prediction_drift,
        "drifted_outputs": list(result.report.drifted_outputs),
        "html": result.html,
    }


def _scored(result: Any) -> dict[str, Any]:
    detail = {
        "model_version": result.model_version,
        "rows_scored": result.rows_scored,
        "mean_score": round(result.mean_score, 4),
        "predictions": result.predictions_path,
    }
    detail["note"] = f"{result.rows_scored} rows scored by v{result.model_version}"
    if result.rows_quarantined:
        detail["rows_quarantined"] = result.rows_quarantined
        detail["failed"] = result.validation.get("failed", [])
        detail["quarantine"] = result.quarantine_path
        detail["note"] += f", {result.rows_quarantined} quarantined: " + ", ".join(
            detail["failed"]
        ).replace("expect_column_values_to_", "")
    return detail


def run_demo(workdir: Path | None = None) -> DemoSummary:
    """Prepare a fresh working directory and tell the story there, as the orchestrator's
    flow ``mlops-guard-demo`` when one is installed."""
    from mlops_guard._events import as_flow

    path = prepare_workdir(workdir)
    summary: DemoSummary = as_flow(DEMO_FLOW, tell_story)(str(path))
    return summary
