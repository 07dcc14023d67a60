"""The alert receiver's ``airflow`` mode against a real Airflow 3.3: API server (simple auth
manager, JWT from /auth/token), scheduler with the LocalExecutor and DAG processor on loopback,
the rollback DAG of deployments/airflow, and a real MLflow registry (SQLite) the DAG's task
process and this process share.

The alert goes through the receiver's own path: the webhook is stored in the inbox and the
processor acts on it (``run_once``, as its thread does) with the handler the settings name.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from pydantic import SecretStr

from mlops_guard import registry
from mlops_guard.alerts import (
    AlertProcessor,
    AlertsSettings,
    AlertStore,
    WebhookPayload,
    default_handler,
)
from mlops_guard.errors import ConfigError
from mlops_guard.metrics import GuardMetrics
from mlops_guard.settings import AirflowSettings, GuardSettings
from tests.alerts._helpers import alert, payload
from tests.alerts._models import MODEL
from tests.integrations.airflow.conftest import PASSWORD, USER, AirflowServices

pytestmark = pytest.mark.slow


@pytest.fixture
def shared_registry(
    airflow_services: AirflowServices, registry_template: Path, monkeypatch: pytest.MonkeyPatch
) -> GuardSettings:
    """The registry in the services' working directory, champion 2 (a fresh copy)."""
    workdir = airflow_services.workdir
    shutil.copy2(registry_template / "mlflow.db", workdir / "mlflow.db")
    monkeypatch.setenv("MLOPS_GUARD_AIRFLOW_API_URL", airflow_services.url)
    monkeypatch.setenv("MLOPS_GUARD_AIRFLOW_USERNAME", USER)
    monkeypatch.setenv("MLOPS_GUARD_AIRFLOW_PASSWORD", PASSWORD)
    # Three Airflow processes and SQLite on a loaded 2-core machine answer slowly at times.
    monkeypatch.setenv("MLOPS_GUARD_AIRFLOW_REQUEST_TIMEOUT_SECONDS", "60")
    return GuardSettings(workdir=workdir)


def _processor(tmp_path: Path, guard: GuardSettings, **overrides: object) -> AlertProcessor:
    settings = AlertsSettings(
        rollback_mode="airflow", store=tmp_path / "inbox.sqlite", max_attempts=2, **overrides
    )
    store = AlertStore(settings.store_path(guard.workdir))
    return AlertProcessor(
        store,
        default_handler(guard, settings),
        settings=settings,
        guard_settings=guard,
        metrics=GuardMetrics(),
    )


def test_an_alert_rolls_back_through_the_rollback_dag(
    shared_registry: GuardSettings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    processor = _processor(tmp_path, shared_registry)
    body = WebhookPayload.model_validate(payload(alert(model_version="2")))
    processor.store.add(body.alerts, receiver="r")
    row = processor.run_once()
    assert row is not None
    assert row.state == "done", row.last_error
    result = row.result or {}
    assert result["dag_id"] == "mlops_guard_rollback"
    assert result["state"] == "success"
    assert (result["from_version"], result["to_version"]) == ("2", "1")
    # Read back from the registry the DAG's task moved, in another process.
    assert registry.get_champion(MODEL, settings=shared_registry) == "1"
    (event,) = [
        e for e in registry.history(MODEL, settings=shared_registry) if e.action == "rollback"
    ]
    assert event.actor == "airflow:mlops_guard_rollback.rollback"
    assert event.alert_fingerprint == f"{row.fingerprint}@{row.starts_at}"
    # The password never reaches a log line.
    assert PASSWORD not in caplog.text
    assert PASSWORD not in json.dumps(result)

    # The same incident again (a re-fired alert stored anew): the DAG finds it handled.
    again = _processor(tmp_path / "again", shared_registry)
    again.store.add(body.alerts, receiver="r")
    second = again.run_once()
    assert second is not None
    assert second.state == "done"
    assert registry.get_champion(MODEL, settings=shared_registry) == "1"
    assert (
        len(
            [e for e in registry.history(MODEL, settings=shared_registry) if e.action == "rollback"]
        )
        == 1
    )


def test_an_unknown_dag_fails_the_alert_at_once(
    shared_registry: GuardSettings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_AIRFLOW_ROLLBACK_DAG_ID", "no_such_dag")
    processor = _processor(tmp_path, shared_registry)
    processor.store.add(WebhookPayload.model_validate(payload()).alerts, receiver="r")
    row = processor.run_once()
    assert row is not None
    assert row.state == "failed"
    assert row.attempts == 1  # not retried: the DAG will not appear by itself
    assert "no_such_dag" in (row.last_error or "")
    assert registry.get_champion(MODEL, settings=shared_registry) == "2"


def test_wrong_credentials_are_a_config_error(
    shared_registry: GuardSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_guard.integrations.airflow._rollback import _Api

    api = _Api(AirflowSettings(password=SecretStr("wrong")))
    with pytest.raises(ConfigError, match="refused a token") as err:
        api.call("GET", "/api/v2/dags/mlops_guard_rollback")
    assert "wrong" not in str(err.value)


def test_reads_that_fail_while_waiting_are_retried_until_the_deadline() -> None:
    """An API that stops answering mid-wait (a real refused connection on a closed port) is
    read again until ``run_timeout_seconds``, then reported unavailable (the receiver retries);
    the clock is injected, so the bound is waited without waiting."""
    from mlops_guard.errors import RegistryUnavailable
    from mlops_guard.integrations.airflow._rollback import _Api, _wait
    from tests.alerts._helpers import free_port

    config = AirflowSettings(
        api_url=f"http://127.0.0.1:{free_port()}",
        token=SecretStr("t"),
        run_timeout_seconds=10,
        poll_seconds=1,
    )
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    with pytest.raises(RegistryUnavailable, match="did not answer"):
        _wait(_Api(config), "d", "r", config, clock=lambda: now[0], sleep=sleep)
    assert len(slept) == 10  # one read a second until the deadline, not one read and out
