"""The alert receiver's ``airflow`` rollback mode: trigger the rollback DAG through Airflow's
REST API, wait for the DAG run, then read the registry back.

One attempt is one DAG run whose id is derived from the incident key and the attempt number
(a run the receiver triggered before a crash is found again, not doubled; a failed run is not
returned again); the DAG's rollback is idempotent per incident key. Authentication is a JWT:
``MLOPS_GUARD_AIRFLOW_TOKEN`` as is, else one from ``POST /auth/token`` with the username and
password (else ``GET /auth/token``, which Airflow's simple auth manager answers when everyone
is admin). Talks HTTP only: the receiver needs no Airflow installed.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops_guard.alerts._modes import RollbackModeSpec
from mlops_guard.alerts._processor import (
    ActionOutcome,
    alert_reason,
    incident_key,
    outcome_after_run,
)
from mlops_guard.errors import AlertError, ConfigError, RegistryUnavailable

if TYPE_CHECKING:
    import httpx

    from mlops_guard.alerts._processor import ActionHandler
    from mlops_guard.alerts._settings import AlertsSettings
    from mlops_guard.alerts._store import StoredAlert
    from mlops_guard.settings import AirflowSettings, GuardSettings

__all__ = ["AIRFLOW_MODE", "airflow_rollback_handler", "dag_run_id"]

_log = logging.getLogger("mlops_guard.alerts")
_FINISHED = ("success", "failed")


def dag_run_id(alert: StoredAlert) -> str:
    """The DAG run of this alert's attempt: the same incident and attempt, the same run."""
    digest = hashlib.sha256(incident_key(alert).encode()).hexdigest()[:20]
    return f"mlops_guard_alert__{digest}__{alert.attempts}"


class _Api:
    """The few calls of Airflow's REST API the mode makes, with one token refresh on 401."""

    def __init__(self, config: AirflowSettings) -> None:
        self.config = config
        self._token: str | None = (
            config.token.get_secret_value() if config.token is not None else None
        )

    def _client(self) -> httpx.Client:
        import httpx

        return httpx.Client(
            base_url=self.config.api_url.rstrip("/"), timeout=self.config.request_timeout_seconds
        )

    def _unavailable(self, what: str, exc: Exception) -> RegistryUnavailable:
        return RegistryUnavailable(
            f"Airflow API at {self.config.api_url} did not answer {what} ({type(exc).__name__})",
            hint="start `airflow api-server` or fix MLOPS_GUARD_AIRFLOW_API_URL; the receiver "
            "retries",
        )

    def token(self, http: httpx.Client, *, renew: bool = False) -> str:
        if self._token is not None and not renew:
            return self._token
        if self.config.token is not None and not renew:
            return self.config.token.get_secret_value()
        if self.config.username:
            password = self.config.password.get_secret_value() if self.config.password else ""
            answer = http.post(
                "/auth/token", json={"username": self.config.username, "password": password}
            )
        else:
            answer = http.get("/auth/token")
        if answer.status_code >= 500:
            answer.raise_for_status()
        if answer.status_code not in (200, 201):
            raise ConfigError(
                f"Airflow at {self.config.api_url} refused a token ({answer.status_code})",
                hint="set MLOPS_GUARD_AIRFLOW_USERNAME and MLOPS_GUARD_AIRFLOW_PASSWORD (or "
                "MLOPS_GUARD_AIRFLOW_TOKEN) to an Airflow user allowed to trigger DAG runs",
            )
        self._token = str(answer.json()["access_token"])
        return self._token

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        try:
            with self._client() as http:
                headers = {"Authorization": f"Bearer {self.token(http)}"}
                answer = http.request(method, path, headers=headers, **kwargs)
                if answer.status_code == 401 and self.config.token is None:
                    headers = {"Authorization": f"Bearer {self.token(http, renew=True)}"}
                    answer = http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise self._unavailable(f"{method} {path}", exc) from exc
        if answer.status_code >= 500:
            raise self._unavailable(f"{method} {path}", RuntimeError(f"HTTP {answer.status_code}"))
        if answer.status_code in (401, 403):
            raise ConfigError(
                f"Airflow refused {method} {path} ({answer.status_code})",
                hint="give the MLOPS_GUARD_AIRFLOW_USERNAME user the right to trigger DAG runs",
            )
        return answer


