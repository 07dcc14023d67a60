"""`mlops-guard serve` and `canary start` refuse bad input with one line and exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops_guard.cli import main


def test_serve_without_a_champion_exits_2_naming_the_fix(
    tmp_path: Path, mlflow_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copyfile(mlflow_template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["serve", "nosuch", "--tracking-uri", uri, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "nosuch" in err
    assert "Traceback" not in err
    assert main(["serve", "bad/name", "--tracking-uri", uri]) == 2


def test_canary_start_checks_its_share_and_the_challenger(
    tmp_path: Path, mlflow_template: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlflow import MlflowClient

    shutil.copyfile(mlflow_template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri, registry_uri=uri).create_registered_model("m")
    assert main(["canary", "start", "m", "--share", "0", "--tracking-uri", uri]) == 2
    assert "--share" in capsys.readouterr().err
    assert main(["canary", "start", "m", "--share", "0.1", "--tracking-uri", uri]) == 2
    assert "no challenger" in capsys.readouterr().err
