"""A real MLflow registry (SQLite) with two versions of a tiny model, champion promoted twice."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlops_guard.settings import GuardSettings

MODEL = "churn"


def build_registry(workdir: Path, *, model: str = MODEL) -> GuardSettings:
    """Register two versions of a small scikit-learn model and promote 1, then 2.

    Afterwards the champion is version 2 and a rollback moves it to version 1.
    """
    import mlflow
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlops_guard import registry
    from mlops_guard.demo import LABEL, NUMERICAL_FEATURES, SyntheticSpec, make_dataset

    settings = GuardSettings(workdir=workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    uri = settings.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment(
        "alerts-tests", artifact_location=(workdir.resolve() / "mlartifacts").as_uri()
    )
    frame = make_dataset(SyntheticSpec(rows=2000))
    features = list(NUMERICAL_FEATURES)
    for c in (0.1, 1.0):
        pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=200))
        pipeline.fit(frame[features], frame[LABEL])
        with mlflow.start_run(experiment_id=experiment):
            mlflow.sklearn.log_model(
                pipeline,
                name="model",
                registered_model_name=model,
                pip_requirements=["scikit-learn"],
            )
    for version in ("1", "2"):
        registry.promote(model, version, reason="test setup", actor="tests", settings=settings)
    return settings


def copy_registry(template: Path, workdir: Path) -> GuardSettings:
    """A fresh copy of a template registry's database (artifacts stay with the template)."""
    workdir.mkdir(parents=True, exist_ok=True)
    shutil.copy2(template / "mlflow.db", workdir / "mlflow.db")
    return GuardSettings(workdir=workdir)
