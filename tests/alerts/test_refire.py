"""A rollback alert that resolves and fires again soon after is acted on again.

Alertmanager's notification log remembers which label sets of a group it last notified as
firing. When an alert resolves and fires again before the group's next flush, the flush sees
the same firing set and sends nothing until ``repeat_interval`` has passed, so the receiver
would never hear of the second incident while the re-promoted version keeps serving. The
rollback route's short ``repeat_interval`` bounds that wait; the receiver tells the repeat of an
old incident (same fingerprint and start time: a duplicate) from a new one (a new start time).

Real Pushgateway, Prometheus and Alertmanager on loopback with the real files from deployments/
(1 s scrape and evaluation), the real receiver and the real MLflow registry (SQLite).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from mlops_guard import registry
from mlops_guard.alerts import AlertStore, create_app, incident_key
from mlops_guard.metrics import GuardMetrics, MetricsSink
from mlops_guard.settings import GuardSettings
from tests.alerts._chain import monitoring_chain
from tests.alerts._helpers import live_server, wait_for
from tests.alerts._models import MODEL

pytestmark = [pytest.mark.slow, pytest.mark.servers]

TOKEN = "refire-token"
# Longest wait for one rollback after its push: scrape and evaluation (1 s each), then the
# route's group_wait (0 s) or, for the re-fire, its repeat_interval, then the receiver.
ROLLBACK_WAIT_SECONDS = 40


def _firing(alertmanager_url: str) -> list[dict[str, object]]:
    """Alertmanager's active ModelErrorRateHigh alerts for version 2 (resolved ones are not
    listed by its API)."""
    alerts = httpx.get(f"{alertmanager_url}/api/v2/alerts").json()
    return [
        a
        for a in alerts
        if a["labels"]["alertname"] == "ModelErrorRateHigh"
        and a["labels"].get("model_version") == "2"
    ]


def test_alert_firing_again_within_group_interval_rolls_back_again(
    tmp_path: Path, registered: GuardSettings, metrics: GuardMetrics
) -> None:
    guard = registered.model_copy(update={"webhook_token": SecretStr(TOKEN)})
    app = create_app(guard_settings=guard, metrics=metrics)
    with (
        live_server(app) as receiver,
        monitoring_chain(tmp_path / "chain", receiver, TOKEN) as chain,
    ):
        store: AlertStore = app.state.store
        flow_settings = guard.model_copy(update={"pushgateway_url": chain.pushgateway.url})

        def push(error_rate: float) -> None:
            # What the inference flow does after a batch: set the gauge, push.
            flow_metrics = GuardMetrics()
            flow_metrics.model_error_rate.labels(model=MODEL, model_version="2").set(error_rate)
            assert MetricsSink(flow_settings, flow_metrics).flush(flow="inference")

        def champion() -> str | None:
            return registry.get_champion(MODEL, settings=guard)

        assert champion() == "2"
        push(0.4)
        wait_for(lambda: champion() == "1", ROLLBACK_WAIT_SECONDS, "the first rollback")
        first_fingerprint = _firing(chain.alertmanager.url)[0]["fingerprint"]

        push(0.0)
        wait_for(lambda: not _firing(chain.alertmanager.url), 30, "Alertmanager to resolve it")
        registry.promote(MODEL, "2", reason="fixed, re-released", actor="tests", settings=guard)
        refired_at = time.monotonic()
        push(0.4)
        wait_for(lambda: champion() == "1", ROLLBACK_WAIT_SECONDS, "the rollback of the re-fire")
        refire_latency = time.monotonic() - refired_at
        wait_for(lambda: store.counts().get("done") == 2, 10, "both inbox rows to be done")
        done = store.list(state="done")

    rollbacks = [e for e in registry.history(MODEL, settings=guard) if e.action == "rollback"]
    assert [(e.from_version, e.to_version) for e in rollbacks] == [("2", "1"), ("2", "1")]
    keys = [e.alert_fingerprint for e in rollbacks]
    assert keys[0] != keys[1]
    assert keys == [incident_key(row) for row in done]
    # One label set, two incidents: the same fingerprint with two start times.
    assert {row.fingerprint for row in done} == {first_fingerprint}
    assert done[0].starts_at < done[1].starts_at
    print(f"\nre-fire: push -> champion moved again in {refire_latency:.1f} s")
