"""A drill's runs never reach the environment's registry or Pushgateway."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_guard.drills._fixture import settings_for


def test_runs_use_their_own_store_whatever_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_TRACKING_URI", "http://team-mlflow:5000")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team-mlflow:5000")
    monkeypatch.setenv("MLOPS_GUARD_PUSHGATEWAY_URL", "http://team-gateway:9091")
    settings = settings_for(tmp_path / "run")
    assert settings.mlflow_tracking_uri == f"sqlite:///{(tmp_path / 'run').resolve()}/mlflow.db"
    assert settings.pushgateway_url is None
