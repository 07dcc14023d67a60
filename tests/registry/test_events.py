"""Every alias move reaches Prefect's event feed (a real server); observing never breaks a move."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from mlops_guard.metrics import GuardMetrics
from mlops_guard.registry import get_champion, history, promote, rollback, set_challenger
from mlops_guard.registry._aliases import ALIAS_MOVED_EVENT
from mlops_guard.settings import GuardSettings
from tests._prefect import read_events, wait_for

MakeModel = Callable[..., list[str]]


def _moves(model: str, count: int) -> list[Any]:
    """The alias-moved events of ``model`` on the server, by seq, once ``count`` arrived."""
    resource = f"mlops_guard.model.{model}"
    events = wait_for(
        lambda: (
            found
            if len(
                found := [e for e in read_events(ALIAS_MOVED_EVENT) if e.resource.id == resource]
            )
            >= count
            else None
        )
    )
    return sorted(events, key=lambda e: e.payload["seq"])


@pytest.mark.slow  # shares the session's Prefect server
def test_every_alias_move_is_a_prefect_event(
    prefect_server: str, settings: GuardSettings, make_model: MakeModel
) -> None:
    model = f"churn-{uuid.uuid4().hex[:8]}"  # the server is shared by the session
    make_model(model, versions=2)
    promote(model, "1", reason="first", actor="ci", settings=settings)
    set_challenger(model, "2", reason="canary", actor="canary", settings=settings)
    # Promoting the challenger also removes the challenger alias: two moves, two events.
    promote(model, "2", reason="canary passed", actor="canary", settings=settings)
    rollback(
        model,
        reason="error rate 12%",
        actor="alertmanager",
        alert_fingerprint="f1a2",
        settings=settings,
    )

    events = _moves(model, 5)
    recorded = history(model, settings=settings)
    assert [e.payload["seq"] for e in events] == [r.seq for r in recorded] == [1, 2, 3, 4, 5]
    moves = [
        (
            e.payload["action"],
            e.payload["alias"],
            e.payload.get("from_version"),
            e.payload.get("to_version"),
        )
        for e in events
    ]
    assert moves == [
        ("promote", "champion", None, "1"),
        ("set_challenger", "challenger", None, "2"),
        ("promote", "champion", "1", "2"),
        ("remove_challenger", "challenger", "2", None),
        ("rollback", "champion", "2", "1"),
    ]
    back = events[-1].payload
    assert back["model"] == model
    assert back["reason"] == "error rate 12%"
    assert back["actor"] == "alertmanager"
    assert back["alert_fingerprint"] == "f1a2"
    assert back["at"] == recorded[-1].at
    assert back["trace_id"]
    assert events[-1].resource["prefect.resource.name"] == model


@pytest.mark.slow  # shares the session's Prefect server
def test_a_failing_event_sink_never_breaks_the_move(
    prefect_server: str,
    settings: GuardSettings,
    make_model: MakeModel,
    metrics: GuardMetrics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import prefect.events

    def refuse(**_: Any) -> None:
        raise ConnectionError("events endpoint down")

    monkeypatch.setattr(prefect.events, "emit_event", refuse)
    model = f"churn-{uuid.uuid4().hex[:8]}"
    make_model(model, versions=1)
    event = promote(model, "1", reason="first", actor="ci", settings=settings)
    assert event.to_version == "1"
    assert get_champion(model, settings) == "1"
    assert [e.seq for e in history(model, settings=settings)] == [1]
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "prefect_events"}) == 1


_PROMOTE_WITHOUT_PREFECT = """
import json, sys
from mlops_guard.registry import promote
from mlops_guard.settings import GuardSettings

promote("churn", "1", reason="first", actor="ci", settings=GuardSettings())
print(json.dumps({"prefect_loaded": "prefect" in sys.modules}))
"""


def test_without_a_prefect_api_a_move_sends_nothing_and_starts_no_server(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    """Prefect's emit_event would start an ephemeral server (tens of seconds) to send to."""
    make_model(versions=1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["MLOPS_GUARD_WORKDIR"] = str(settings.workdir)
    env["MLOPS_GUARD_REGISTRY_LOCK_BACKEND"] = "file"
    done = subprocess.run(
        [sys.executable, "-c", _PROMOTE_WITHOUT_PREFECT],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"prefect_loaded": False}
    assert get_champion("churn", settings) == "1"
