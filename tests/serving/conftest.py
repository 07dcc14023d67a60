"""Fixtures of the serving tests: real scikit-learn models in a real MLflow store, and one real
scoring server on loopback per test module.

Three versions of ``churn`` are trained once per session on the synthetic data set: v1 and v2
on clean data (different seeds), v3 on shuffled labels (a worse model). Each carries the
contract and the drift reference profile (features plus the model's ``score``) that
``mlops-guard register`` stores. Each module gets its own copy of the store.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.demo import NUMERICAL_FEATURES
from mlops_guard.settings import GuardSettings
from tests.registry.conftest import _migrated_store

__all__ = ["_migrated_store"]  # a fixture: imported so this directory can use it

MODEL = "churn"


#: The models' features: the synthetic data's numerical columns. A small model keeps the
#: load tests' thousands of requests cheap; the categorical path is covered by the payload
#: tests.
FEATURES = NUMERICAL_FEATURES


def _pipeline(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return Pipeline(
        [("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=500, random_state=seed))]
    )


def train_store(directory: Path, migrated: Path, rows: int = 3000) -> Path:
    """Train and register v1-v3 of ``churn`` into ``directory/mlflow.db``; returns the file."""
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature

    from mlops_guard.contract import infer_contract, save_contract
    from mlops_guard.demo import (
        ID_COLUMN,
        LABEL,
        TIMESTAMP_COLUMN,
        SyntheticSpec,
        make_dataset,
    )
    from mlops_guard.drift import PROFILE_ARTIFACT_PATH, build_profile

    shutil.copyfile(migrated, directory / "mlflow.db")
    uri = f"sqlite:///{(directory / 'mlflow.db').as_posix()}"
    store = GuardSettings(workdir=directory, tracking_uri=uri)
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment(
        "serving-tests", artifact_location=(directory / "artifacts").as_uri()
    )
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for version, (seed, shuffle) in enumerate([(1, False), (2, False), (3, True)], start=1):
        df = make_dataset(SyntheticSpec(rows=rows, seed=seed))
        x, y = df[list(FEATURES)], df[LABEL].to_numpy()
        if shuffle:
            y = np.random.default_rng(seed).permutation(y)
        model = _pipeline(seed)
        model.fit(x, y)
        with mlflow.start_run(experiment_id=experiment, run_name=f"v{version}") as run:
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=MODEL,
                pip_requirements=["scikit-learn"],
                signature=infer_signature(x.head(), model.predict(x.head())),
            )
            scored = x.copy()
            scored["score"] = model.predict_proba(x)[:, 1]
            profile_path = directory / f"v{version}" / Path(PROFILE_ARTIFACT_PATH).name
            profile_path.parent.mkdir()
            build_profile(scored).save(profile_path)
            client.log_artifact(
                run.info.run_id, str(profile_path), str(Path(PROFILE_ARTIFACT_PATH).parent)
            )
        contract = infer_contract(
            label=LABEL,
            task="binary",
            reference=df,
            features=list(FEATURES),
            id_column=ID_COLUMN,
            timestamp_column=TIMESTAMP_COLUMN,
        )
        save_contract(
            contract, model=MODEL, version=str(version), run_id=run.info.run_id, settings=store
        )
    return directory / "mlflow.db"


@pytest.fixture(scope="session")
def trained_store(tmp_path_factory: pytest.TempPathFactory, _migrated_store: Path) -> Path:
    return train_store(tmp_path_factory.mktemp("serving-store"), _migrated_store)


@dataclass
class Served:
    """A running server and the store behind it."""

    url: str
    server: Any
    settings: GuardSettings
    running: Any
    spans: Any = None


def start_served(
    directory: Path,
    trained: Path,
    champion: str = "1",
    clock: Any = None,
    **config: Any,
) -> tuple[Served, Any]:
    """A server on a copy of ``trained`` with ``champion`` promoted, on a free loopback port;
    ``config`` are :class:`ServingSettings` fields."""
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.registry import promote
    from mlops_guard.serving import ServingSettings, create_server, start_in_thread

    directory.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(trained, directory / "mlflow.db")
    uri = f"sqlite:///{(directory / 'mlflow.db').as_posix()}"
    settings = GuardSettings(workdir=directory, tracking_uri=uri)
    promote(MODEL, champion, reason="first champion", actor="test", settings=settings)
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    options: dict[str, Any] = {"poll_seconds": 0.25, "port": 0, **config}
    spans = InMemorySpanExporter()
    server = create_server(
        MODEL,
        settings=settings,
        config=ServingSettings(**options),
        metrics=GuardMetrics(),
        span_processors=[SimpleSpanProcessor(spans)],
        clock=clock,
    )
    running = start_in_thread(server)
    return Served(running.url, server, settings, running, spans), running


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, trained_store: Path) -> Iterator[Served]:
    """One scoring server for the module, serving churn@champion (v1 at the start)."""
    found, running = start_served(
        tmp_path_factory.mktemp("served"),
        trained_store,
        reload_token="reload-secret",
        canary_judge=False,
        max_rows=500,
        max_body_bytes=256 * 1024,
        drift_every_requests=5,
        drift_window_rows=1000,
        drift_min_rows=500,
        log_sample_inputs=0.0,
    )
    yield found
    running.stop()