def airflow_rollback_handler(
    guard_settings: GuardSettings,
    settings: AlertsSettings,
    airflow: AirflowSettings | None = None,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ActionHandler:
    """Trigger the rollback DAG (``MLOPS_GUARD_AIRFLOW_ROLLBACK_DAG_ID``) with the conf
    ``model``, ``reason``, ``model_version`` and ``alert_fingerprint``, wait for its run to
    finish, and report what the registry shows (``done``: the rollback carrying this incident's
    key; ``skipped``: the champion moved away from the alert's version).

    A DAG that does not exist or is paused, or credentials Airflow refuses, fail the alert at
    once (a paused DAG's run would wait forever); an API that does not answer, a run that
    failed or did not finish within ``run_timeout_seconds`` are retried with backoff.
    """
    from mlops_guard.settings import AirflowSettings

    config = airflow or AirflowSettings()
    api = _Api(config)
    dag = config.rollback_dag_id

    def handle(alert: StoredAlert) -> ActionOutcome:
        assert alert.model is not None  # triage only queues rollbacks that name a model
        key = incident_key(alert)
        version = alert.labels.get("model_version") if settings.check_alert_version else None
        found = api.call("GET", f"/api/v2/dags/{dag}")
        if found.status_code == 404:
            raise AlertError(
                f"Airflow has no DAG {dag!r} to roll {alert.model!r} back with",
                hint="deploy deployments/airflow/rollback.py to the DAG folder, or set "
                "MLOPS_GUARD_AIRFLOW_ROLLBACK_DAG_ID",
            )
        if found.json().get("is_paused"):
            raise AlertError(
                f"the rollback DAG {dag!r} is paused: its run would never start",
                hint=f"unpause it (airflow dags unpause {dag})",
            )
        run_id = dag_run_id(alert)
        body = {
            "dag_run_id": run_id,
            "logical_date": None,
            "conf": {
                "model": alert.model,
                "reason": alert_reason(alert),
                "model_version": version or None,
                "alert_fingerprint": key,
            },
            "note": f"mlops-guard alert {alert.alertname or '?'} ({alert.fingerprint})",
        }
        started = clock()
        created = api.call("POST", f"/api/v2/dags/{dag}/dagRuns", json=body)
        if created.status_code not in (200, 409):  # 409: this attempt's run exists already
            raise AlertError(
                f"Airflow refused to trigger {dag!r} ({created.status_code}): {created.text[:300]}",
                hint="check the rollback DAG's params (model, reason, model_version)",
            )
        state = _wait(api, dag, run_id, config, clock=clock, sleep=sleep)
        result = {
            "dag_id": dag,
            "dag_run_id": run_id,
            "state": state,
            "waited_seconds": round(clock() - started, 3),
        }
        if state != "success":
            raise RegistryUnavailable(
                f"rollback DAG run {dag}/{run_id} ended {state}",
                hint="see the run's task logs in Airflow; the receiver retries",
            )
        return outcome_after_run(alert, key, version, guard_settings, result)

    return handle


def _wait(
    api: _Api,
    dag: str,
    run_id: str,
    config: AirflowSettings,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> str:
    deadline = clock() + config.run_timeout_seconds
    state = "unknown"
    while True:
        try:
            answer = api.call("GET", f"/api/v2/dags/{dag}/dagRuns/{run_id}")
        except RegistryUnavailable:
            # One slow or failed read is not the run failing: the run goes on in Airflow, so
            # keep reading until the deadline (a busy API server answers the next one).
            if clock() >= deadline:
                raise
            answer = None
        if answer is not None and answer.status_code == 200:
            state = str(answer.json().get("state"))
            if state in _FINISHED:
                return state
        if clock() >= deadline:
            raise RegistryUnavailable(
                f"rollback DAG run {dag}/{run_id} still {state} after "
                f"{config.run_timeout_seconds:g} s",
                hint="is a scheduler running (airflow scheduler)? the receiver retries",
            )
        sleep(max(0.0, min(config.poll_seconds, deadline - clock())))


def _build(guard_settings: GuardSettings, settings: AlertsSettings) -> ActionHandler:
    return airflow_rollback_handler(guard_settings, settings)


AIRFLOW_MODE = RollbackModeSpec(
    "airflow", _build, ("mlflow", "mlops_guard.registry._aliases", "httpx")
)
