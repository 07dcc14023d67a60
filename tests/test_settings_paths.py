"""One settings path: every concern honours use_settings() when no settings are passed, and
every settings class turns a bad environment value into one ConfigError (exit 2 at the CLI)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from mlops_guard._stage import StageRecorder
from mlops_guard.alerts._settings import AlertsSettings
from mlops_guard.canary._settings import CanarySettings
from mlops_guard.cli import main
from mlops_guard.demo import make_dataset
from mlops_guard.drift._settings import DriftSettings
from mlops_guard.errors import ConfigError, ModelNotFound
from mlops_guard.monitors import CheckpointMonitor, StragglerDetector
from mlops_guard.monitors._settings import MonitorSettings
from mlops_guard.quality import check_quality
from mlops_guard.quality._settings import QualitySettings
from mlops_guard.registry import history
from mlops_guard.registry._settings import RegistrySettings
from mlops_guard.settings import AirflowSettings, GuardSettings, resolve_settings, use_settings
from mlops_guard.validation._settings import ValidationSettings

SETTINGS_CLASSES = [
    GuardSettings,
    ValidationSettings,
    DriftSettings,
    QualitySettings,
    RegistrySettings,
    CanarySettings,
    AlertsSettings,
    MonitorSettings,
    AirflowSettings,
]


def _numeric_field(cls: type[Any]) -> str:
    for name, field in cls.model_fields.items():
        if field.annotation in (int, float) and not field.validation_alias:
            return name
    raise AssertionError(f"{cls.__name__} has no numeric field")


@pytest.mark.parametrize("cls", SETTINGS_CLASSES, ids=lambda c: c.__name__)
def test_a_bad_environment_value_is_one_config_error_naming_the_variable(
    cls: type[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    field = _numeric_field(cls)
    variable = f"{cls.model_config['env_prefix']}{field}".upper()
    monkeypatch.setenv(variable, "a lot")
    with pytest.raises(ConfigError) as caught:
        cls()
    assert variable in str(caught.value)
    assert "'a lot'" in str(caught.value)
    assert "\n" not in str(caught.value)
    assert caught.value.exit_code == 2


def test_airflow_secrets_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_GUARD_AIRFLOW_PASSWORD", "hunter2-airflow")
    monkeypatch.setenv("MLOPS_GUARD_AIRFLOW_TOKEN", "jwt-airflow-secret")
    settings = AirflowSettings()
    assert settings.password is not None
    assert settings.password.get_secret_value() == "hunter2-airflow"
    shown = repr(settings) + str(settings.model_dump())
    assert "hunter2-airflow" not in shown
    assert "jwt-airflow-secret" not in shown
    monkeypatch.setenv("MLOPS_GUARD_AIRFLOW_API_URL", "localhost:8080")
    with pytest.raises(ConfigError, match="MLOPS_GUARD_AIRFLOW_API_URL"):
        AirflowSettings()


def test_a_bad_canary_setting_is_exit_2_at_the_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    samples = {"latency": [0.1 + i / 1000 for i in range(60)]}
    for name in ("baseline", "canary"):
        (tmp_path / f"{name}.json").write_text(json.dumps(samples))
    monkeypatch.setenv("MLOPS_GUARD_CANARY_CONFIDENCE", "7")
    code = main(["canary", "judge", str(tmp_path / "baseline.json"), str(tmp_path / "canary.json")])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "MLOPS_GUARD_CANARY_CONFIDENCE = '7'" in line


@pytest.fixture
def bound(tmp_path: Path, workdir: Path, mlflow_template: Path) -> GuardSettings:
    """Settings bound with use_settings() in a test, with their own store; the environment
    (``workdir``) points at another."""
    path = tmp_path / "bound"
    path.mkdir()
    shutil.copyfile(mlflow_template, path / "mlflow.db")
    return GuardSettings(workdir=path)


def test_resolution_order_is_argument_then_bound_then_environment(
    bound: GuardSettings, workdir: Path
) -> None:
    explicit = GuardSettings(workdir=bound.workdir / "explicit")
    with use_settings(bound):
        assert resolve_settings(explicit) is explicit
        assert resolve_settings() is bound
    assert resolve_settings().workdir == workdir


def test_registry_uses_the_bound_settings(bound: GuardSettings) -> None:
    with use_settings(bound), pytest.raises(ModelNotFound) as caught:
        history("nope")
    assert str(bound.workdir / "mlflow.db") in str(caught.value)


def test_quality_uses_the_bound_settings(bound: GuardSettings) -> None:
    with use_settings(bound), pytest.raises(ModelNotFound) as caught:
        check_quality("nope", make_dataset(rows=50, seed=1))
    assert str(bound.workdir / "mlflow.db") in str(caught.value)


def test_monitors_and_stages_use_the_bound_settings(bound: GuardSettings) -> None:
    with use_settings(bound):
        assert CheckpointMonitor(job="t").guard_settings is bound
        assert StragglerDetector(job="t").guard_settings is bound
        assert StageRecorder("load").settings is bound


def test_the_receiver_uses_the_bound_settings(bound: GuardSettings) -> None:
    from mlops_guard.alerts import create_app

    with use_settings(bound):
        app = create_app()
    try:
        assert Path(app.state.store.path).is_relative_to(bound.workdir)
    finally:
        app.state.store.close()


def test_the_drift_check_uses_the_bound_settings(bound: GuardSettings) -> None:
    from mlops_guard.drift import run_drift_check

    with use_settings(bound), pytest.raises(ModelNotFound) as caught:
        run_drift_check(model="nope")
    assert str(bound.workdir / "mlflow.db") in str(caught.value)
