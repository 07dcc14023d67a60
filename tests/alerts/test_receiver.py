"""The webhook receiver over real HTTP (uvicorn on loopback), with a recording action handler.

The handler stands in for the registry so that these tests isolate the receiver's own promises
(refusals, durability, de-duplication, retries); test_end_to_end.py runs the real registry.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from mlops_guard.alerts import AlertsSettings, AlertStore, create_app
from mlops_guard.errors import NothingToRollBack, RegistryUnavailable
from mlops_guard.metrics import GuardMetrics
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import RecordingHandler, alert, live_server, payload, wait_for

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(tmp_path: Path, **overrides: object) -> AlertsSettings:
    values: dict[str, object] = {
        "store": tmp_path / "inbox.sqlite",
        "backoff_initial_seconds": 0.01,
        "backoff_max_seconds": 0.05,
        "max_attempts": 3,
    }
    values.update(overrides)
    return AlertsSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
def guard(settings: GuardSettings) -> GuardSettings:
    return settings.model_copy(update={"webhook_token": SecretStr(TOKEN)})


def test_thousand_deliveries_of_one_alert_act_once(
    tmp_path: Path, guard: GuardSettings, metrics: GuardMetrics
) -> None:
    handler = RecordingHandler()
    app = create_app(
        guard_settings=guard, settings=_settings(tmp_path), handler=handler, metrics=metrics
    )
    body = json.dumps(payload(alert()))
    with live_server(app) as url, httpx.Client(base_url=url, headers=AUTH) as client:

        def deliver(_: int) -> int:
            return client.post(
                "/alertmanager", content=body, headers={"Content-Type": "application/json"}
            ).status_code

        with ThreadPoolExecutor(max_workers=16) as pool:
            codes = list(pool.map(deliver, range(1000)))
        assert set(codes) == {202}
        store: AlertStore = app.state.store
        wait_for(lambda: store.counts() == {"done": 1}, what="the action to finish")
        (row,) = store.list()
        assert row.deliveries == 1000
    assert len(handler.calls) == 1
    assert metrics.sample("mlops_guard_alerts_received_total", {"status": "duplicate"}) == 999
    assert metrics.sample("mlops_guard_alerts_received_total", {"status": "queued"}) == 1
    assert (
        metrics.sample("mlops_guard_alert_actions_total", {"action": "rollback", "outcome": "done"})
        == 1
    )


def _corpus() -> list[tuple[str, dict[str, str], bytes, int]]:
    good = payload()
    wrong_version = {**good, "version": "3"}
    no_alerts = {**good, "alerts": []}
    bad_status = payload(alert(status="exploded"))
    bad_label = payload({**alert(), "labels": {"bad label": "x"}})
    no_fingerprint = payload({k: v for k, v in alert().items() if k != "fingerprint"})
    bad_time = payload({**alert(), "startsAt": "yesterday"})
    # Valid text, but a year-1 time with a positive offset is before the first UTC instant.
    time_out_of_range = payload({**alert(), "startsAt": "0001-01-01T00:00:00+05:00"})
    nested = b"[" * 2000 + b"]" * 2000  # beyond Python's recursion limit, within 4096 bytes
    json_type = {"Content-Type": "application/json"}
    return [
        ("no token", {}, json.dumps(good).encode(), 401),
        ("wrong token", {"Authorization": "Bearer nope"}, json.dumps(good).encode(), 401),
        ("basic auth", {"Authorization": "Basic czNjcmV0LXRva2Vu"}, json.dumps(good).encode(), 401),
        ("not json", AUTH, b"{not json", 400),
        ("not utf-8", AUTH, b"\xff\xfe\x00garbage", 400),
        ("empty body", AUTH, b"", 400),
        ("json array", AUTH, b"[1, 2]", 422),
        ("json string", AUTH, b'"alert"', 422),
        ("wrong version", AUTH, json.dumps(wrong_version).encode(), 422),
        ("no alerts", AUTH, json.dumps(no_alerts).encode(), 422),
        ("bad status", AUTH, json.dumps(bad_status).encode(), 422),
        ("bad label name", AUTH, json.dumps(bad_label).encode(), 422),
        ("no fingerprint", AUTH, json.dumps(no_fingerprint).encode(), 422),
        ("bad time", AUTH, json.dumps(bad_time).encode(), 422),
        ("time out of range", AUTH, json.dumps(time_out_of_range).encode(), 422),
        ("deeply nested", AUTH, nested, 400),
        ("nested under alerts", AUTH, b'{"alerts":' + b"[" * 40 + b"]" * 40 + b"}", 400),
        ("NaN literal", AUTH, json.dumps({**good, "truncatedAlerts": float("nan")}).encode(), 400),
        ("utf-16", AUTH, json.dumps(good).encode("utf-16"), 400),
        ("text/plain", {**AUTH, "Content-Type": "text/plain"}, json.dumps(good).encode(), 415),
        ("form", {**AUTH, "Content-Type": "application/x-www-form-urlencoded"}, b"a=1", 415),
        ("oversized", {**AUTH, **json_type}, b" " * 5000 + json.dumps(good).encode(), 413),
    ]


def test_malformed_oversized_and_unauthenticated_payloads_are_refused(
    tmp_path: Path, guard: GuardSettings, metrics: GuardMetrics
) -> None:
    handler = RecordingHandler()
    app = create_app(
        guard_settings=guard,
        settings=_settings(tmp_path, max_body_bytes=4096),
        handler=handler,
        metrics=metrics,
    )
    corpus = _corpus()
    with live_server(app) as url, httpx.Client(base_url=url) as client:
        for name, headers, body, expected in corpus:
            response = client.post("/alertmanager", content=body, headers=headers)
            assert response.status_code == expected, (name, response.text)
            assert "error" in response.json(), name

        def chunks() -> object:
            for _ in range(10):
                yield b" " * 1000

        # Chunked upload: no Content-Length to refuse on, the stream limit must catch it.
        chunked = client.post("/alertmanager", content=chunks(), headers=AUTH)  # type: ignore[arg-type]
        assert chunked.status_code == 413
        # Still serving, and nothing refused was stored or acted on.
        assert client.get("/healthz").status_code == 200
        ok = client.post("/alertmanager", json=payload(), headers=AUTH)
        assert ok.status_code == 202
        wait_for(lambda: len(handler.calls) == 1, what="the valid alert to be acted on")
    assert (
        metrics.sample("mlops_guard_alerts_received_total", {"status": "rejected"})
        == len(corpus) + 1
    )


def test_resolved_and_unlabelled_alerts_are_recorded_not_acted_on(
    tmp_path: Path, guard: GuardSettings, metrics: GuardMetrics
) -> None:
    handler = RecordingHandler()
    app = create_app(
        guard_settings=guard, settings=_settings(tmp_path), handler=handler, metrics=metrics
    )
    body = payload(
        alert("aaaaaaaaaaaaaaa1", status="resolved"),
        alert("aaaaaaaaaaaaaaa2", action=None),
        alert("aaaaaaaaaaaaaaa3", action="retrain", alertname="DataDrift"),
    )
    with live_server(app) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        response = client.post("/alertmanager", json=body)
        assert response.status_code == 202
        assert [s["state"] for s in response.json()["stored"]] == ["recorded"] * 3
        metrics_text = client.get("/metrics").text
    assert handler.calls == []
    assert 'mlops_guard_alerts_received_total{status="recorded"} 3.0' in metrics_text
    with AlertStore(tmp_path / "inbox.sqlite") as store:
        assert store.counts() == {"recorded": 3}


def test_transient_failures_are_retried_then_done(
    tmp_path: Path, guard: GuardSettings, metrics: GuardMetrics
) -> None:
    handler = RecordingHandler(
        failures=[RegistryUnavailable("mlflow down"), ConnectionError("reset by peer")]
    )
    app = create_app(
        guard_settings=guard, settings=_settings(tmp_path), handler=handler, metrics=metrics
    )
    with live_server(app) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        assert client.post("/alertmanager", json=payload()).status_code == 202
        store: AlertStore = app.state.store
        wait_for(lambda: store.counts() == {"done": 1}, what="the third attempt")
        (row,) = store.list()
    assert row.attempts == 3
    assert len(handler.calls) == 3
    labels = {"action": "rollback", "outcome": "retried"}
    assert metrics.sample("mlops_guard_alert_actions_total", labels) == 2
    events = [e for e in read_runlog(guard.runlog_path) if e["event"].startswith("alert.")]
    names = [e["event"] for e in events]
    # The request logs "received" after it woke the processor (acting comes first), so on a
    # busy machine the first retry can be logged before it.
    assert names.count("alert.received") == 1
    assert [name for name in names if name != "alert.received"] == [
        "alert.action.retry",
        "alert.action.retry",
        "alert.action.done",
    ]
    assert {e["alert_fingerprint"] for e in events} == {"0a1b2c3d4e5f6071"}
    assert TOKEN not in guard.runlog_path.read_text()


def test_unreachable_dependency_ends_failed_and_counted(
    tmp_path: Path, guard: GuardSettings, metrics: GuardMetrics
) -> None:
    handler = RecordingHandler(failures=[RegistryUnavailable("mlflow down")] * 10)
    app = create_app(
        guard_settings=guard, settings=_settings(tmp_path), handler=handler, metrics=metrics
    )
    with live_server(app) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        assert client.post("/alertmanager", json=payload()).status_code == 202
        store: AlertStore = app.state.store
        wait_for(lambda: store.counts() == {"failed": 1}, what="the alert to be given up")
        (row,) = store.list()
        pending_gauge = client.get("/metrics").text
    assert row.attempts == 3
    assert "RegistryUnavailable" in (row.last_error or "")
    assert len(handler.calls) == 3
    labels = {"action": "rollback", "outcome": "failed"}
    assert metrics.sample("mlops_guard_alert_actions_total", labels) == 1
    assert "mlops_guard_alerts_pending 0.0" in pending_gauge


def test_permanent_failure_is_not_retried(
    tmp_path: Path, guard: GuardSettings, metrics: GuardMetrics
) -> None:
    handler = RecordingHandler(failures=[NothingToRollBack("no promotion to undo")])
    app = create_app(
        guard_settings=guard, settings=_settings(tmp_path), handler=handler, metrics=metrics
    )
    with live_server(app) as url, httpx.Client(base_url=url, headers=AUTH) as client:
        assert client.post("/alertmanager", json=payload()).status_code == 202
        store: AlertStore = app.state.store
        wait_for(lambda: store.counts() == {"failed": 1}, what="the permanent failure")
    assert len(handler.calls) == 1


def test_alert_left_in_flight_is_finished_once_after_restart(
    tmp_path: Path, guard: GuardSettings, metrics: GuardMetrics
) -> None:
    from mlops_guard.alerts import WebhookPayload

    path = tmp_path / "inbox.sqlite"
    # The state a receiver killed mid-action leaves: stored, claimed, never finished.
    with AlertStore(path, exclusive=True) as store:
        store.add(WebhookPayload.model_validate(payload()).alerts, receiver="r")
        assert store.claim_next() is not None
    handler = RecordingHandler()
    app = create_app(
        guard_settings=guard, settings=_settings(tmp_path), handler=handler, metrics=metrics
    )
    with live_server(app):
        wait_for(lambda: app.state.store.counts() == {"done": 1}, what="the leftover alert")
    assert len(handler.calls) == 1
    assert handler.calls[0].attempts == 2


def test_healthz_reports_the_inbox(
    tmp_path: Path, guard: GuardSettings, metrics: GuardMetrics
) -> None:
    app = create_app(
        guard_settings=guard,
        settings=_settings(tmp_path),
        handler=RecordingHandler(),
        metrics=metrics,
    )
    with live_server(app) as url:
        health = httpx.get(f"{url}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "alerts": {}}


@pytest.mark.parametrize("mode", ["event", "deployment"])
def test_prefect_modes_need_an_api_url(
    settings: GuardSettings, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    from mlops_guard.alerts import default_handler
    from mlops_guard.errors import ConfigError

    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    with pytest.raises(ConfigError, match="PREFECT_API_URL"):
        default_handler(settings, AlertsSettings(rollback_mode=mode))  # type: ignore[arg-type]


def test_rollback_event_names_the_model_and_the_incident(tmp_path: Path) -> None:
    from mlops_guard.alerts import WebhookPayload, incident_key
    from mlops_guard.integrations.prefect import ROLLBACK_EVENT, rollback_event

    with AlertStore(tmp_path / "inbox.sqlite") as store:
        store.add(WebhookPayload.model_validate(payload()).alerts, receiver="r")
        (row,) = store.list()
    first, again = rollback_event(row), rollback_event(row)
    assert first["event"] == ROLLBACK_EVENT
    assert first["resource"]["prefect.resource.id"] == "mlops_guard.model.churn"
    assert first["resource"]["mlops_guard.model"] == "churn"
    assert first["payload"]["alert_fingerprint"] == incident_key(row)
    assert first["id"] == again["id"]  # one incident, one event id
