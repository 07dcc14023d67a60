"""Alerting that acts: the Alertmanager webhook receiver, its durable inbox and processor.

A firing alert labelled ``action="rollback"`` and ``model="<registered model>"`` rolls that model
back once, even when Alertmanager re-delivers it, the receiver restarts, or MLflow is briefly
down. Resolved alerts and alerts without the action label are recorded, never acted on.
Prometheus rules and the Alertmanager route that produce such alerts live in ``deployments/``.

Run it::

    MLOPS_GUARD_WEBHOOK_TOKEN=... mlops-guard alerts serve --port 9095

or embed it::

    from mlops_guard.alerts import create_app
    app = create_app()          # an ASGI app; serve with uvicorn
"""

from __future__ import annotations

from mlops_guard.alerts._payload import Alert, AlertStatus, WebhookPayload
from mlops_guard.alerts._processor import (
    ROLLBACK_EVENT,
    ActionHandler,
    ActionOutcome,
    AlertProcessor,
    deployment_rollback_handler,
    event_rollback_handler,
    incident_key,
    registry_rollback_handler,
    rollback_event,
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
    "deployment_rollback_handler",
    "event_rollback_handler",
    "incident_key",
    "registry_rollback_handler",
    "rollback_event",
    "ROLLBACK_EVENT",
    # Payload and settings
    "Alert",
    "AlertStatus",
    "AlertsSettings",
    "RollbackMode",
    "WebhookPayload",
]
