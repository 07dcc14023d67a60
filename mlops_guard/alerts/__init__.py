"""Alerting that acts: the Alertmanager webhook receiver, its durable inbox and processor.

A firing alert labelled ``action="rollback"`` and ``model="<registered model>"`` rolls that model
back once, even when Alertmanager re-delivers it, the receiver restarts, or MLflow is briefly
down. Resolved alerts and alerts without the action label are recorded, never acted on.
Prometheus rules and the Alertmanager route that produce such alerts live in ``deployments/``.

Every mode reports what the registry shows: ``in_process`` rolls back here; the orchestrator
integrations register theirs (entry point group ``mlops_guard.rollback_modes``): Prefect's
``deployment`` waits for the rollback flow run and ``event`` emits ``mlops_guard.alert.rollback``
and waits (up to ``MLOPS_GUARD_ALERTS_EVENT_CONFIRM_TIMEOUT_SECONDS``) for the alias history to
record the rollback, else marks the alert failed; Airflow's ``airflow`` waits for the rollback
DAG run it triggered. The receiver warms up before it serves and logs one
line per alert (outcome, mode, what moved) on the ``mlops_guard.alerts`` logger.

Run it::

    MLOPS_GUARD_WEBHOOK_TOKEN=... mlops-guard alerts serve --port 9095

or embed it::

    from mlops_guard.alerts import create_app
    app = create_app()          # an ASGI app; serve with uvicorn
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.alerts._modes import RollbackModeSpec, mode_names, rollback_mode
    from mlops_guard.alerts._payload import Alert, AlertStatus, WebhookPayload
    from mlops_guard.alerts._processor import (
        ActionHandler,
        ActionOutcome,
        AlertProcessor,
        incident_key,
        registry_rollback_handler,
    )
    from mlops_guard.alerts._receiver import WEBHOOK_PATH, create_app, default_handler, serve
    from mlops_guard.alerts._settings import AlertsSettings, RollbackMode
    from mlops_guard.alerts._store import AlertState, AlertStore, StoredAlert, StoreResult, triage

__all__ = [
    # Receiver
    "WEBHOOK_PATH",
    "create_app",
    "serve",
    # Inbox
    "AlertState",
    "AlertStore",
    "StoreResult",
    "StoredAlert",
    "triage",
    # Processing
    "ActionHandler",
    "ActionOutcome",
    "AlertProcessor",
    "default_handler",
    "incident_key",
    "registry_rollback_handler",
    # Rollback modes (integrations add theirs)
    "RollbackModeSpec",
    "mode_names",
    "rollback_mode",
    # Payload and settings
    "Alert",
    "AlertStatus",
    "AlertsSettings",
    "RollbackMode",
    "WebhookPayload",
]

# Every name loads its module on first use: `mlops-guard --help` imports this package.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "Alert": "_payload",
        "AlertStatus": "_payload",
        "WebhookPayload": "_payload",
        "ActionHandler": "_processor",
        "ActionOutcome": "_processor",
        "AlertProcessor": "_processor",
        "incident_key": "_processor",
        "registry_rollback_handler": "_processor",
        "RollbackModeSpec": "_modes",
        "mode_names": "_modes",
        "rollback_mode": "_modes",
        "WEBHOOK_PATH": "_receiver",
        "create_app": "_receiver",
        "default_handler": "_receiver",
        "serve": "_receiver",
        "AlertsSettings": "_settings",
        "RollbackMode": "_settings",
        "AlertState": "_store",
        "AlertStore": "_store",
        "StoredAlert": "_store",
        "StoreResult": "_store",
        "triage": "_store",
    },
)
