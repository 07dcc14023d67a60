"""The scheduled drift check against a real MLflow registry (SQLite) and a real Prefect server.

The champion is registered with MLflow directly (a run holding the profile artifact and the
reference quality, a model version, the ``champion`` alias), as the training flow does; the
scored batches are real files in ``<workdir>/predictions/`` scored by a real scikit-learn model.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_guard.data import FEATURES, LABEL, NUMERICAL_FEATURES, make_dataset, write_table
from mlops_guard.drift import (
    DRIFT_EVENT,
    PROFILE_ARTIFACT_PATH,
    build_profile,
    load_champion_profile,
    run_drift_check,
)
from mlops_guard.errors import DataNotFound, ModelNotFound, ProfileError
from mlops_guard.metrics import GuardMetrics
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings
from tests._prefect import read_events, wait_for
from tests.drift._helpers import textfile_samples

_DRIFT = dict.fromkeys(NUMERICAL_FEATURES[:8], 0.8)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    # One SQLite store for the module: MLflow's schema migrations take seconds per new store.
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def model() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = make_dataset(rows=4000, seed=100)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return pipeline.fit(train[list(NUMERICAL_FEATURES)], train[LABEL])


def _score(model: Any, frame: pd.DataFrame, version: str, batch: str) -> pd.DataFrame:
    out = frame.copy()
    out["score"] = model.predict_proba(frame[list(NUMERICAL_FEATURES)])[:, 1]
    out["prediction"] = (out["score"] >= 0.5).astype("int64")
    out["model_version"] = version
    out["batch_id"] = batch
    out["scored_at"] = pd.Timestamp.now(tz="UTC")
    return out


def register_champion(
    settings: GuardSettings, name: str, model: Any, *, with_profile: bool = True
) -> tuple[str, str]:
    """A training run with the profile artifact, a version, the champion alias."""
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.metrics import roc_auc_score

    uri = settings.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = f"exp-{name}"
    artifacts = (settings.workdir / "mlartifacts").resolve().as_uri()
    experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
    reference = _score(model, make_dataset(rows=5000, seed=101), "1", "train")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metric("test_roc_auc", roc_auc_score(reference[LABEL], reference["score"]))
        if with_profile:
            path = build_profile(reference).save(settings.workdir / "tmp" / "profile.json")
            mlflow.log_artifact(str(path), artifact_path=str(Path(PROFILE_ARTIFACT_PATH).parent))
    client.create_registered_model(name)
    version = client.create_model_version(
        name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    )
    client.set_registered_model_alias(name, "champion", version.version)
    return str(version.version), run.info.run_id


def write_batches(
    settings: GuardSettings, name: str, model: Any, specs: list[dict[str, Any]]
) -> list[Path]:
    paths = []
    for i, spec in enumerate(specs):
        batch = f"b{i}"
        frame = _score(model, make_dataset(rows=1500, seed=200 + i, **spec), "1", batch)
        path = write_table(frame, settings.predictions_dir / f"{name}-v1-{batch}.parquet")
        # Distinct modification times, oldest first, whatever the file system's resolution.
        os.utime(path, ns=(1_700_000_000_000_000_000 + i * 10**9,) * 2)
        paths.append(path)
    return paths


@pytest.fixture
def check_settings(workdir: Path, tracking_uri: str) -> GuardSettings:
    return GuardSettings(workdir=workdir, tracking_uri=tracking_uri)


@pytest.mark.slow
def test_drifted_batches_are_detected_logged_counted_and_announced(
    prefect_server: str, check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    version, _run = register_champion(check_settings, name, model)
    write_batches(check_settings, name, model, [{}, {}, {"drift": _DRIFT}, {"drift": _DRIFT}])

    result = run_drift_check(settings=check_settings, model=name, batches=2)

    assert result.dataset_drift
    assert result.model_version == version
    assert [Path(p).name for p in result.batches] == [
        f"{name}-v1-b2.parquet",
        f"{name}-v1-b3.parquet",
    ]
    assert result.rows == 3000
    assert "age" in result.report.columns
    assert {"score", "prediction"} == set(result.report.outputs)
    assert not {"score", "prediction"} & set(result.report.columns)
    assert result.report.columns["age"].drifted
    assert result.event_emitted

    events = [e for e in read_runlog(check_settings.runlog_path) if e["event"] == "drift.checked"]
    assert len(events) == 1
    assert events[0]["dataset_drift"] is True
    assert events[0]["model"] == name
    assert events[0]["model_version"] == version
    assert "age" in events[0]["drifted_columns"]

    assert metrics.sample("mlops_guard_dataset_drift", {"model": name}) == 1.0
    assert metrics.sample("mlops_guard_drift_share", {"model": name}) == pytest.approx(
        result.report.drift_share
    )
    age = result.report.columns["age"]
    assert metrics.sample(
        "mlops_guard_drift_column_statistic", {"model": name, "column": "age", "test": age.test}
    ) == pytest.approx(age.statistic)
    flushed = textfile_samples(check_settings.workdir, "mlops_guard_dataset_drift")
    assert [value for labels, value in flushed if labels.get("model") == name] == [1.0]

    sent = wait_for(
        lambda: [
            e for e in read_events(DRIFT_EVENT) if e.resource.id == f"mlops_guard.model.{name}"
        ]
    )
    assert sent[0].payload["model_version"] == version
    assert "age" in sent[0].payload["drifted_columns"]


def test_clean_batches_pass_and_labels_give_a_concept_check(
    check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    register_champion(check_settings, name, model)
    write_batches(check_settings, name, model, [{}, {}])
    result = run_drift_check(settings=check_settings, model=name, batches=2)
    assert not result.dataset_drift
    assert not result.event_emitted
    assert metrics.sample("mlops_guard_dataset_drift", {"model": name}) == 0.0
    assert result.concept is not None
    assert not result.concept.significant

    # A month whose labels follow another relationship: the same inputs, a worse model.
    write_batches(check_settings, name, model, [{"concept_drift": 1.0}] * 3)
    drifted = run_drift_check(settings=check_settings, model=name, batches=3)
    assert drifted.concept is not None
    assert drifted.concept.significant
    assert metrics.sample("mlops_guard_concept_drift", {"model": name}) == 1.0


def test_a_failing_event_sink_is_counted_not_raised(
    check_settings: GuardSettings,
    metrics: GuardMetrics,
    model: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import prefect.events

    def broken(*args: Any, **kwargs: Any) -> None:
        # Fake: a Prefect API that fails mid-call cannot be produced on demand here.
        raise ConnectionError("Prefect API unreachable")

    monkeypatch.setattr(prefect.events, "emit_event", broken)
    name = f"churn-{uuid.uuid4().hex[:6]}"
    register_champion(check_settings, name, model)
    write_batches(check_settings, name, model, [{"drift": _DRIFT}])
    result = run_drift_check(settings=check_settings, model=name, batches=1)
    assert result.dataset_drift
    assert not result.event_emitted
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "prefect_events"}) == 1.0


def test_missing_champion_batches_or_profile_are_clear_errors(
    check_settings: GuardSettings, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ModelNotFound):
        load_champion_profile(name, check_settings)
    register_champion(check_settings, name, model, with_profile=False)
    with pytest.raises(ProfileError, match="no drift profile"):
        load_champion_profile(name, check_settings)
    with pytest.raises(DataNotFound, match="no scored batches"):
        run_drift_check(settings=check_settings, model=name)


@pytest.mark.slow
def test_drift_check_flow_writes_and_attaches_the_html_report(
    prefect_server: str, check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    from mlflow.tracking import MlflowClient

    from mlops_guard.drift import drift_check_flow

    name = f"churn-{uuid.uuid4().hex[:6]}"
    _version, run_id = register_champion(check_settings, name, model)
    write_batches(check_settings, name, model, [{"drift": _DRIFT}])
    result = drift_check_flow(model=name, batches=1, settings=check_settings)
    assert result.dataset_drift
    assert result.html is not None
    assert Path(result.html).is_file()
    assert Path(result.html).parent == check_settings.artifacts_dir / "drift"
    client = MlflowClient(tracking_uri=check_settings.mlflow_tracking_uri)
    attached = [a.path for a in client.list_artifacts(run_id, "drift")]
    assert attached == [f"drift/{Path(result.html).name}"]
    assert np.isfinite(result.report.drift_share)
    assert set(FEATURES) - {"contract", "payment_method", "region"} <= set(result.report.columns)
