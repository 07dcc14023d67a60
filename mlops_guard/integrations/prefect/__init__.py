"""Prefect integration: the guard for tasks and flows, the event sink, artifacts, the flows of
the rollback, the scheduled drift and trace checks, drift by segment and the canary, and the
alert receiver's ``deployment`` and ``event`` rollback modes.

The flows load on first use (``from mlops_guard.integrations.prefect import rollback_flow``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports
from mlops_guard.integrations.prefect._artifacts import (
    publish_link,
    publish_markdown,
    publish_table,
)
from mlops_guard.integrations.prefect._guard import emit_prefect_event, guard

if TYPE_CHECKING:
    from mlops_guard.integrations.prefect._alerts import (
        ROLLBACK_EVENT,
        deployment_rollback_handler,
        event_rollback_handler,
        rollback_event,
    )
    from mlops_guard.integrations.prefect._canary import canary_flow
    from mlops_guard.integrations.prefect._drift import drift_check_flow
    from mlops_guard.integrations.prefect._rollback import ROLLBACK_FLOW_ACTOR, rollback_flow
    from mlops_guard.integrations.prefect._segments import drift_check_segments
    from mlops_guard.integrations.prefect._traces import trace_check_flow

__all__ = [
    "ROLLBACK_EVENT",
    "ROLLBACK_FLOW_ACTOR",
    "canary_flow",
    "deployment_rollback_handler",
    "drift_check_flow",
    "drift_check_segments",
    "emit_prefect_event",
    "event_rollback_handler",
    "guard",
    "publish_link",
    "publish_markdown",
    "publish_table",
    "rollback_event",
    "rollback_flow",
    "trace_check_flow",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "ROLLBACK_EVENT": "_alerts",
        "deployment_rollback_handler": "_alerts",
        "event_rollback_handler": "_alerts",
        "rollback_event": "_alerts",
        "ROLLBACK_FLOW_ACTOR": "_rollback",
        "rollback_flow": "_rollback",
        "canary_flow": "_canary",
        "drift_check_flow": "_drift",
        "drift_check_segments": "_segments",
        "trace_check_flow": "_traces",
    },
)
