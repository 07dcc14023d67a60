"""Fixtures of the canary tests: real scikit-learn models registered in a real MLflow store.

Three versions of ``churn`` are trained once per session on the synthetic data set: v1 and v2
on clean data (different samples, same quality), v3 on shuffled labels (the worse challenger).
Each has the contract the training flow stores (features, label, id and timestamp columns).
Each test gets a copy of the store's database, so alias moves do not leak between tests; the
model artifacts stay in the session directory (read-only).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_guard.settings import GuardSettings
from tests.registry.conftest import _migrated_store

__all__ = ["_migrated_store"]  # a fixture: imported so this directory can use it

MODEL = "churn"


def _pipeline(seed: int) -> object:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlops_guard.demo import CATEGORICAL_FEATURES, NUMERICAL_FEATURES

    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), list(NUMERICAL_FEATURES)),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES)),
        ]
    )
    return Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500, random_state=seed))])


@pytest.fixture(scope="session")
def _trained_store(tmp_path_factory: pytest.TempPathFactory, _migrated_store: Path) -> Path:
    import mlflow
    import mlflow.sklearn
    import numpy as np
    from mlflow.models import infer_signature

    from mlops_guard.contract import infer_contract, save_contract
    from mlops_guard.demo import (
        FEATURES,
        ID_COLUMN,
        LABEL,
        TIMESTAMP_COLUMN,
        SyntheticSpec,
        make_dataset,
    )

    directory = tmp_path_factory.mktemp("canary-store")
    # Start from the registry tests' migrated schema: the migration alone takes seconds.
    shutil.copyfile(_migrated_store, directory / "mlflow.db")
    uri = f"sqlite:///{(directory / 'mlflow.db').as_posix()}"
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # The store's own settings: the tracking URI given, not read from the environment.
    store = GuardSettings(workdir=directory, tracking_uri=uri)
    experiment = mlflow.create_experiment(
        "canary-tests", artifact_location=(directory / "artifacts").as_uri()
    )
    for version, (seed, shuffle) in enumerate([(1, False), (2, False), (3, True)], start=1):
        df = make_dataset(SyntheticSpec(rows=4000, seed=seed))
        x, y = df[list(FEATURES)], df[LABEL].to_numpy()
        if shuffle:
            y = np.random.default_rng(seed).permutation(y)
        model = _pipeline(seed)
        model.fit(x, y)  # type: ignore[attr-defined]
        with mlflow.start_run(experiment_id=experiment, run_name=f"v{version}") as run:
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=MODEL,
                pip_requirements=["scikit-learn"],
                signature=infer_signature(x.head(), model.predict_proba(x.head())),  # type: ignore[attr-defined]
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


@pytest.fixture
def store(settings: GuardSettings, _trained_store: Path) -> GuardSettings:
    """This test's copy of the trained store (versions 1, 2 good; 3 worse; no aliases)."""
    shutil.copyfile(_trained_store, settings.workdir / "mlflow.db")
    return settings


@pytest.fixture
def batches(tmp_path: Path) -> Callable[..., list[Path]]:
    """Labelled inference batches written as Parquet, fresh seeds for each batch."""

    def make(count: int, rows: int = 2000, seed: int = 100) -> list[Path]:
        from mlops_guard.data import write_table
        from mlops_guard.demo import SyntheticSpec, make_dataset

        return [
            write_table(
                make_dataset(SyntheticSpec(rows=rows, seed=seed + i)),
                tmp_path / f"batch-{seed + i}.parquet",
            )
            for i in range(count)
        ]

    return make
