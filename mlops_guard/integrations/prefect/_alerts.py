"""The alert receiver's Prefect modes: ``deployment`` runs the rollback deployment through the
Prefect API and waits for it; ``event`` emits ``mlops_guard.alert.rollback``, which the
deployment's trigger acts on, and confirms the move in the registry.

Registered under the ``mlops_guard.rollback_modes`` entry point; Prefect itself is imported
only when a handler runs.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mlops_guard.alerts._modes import RollbackModeSpec
from mlops_guard.alerts._processor import (
    ActionOutcome,
    alert_reason,
    incident_key,
    outcome_after_run,
    registry_outcome,
)
from mlops_guard.errors import AlertError, ConfigError, RegistryUnavailable

if TYPE_CHECKING:
    from mlops_guard.alerts._processor import ActionHandler
    from mlops_guard.alerts._settings import AlertsSettings
    from mlops_guard.alerts._store import StoredAlert
    from mlops_guard.settings import GuardSettings

__all__ = [
    "DEPLOYMENT_MODE",
    "EVENT_MODE",
    "ROLLBACK_EVENT",
    "deployment_rollback_handler",
    "event_rollback_handler",
    "rollback_event",
]

_log = logging.getLogger("mlops_guard.alerts")

# While event mode waits for the flow run's move: a registry read a second is cheap next to the
# seconds a worker needs, and finds the move within a second of it being recorded.
_CONFIRM_POLL_SECONDS = 1.0


def deployment_rollback_handler(
    settings: AlertsSettings, guard_settings: GuardSettings | None = None
) -> ActionHandler:
    """Run the rollback deployment through the Prefect API and wait for the flow run to finish.

    Each attempt is a new flow run (the idempotency key carries the attempt number, so a failed
    run is not returned again); the flow's rollback is idempotent per incident key. With
    ``guard_settings`` the registry is read once after the run, to report the move it made
    (``done``) or that the champion had moved on to another version (``skipped``).
    """

    def handle(alert: StoredAlert) -> ActionOutcome:
        from prefect.deployments import run_deployment

        key = incident_key(alert)
        version = alert.labels.get("model_version") if settings.check_alert_version else None
        try:
            # Called from a plain thread, run_deployment runs synchronously (not a coroutine).
            flow_run: Any = run_deployment(
                name=settings.rollback_deployment,
                parameters={
                    "model": alert.model,
                    "reason": alert_reason(alert),
                    "alert_fingerprint": key,
                    # Compare-and-set, as in-process: no move when the champion changed since.
                    "expected_champion": version or None,
                },
                timeout=settings.deployment_timeout_seconds,
                poll_interval=1,
                idempotency_key=f"mlops-guard-alert:{key}#{alert.attempts}",
                tags=["mlops-guard", "alert"],
                as_subflow=False,
            )
        except Exception as exc:
            raise RegistryUnavailable(
                f"rollback deployment {settings.rollback_deployment!r} could not be run: {exc}",
                hint="check PREFECT_API_URL and that the deployment exists (prefect deploy --all)",
            ) from exc
        state = flow_run.state
        result = {
            "flow_run_id": str(flow_run.id),
            "state": state.type.value if state is not None else None,
        }
        if state is None or not state.is_completed():
            raise RegistryUnavailable(
                f"rollback flow run {flow_run.id} ended {result['state']}",
                hint="see the flow run's logs in Prefect; the receiver retries",
            )
        return outcome_after_run(alert, key, version, guard_settings, result)

    return handle


ROLLBACK_EVENT = "mlops_guard.alert.rollback"


def rollback_event(alert: StoredAlert) -> dict[str, Any]:
    """The Prefect event that asks for a rollback (the trigger in deployments/prefect.yaml
    listens for it): resource ``mlops_guard.model.<model>``, payload reason and incident key."""
    import uuid

    key = incident_key(alert)
    return {
        "event": ROLLBACK_EVENT,
        "resource": {
            "prefect.resource.id": f"mlops_guard.model.{alert.model}",
            "prefect.resource.name": str(alert.model),
            "mlops_guard.model": str(alert.model),
        },
        "payload": {
            "reason": alert_reason(alert),
            "alert_fingerprint": key,
            "alertname": alert.alertname,
            "model_version": alert.labels.get("model_version"),
        },
        # Deterministic: the same incident is the same event, whoever sends it again.
        "id": uuid.uuid5(uuid.NAMESPACE_URL, f"mlops-guard-alert:{key}"),
    }


def event_rollback_handler(
    guard_settings: GuardSettings,
    settings: AlertsSettings,
    *,
    emit: Callable[..., Any] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ActionHandler:
    """Emit ``mlops_guard.alert.rollback`` to Prefect, then wait until the registry shows that
    the rollback deployment's trigger acted on it.

    The outcome is read from the registry, never assumed from the emission: ``done`` once the
    alias history holds a rollback carrying this incident's key (:func:`incident_key`);
    ``skipped`` once the champion is no longer the alert's ``model_version`` because another
    recorded move changed it. When neither shows within ``event_confirm_timeout_seconds`` the
    alert is ``failed`` (:class:`~mlops_guard.errors.AlertError`, not retried): the event
    reached Prefect but no flow run moved the alias, most often because no worker polls the
    rollback deployment's work pool. ``emit`` (Prefect's ``emit_event``), ``clock`` and
    ``sleep`` are injectable for tests.
    """

    def handle(alert: StoredAlert) -> ActionOutcome:
        assert alert.model is not None  # triage only queues rollbacks that name a model
        if emit is None:
            from prefect.events import emit_event as send
        else:
            send = emit
        spec = rollback_event(alert)
        try:
            sent = send(**spec)
        except Exception as exc:
            raise RegistryUnavailable(
                f"event {ROLLBACK_EVENT} not sent to Prefect: {exc}",
                hint="check PREFECT_API_URL; the receiver retries",
            ) from exc
        if sent is None:
            raise RegistryUnavailable(
                f"event {ROLLBACK_EVENT} not sent: no Prefect API is configured",
                hint="set PREFECT_API_URL, or use MLOPS_GUARD_ALERTS_ROLLBACK_MODE=in_process",
            )
        emitted = {"event_id": str(sent.id), "event": ROLLBACK_EVENT}
        started = clock()
        # The version the event names: the flow compares the champion with it, so do we.
        version = spec["payload"]["model_version"] or None
        outcome = _await_rollback(
            alert.model,
            incident_key(alert),
            version,
            guard_settings,
            timeout=settings.event_confirm_timeout_seconds,
            clock=clock,
            sleep=sleep,
        )
        result = {**emitted, **outcome.result, "waited_seconds": round(clock() - started, 3)}
        return ActionOutcome(outcome.state, result, outcome.note)

    return handle


def _await_rollback(
    model: str,
    key: str,
    version: str | None,
    guard_settings: GuardSettings,
    *,
    timeout: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> ActionOutcome:
    """Poll the registry until it shows the outcome of ``key``; AlertError after ``timeout``."""
    deadline = clock() + timeout
    while True:
        final = clock() >= deadline
        try:
            outcome = registry_outcome(model, key, version, guard_settings, final=final)
        except RegistryUnavailable:
            if final:  # MLflow, not the worker, is what failed: retried with backoff
                raise
            outcome = None
        if outcome is not None:
            return outcome
        if final:
            raise AlertError(
                f"no rollback recorded within {timeout:g} s: is a worker polling the work pool?",
                hint=f"the event {ROLLBACK_EVENT} reached Prefect but no run of the rollback "
                f"deployment recorded a move of {model!r}; start a worker on the deployment's "
                "work pool (prefect worker start --pool ...), check that the automation "
                "'mlops-guard alert rollback' is enabled, or read the flow run's logs",
            )
        sleep(max(0.0, min(_CONFIRM_POLL_SECONDS, deadline - clock())))


def _need_api_url(mode: str) -> None:
    if not os.environ.get("PREFECT_API_URL"):
        raise ConfigError(
            f"MLOPS_GUARD_ALERTS_ROLLBACK_MODE={mode} but PREFECT_API_URL is not set",
            hint="set PREFECT_API_URL to the Prefect server's API, or use in_process",
        )


def _deployment(guard_settings: GuardSettings, settings: AlertsSettings) -> ActionHandler:
    _need_api_url("deployment")
    return deployment_rollback_handler(settings, guard_settings)


def _event(guard_settings: GuardSettings, settings: AlertsSettings) -> ActionHandler:
    _need_api_url("event")
    return event_rollback_handler(guard_settings, settings)


DEPLOYMENT_MODE = RollbackModeSpec(
    "deployment", _deployment, ("mlflow", "mlops_guard.registry._aliases", "prefect.deployments")
)
EVENT_MODE = RollbackModeSpec(
    "event", _event, ("mlflow", "mlops_guard.registry._aliases", "prefect.events")
)
