"""Fixtures of the registry tests: a real MLflow SQLite store with versions of a model.

Versions are created with ``create_model_version`` (no model artifacts): the registry logic
never loads a model, and a real ``log_model`` costs seconds per version. The store's schema
migration (about 3 s) runs once per session; each test gets a copy of the migrated file.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_guard.settings import GuardSettings

MODEL = "churn"


@pytest.fixture(scope="session")
def _migrated_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow import MlflowClient

    directory = tmp_path_factory.mktemp("mlflow-template")
    path = directory / "mlflow.db"
    uri = f"sqlite:///{path.as_posix()}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).search_registered_models()
    return path


@pytest.fixture
def make_model(settings: GuardSettings, _migrated_store: Path) -> Callable[..., list[str]]:
    """Create a registered model with ``versions`` versions in this test's store."""
    target = settings.workdir / "mlflow.db"
    if not target.exists():
        shutil.copyfile(_migrated_store, target)

    def make(name: str = MODEL, versions: int = 3) -> list[str]:
        from mlflow import MlflowClient

        uri = settings.mlflow_tracking_uri
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        client.create_registered_model(name)
        return [
            client.create_model_version(name, source=f"{settings.workdir}/models/{i}").version
            for i in range(versions)
        ]

    return make
