"""The Prefect event sink: mlops-guard's events as Prefect events, for automations and the UI."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard._events import GuardEvent

__all__ = ["PrefectEvents", "prefect_api_configured"]


def prefect_api_configured() -> bool:
    """True when a Prefect API URL is set; never imports Prefect when nothing points at one."""
    if "prefect" not in sys.modules and not os.environ.get("PREFECT_API_URL"):
        return False
    from prefect.settings import get_current_settings

    return bool(get_current_settings().api.url)


class PrefectEvents:
    """Sends events with ``prefect.events.emit_event``; the flow run, when known, becomes a
    related resource so the event shows on the run's page."""

    name = "prefect_events"

    def __init__(self) -> None:
        # The entry point loads this class; without Prefect installed it is left out. Found,
        # not imported: importing Prefect costs seconds a job that sends nothing never pays.
        from importlib.util import find_spec

        if find_spec("prefect") is None:
            raise ImportError("prefect is not installed")

    def ready(self, payload: Mapping[str, Any]) -> bool:
        # Without an API URL, emit_event would start an ephemeral server (tens of seconds) to
        # send to; inside a flow or task run that server is already up, so send there.
        return prefect_api_configured() or bool(payload.get("flow_run_id"))

    def send(self, event: GuardEvent) -> bool:
        from prefect.events import emit_event

        related = [{f"prefect.resource.{k}": v for k, v in r.items()} for r in event.related]
        flow_run_id = event.payload.get("flow_run_id")
        if flow_run_id:
            related.append(
                {
                    "prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
                    "prefect.resource.role": "flow-run",
                }
            )
        sent = emit_event(
            event=event.event,
            resource={
                "prefect.resource.id": event.resource_id,
                "prefect.resource.name": event.resource_name,
            },
            related=related or None,
            payload={k: v for k, v in event.payload.items() if v is not None},
        )
        if sent is None:
            raise RuntimeError("prefect.events.emit_event returned no event")
        return True
