"""The Prefect side: the global-concurrency-limit lock and the rollback flow, on a real server."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from mlops_guard.errors import AliasConflict
from mlops_guard.integrations.prefect import rollback_flow
from mlops_guard.registry import get_champion, history, promote, rollback
from mlops_guard.registry._lock import lock_backend, lock_name
from mlops_guard.registry._settings import RegistrySettings
from mlops_guard.settings import GuardSettings

MakeModel = Callable[..., list[str]]


@pytest.mark.slow  # the session's Prefect server starts in tens of seconds on a cold database
def test_prefect_lock_serialises_two_rollbacks_decided_together(
    prefect_server: str,
    settings: GuardSettings,
    make_model: MakeModel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prefect.client.orchestration import get_client

    monkeypatch.setenv("MLOPS_GUARD_REGISTRY_LOCK_BACKEND", "auto")
    assert lock_backend(RegistrySettings()) == "prefect"
    make_model(versions=3)
    for version in ("1", "2", "3"):
        promote("churn", version, reason="ship", actor="t", settings=settings)

    outcomes: list[str] = []
    barrier = threading.Barrier(2)

    def responder(name: str) -> None:
        barrier.wait()
        try:
            rollback("churn", reason=name, actor=name, expected_champion="3", settings=settings)
            outcomes.append("moved")
        except AliasConflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=responder, args=(f"r{i}",)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["conflict", "moved"]
    assert get_champion("churn", settings) == "2"
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(lock_name("churn"))
    assert limit.limit == 1
    assert limit.active_slots == 0  # released after each move


@pytest.mark.slow  # shares the session's Prefect server
def test_rollback_flow_is_idempotent_per_fingerprint(
    prefect_server: str, settings: GuardSettings, make_model: MakeModel
) -> None:
    make_model(versions=3)
    for version in ("1", "2", "3"):
        promote("churn", version, reason="ship", actor="t", settings=settings)
    first = rollback_flow(model="churn", reason="error rate high", alert_fingerprint="abc")
    assert first["status"] == "rolled_back"
    assert first["event"]["actor"] == "prefect:rollback_flow"
    assert (first["event"]["from_version"], first["event"]["to_version"]) == ("3", "2")
    again = rollback_flow(model="churn", reason="error rate high", alert_fingerprint="abc")
    assert again["status"] == "duplicate"
    assert again["event"] == first["event"]
    assert get_champion("churn", settings) == "2"
    assert [e.alert_fingerprint for e in history("churn", settings=settings)].count("abc") == 1


def test_rollback_flow_skips_an_alert_about_a_version_no_longer_champion(
    prefect_server: str, settings: GuardSettings, make_model: MakeModel
) -> None:
    make_model(versions=2)
    for version in ("1", "2"):
        promote("churn", version, reason="ship", actor="t", settings=settings)
    stale = rollback_flow(
        model="churn", reason="v1 misbehaves", alert_fingerprint="old", expected_champion="1"
    )
    assert stale["status"] == "skipped"
    assert get_champion("churn", settings) == "2"
    assert all(e.alert_fingerprint != "old" for e in history("churn", settings=settings))
    current = rollback_flow(
        model="churn", reason="v2 misbehaves", alert_fingerprint="new", expected_champion="2"
    )
    assert current["status"] == "rolled_back"
    assert get_champion("churn", settings) == "1"
