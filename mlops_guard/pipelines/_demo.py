"""The demo: the whole story of a guarded pipeline in one command, on embedded defaults.

In a fresh working directory (SQLite MLflow store there, Prefect's local server): train v1 and
make it champion, score clean batches, score a drifted batch, train v2 (challenger). Each step is
a real flow run; the summary lists the steps with their status and the artifacts written.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from prefect import flow

from mlops_guard.errors import ConfigError
from mlops_guard.runlog import log_event
from mlops_guard.settings import GuardSettings, use_settings

__all__ = ["DemoStep", "DemoSummary", "demo_flow", "prepare_workdir", "run_demo"]

# Sizes: big enough for stable statistics, small enough that the demo (cold Prefect database
# included) stays well under the 90 s budget on a 2-core machine.
TRAIN_ROWS = 20_000
BATCH_ROWS = 5_000
CLEAN_BATCHES = 3
# Covariate drift of the drifted batch, in reference standard deviations (0.5 is clearly visible).
DRIFT = {"monthly_charges": 0.8, "tenure_months": -0.6, "support_calls": 0.7, "contract": 0.3}


@dataclass
class DemoStep:
    """One step of the demo and what came of it."""

    name: str
    status: str  # "ok", "problem-found" (a check caught what it should), or "failed"
    seconds: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class DemoSummary:
    """The demo's machine-readable summary (``mlops-guard demo --json``)."""

    workdir: str
    model: str
    champion_version: str | None
    challenger_version: str | None
    versions: list[dict[str, Any]]
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
    def __init__(self) -> None:
        self.steps: list[DemoStep] = []

    def run(
        self, name: str, call: Callable[[], Any], describe: Callable[[Any], dict[str, Any]]
    ) -> Any:
        start = time.perf_counter()
        try:
            result = call()
        except Exception as exc:
            self.steps.append(
                DemoStep(name, "failed", time.perf_counter() - start, {"error": str(exc)})
            )
            raise
        self.steps.append(DemoStep(name, "ok", time.perf_counter() - start, describe(result)))
        return result


def _make_data(workdir: Path) -> dict[str, str]:
    from mlops_guard.data import LABEL, SyntheticSpec, make_dataset, write_table

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
    files["batch_drifted"] = str(write_table(drifted, data / "batch-drifted.parquet"))
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


@flow(name="mlops-guard-demo", log_prints=False, validate_parameters=False)
def demo_flow(workdir: str) -> DemoSummary:
    """Run the demo story in WORKDIR (which should be fresh: see :func:`prepare_workdir`)."""
    from mlops_guard.pipelines._inference import inference_flow
    from mlops_guard.pipelines._training import training_flow

    began = time.perf_counter()
    settings = GuardSettings(workdir=Path(workdir))
    steps = _Steps()
    with use_settings(settings):
        log_event("demo.started", workdir=str(settings.workdir))
        files = steps.run(
            "generate data", lambda: _make_data(settings.workdir), lambda f: {"files": len(f)}
        )
        v1 = steps.run(
            "train v1",
            lambda: training_flow(files["train_v1"], settings=settings),
            lambda r: {"version": r.version, "alias": r.alias, **_rounded(r.metrics)},
        )
        for i in range(CLEAN_BATCHES):
            steps.run(
                f"score clean batch {i + 1}",
                functools.partial(
                    inference_flow,
                    files[f"batch_clean_{i + 1}"],
                    batch_id=f"clean-{i + 1}",
                    settings=settings,
                ),
                _scored,
            )
        steps.run(
            "score drifted batch",
            lambda: inference_flow(files["batch_drifted"], batch_id="drifted", settings=settings),
            _scored,
        )
        v2 = steps.run(
            "train v2",
            lambda: training_flow(files["train_v2"], settings=settings),
            lambda r: {"version": r.version, "alias": r.alias, **_rounded(r.metrics)},
        )
        versions = _versions(settings)
        champion = next((v["version"] for v in versions if "champion" in v["aliases"]), None)
        challenger = next((v["version"] for v in versions if "challenger" in v["aliases"]), None)
        artifacts = {
            "run_log": str(settings.runlog_path),
            "metrics_textfile": str(settings.metrics_textfile),
            "mlflow_store": settings.mlflow_tracking_uri,
            "predictions_dir": str(settings.predictions_dir),
            **{f"data_{k}": v for k, v in files.items()},
        }
        log_event("demo.finished", champion_version=champion, v1=v1.version, v2=v2.version)
    return DemoSummary(
        workdir=str(settings.workdir),
        model=settings.model_name,
        champion_version=champion,
        challenger_version=challenger,
        versions=versions,
        stages=steps.steps,
        artifacts=artifacts,
        seconds=time.perf_counter() - began,
    )


def _rounded(values: dict[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in values.items()}


def _scored(result: Any) -> dict[str, Any]:
    return {
        "model_version": result.model_version,
        "rows": result.rows_scored,
        "mean_score": round(result.mean_score, 4),
        "predictions": result.predictions_path,
    }


def run_demo(workdir: Path | None = None) -> DemoSummary:
    """Prepare a fresh working directory and run :func:`demo_flow` in it."""
    path = prepare_workdir(workdir)
    summary: DemoSummary = demo_flow(str(path))
    return summary
