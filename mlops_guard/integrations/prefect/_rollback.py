"""The rollback flow: what alerts trigger (in-process or through its deployment).

Imported lazily by :mod:`mlops_guard.registry` (it imports Prefect).
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from mlops_guard.errors import AliasConflict
from mlops_guard.registry._aliases import history, rollback
from mlops_guard.registry._history import AliasEvent

__all__ = ["ROLLBACK_FLOW_ACTOR", "rollback_flow"]

ROLLBACK_FLOW_ACTOR = "prefect:rollback_flow"


@flow(name="rollback", log_prints=False, validate_parameters=True)
def rollback_flow(
    model: str,
    reason: str,
    alert_fingerprint: str | None = None,
    to_version: str | None = None,
    expected_champion: str | None = None,
) -> dict[str, Any]:
    """Roll ``model`` back one promotion (or ``to_version``); idempotent per alert fingerprint.

    ``expected_champion`` (the version an alert was about) makes the move a compare-and-set:
    when the champion is no longer that version, someone already acted and nothing moves.

    Returns ``{"status": ..., "event": {...}}`` where status is ``rolled_back``, ``duplicate``
    (this alert was handled before: the earlier event is returned, nothing moved),
    ``already_rolled_back`` (another process moved the champion while this run decided; the
    event is then that latest move) or ``skipped`` (the champion is no longer
    ``expected_champion``; the event is the latest champion move). Other registry errors fail
    the run.
    """
    handled_before = bool(alert_fingerprint) and any(
        event.alert_fingerprint == alert_fingerprint for event in history(model)
    )
    status = "duplicate" if handled_before else "rolled_back"
    event: AliasEvent
    try:
        event = rollback(
            model,
            reason=reason,
            actor=ROLLBACK_FLOW_ACTOR,
            to_version=to_version,
            alert_fingerprint=alert_fingerprint,
            expected_champion=expected_champion or None,
        )
    except AliasConflict:
        # Someone else moved the champion (between our read and our move, or before the alert
        # was acted on): the goal is met, or the alert is about a version no longer serving.
        status = "skipped" if expected_champion else "already_rolled_back"
        moves = [e for e in history(model) if e.alias == "champion"]
        if not moves:
            raise
        event = moves[-1]
    row = {"status": status, **event.to_dict()}
    from mlops_guard._events import publish_table

    publish_table(f"rollback-{model}", [row], f"Rollback of {model}: {status}")
    return {"status": status, "event": event.to_dict()}
