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


@pytest.fixture
def no_tracking_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Neither tracking variable set (MLflow's own set_tracking_uri exports the standard one)."""
    for name in ("MLOPS_GUARD_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_default_tracking_uri_is_sqlite_in_the_workdir(
    tmp_path: Path, no_tracking_env: pytest.MonkeyPatch
) -> None:
    settings = GuardSettings(workdir=tmp_path)
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"
    assert GuardSettings(
        workdir=tmp_path, tracking_uri="http://127.0.0.1:5000"
    ).mlflow_tracking_uri == ("http://127.0.0.1:5000")


def test_tracking_uri_follows_mlflows_standard_variable(
    tmp_path: Path, no_tracking_env: pytest.MonkeyPatch
) -> None:
    team = "http://mlflow.team.example:5000"
    no_tracking_env.setenv("MLFLOW_TRACKING_URI", team)
    assert GuardSettings(workdir=tmp_path).mlflow_tracking_uri == team
    assert load_settings(workdir=tmp_path).mlflow_tracking_uri == team

    ours = "http://mlflow.guard.example:5000"
    no_tracking_env.setenv("MLOPS_GUARD_TRACKING_URI", ours)
    assert GuardSettings(workdir=tmp_path).mlflow_tracking_uri == ours

    option = "http://127.0.0.1:5001"
    assert load_settings(workdir=tmp_path, tracking_uri=option).mlflow_tracking_uri == option
    assert GuardSettings(workdir=tmp_path, tracking_uri=option).mlflow_tracking_uri == option


def test_tracking_uri_is_read_when_the_settings_are_built(
    tmp_path: Path, no_tracking_env: pytest.MonkeyPatch
) -> None:
    settings = GuardSettings(workdir=tmp_path)
    # mlflow.set_tracking_uri exports the variable: settings already built keep their store.
    no_tracking_env.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/mlflow.db")
    assert settings.mlflow_tracking_uri == f"sqlite:///{tmp_path.resolve()}/mlflow.db"


def test_tracking_uri_resolution_is_documented() -> None:
    description = GuardSettings.model_fields["tracking_uri"].description or ""
    for name in ("MLOPS_GUARD_TRACKING_URI", "MLFLOW_TRACKING_URI", "SQLite"):
        assert name in description


def test_each_flow_has_a_prom_file_of_its_own(tmp_path: Path) -> None:
    settings = GuardSettings(workdir=tmp_path)
    inference = settings.metrics_textfile("mlops-guard-inference")
    drift = settings.metrics_textfile("drift_check")
    assert inference == tmp_path / "metrics" / "mlops_guard-mlops-guard-inference.prom"
    assert drift == settings.metrics_dir / "mlops_guard-drift_check.prom"
    assert settings.metrics_textfile() == settings.metrics_dir / "mlops_guard.prom"
    assert len({inference, drift, settings.metrics_textfile()}) == 3


@pytest.mark.parametrize("flow", ["../../etc/passwd", "nightly drift/eu", ".hidden", "a b", "a_b"])
def test_flow_names_are_made_safe_file_names(tmp_path: Path, flow: str) -> None:
    path = GuardSettings(workdir=tmp_path).metrics_textfile(flow)
    assert path.parent == tmp_path / "metrics"
    assert path.name.endswith(".prom")  # node_exporter's textfile collector reads only *.prom
    assert not path.name.startswith(".")
    assert all(c.isalnum() or c in "_-." for c in path.name)


def test_names_that_differ_only_in_unsafe_characters_keep_separate_files(
    tmp_path: Path,
) -> None:
    settings = GuardSettings(workdir=tmp_path)
    flows = ["a b", "a/b", "a_b", "a.b"]
    assert len({settings.metrics_textfile(flow) for flow in flows}) == len(flows)


def test_workdir_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    file = tmp_path / "f"
    file.write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        GuardSettings(workdir=file)


def test_bad_value_becomes_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_GUARD_TRAINING_VALIDATION_POLICY", "sometimes")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "MLOPS_GUARD_TRAINING_VALIDATION_POLICY = 'sometimes'" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_use_settings_binds_for_the_block(tmp_path: Path) -> None:
    bound = GuardSettings(workdir=tmp_path / "bound")
    with use_settings(bound):
        assert active_settings() is bound
    assert active_settings() is not bound
