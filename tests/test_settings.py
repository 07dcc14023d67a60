from __future__ import annotations

from pathlib import Path

import pytest

from mlops_guard.errors import ConfigError
from mlops_guard.settings import GuardSettings, active_settings, load_settings, use_settings


def test_environment_prefix(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLOPS_GUARD_WORKDIR", str(tmp_path))
    monkeypatch.setenv("MLOPS_GUARD_MODEL_NAME", "fraud")
    monkeypatch.setenv("MLOPS_GUARD_WEBHOOK_TOKEN", "s3cret")
    settings = GuardSettings()
    assert settings.workdir == tmp_path
    assert settings.model_name == "fraud"
    assert settings.webhook_token is not None
    assert "s3cret" not in repr(settings)  # secrets never reach logs


def test_default_tracking_uri_is_sqlite_in_the_workdir(tmp_path: Path) -> None:
    settings = GuardSettings(workdir=tmp_path)
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert GuardSettings(
        workdir=tmp_path, tracking_uri="http://127.0.0.1:5000"
    ).mlflow_tracking_uri == ("http://127.0.0.1:5000")


def test_workdir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        GuardSettings(workdir=file)


def test_bad_value_becomes_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_GUARD_TRAINING_VALIDATION_POLICY", "sometimes")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "training_validation_policy" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_use_settings_binds_for_the_block(tmp_path: Path) -> None:
    bound = GuardSettings(workdir=tmp_path / "bound")
    with use_settings(bound):
        assert active_settings() is bound
    assert active_settings() is not bound
