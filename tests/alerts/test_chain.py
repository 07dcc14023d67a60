"""The real chain: a flow pushes an error rate, Prometheus fires the rule, Alertmanager posts to
the receiver, the champion is rolled back and the history names the alert's fingerprint.

Real Pushgateway, Prometheus and Alertmanager (Debian's binaries, loopback ports, own data
dirs), the real rule and Alertmanager files from deployments/ (only intervals, ports and the
token file changed), the real receiver and the real MLflow registry (SQLite).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from mlops_guard import registry
from mlops_guard.alerts import AlertStore, create_app
from mlops_guard.metrics import GuardMetrics, MetricsSink
from mlops_guard.settings import GuardSettings
from tests.alerts._chain import monitoring_chain
from tests.alerts._helpers import live_server, wait_for
from tests.alerts._models import MODEL

pytestmark = [pytest.mark.slow, pytest.mark.servers]

TOKEN = "chain-token"


def test_pushed_error_rate_rolls_the_champion_back(
    tmp_path: Path, registered: GuardSettings, metrics: GuardMetrics
) -> None:
    guard = registered.model_copy(update={"webhook_token": SecretStr(TOKEN)})
    app = create_app(guard_settings=guard, metrics=metrics)
    with (
        live_server(app) as receiver,
        monitoring_chain(tmp_path / "chain", receiver, TOKEN) as chain,
    ):
        assert registry.get_champion(MODEL, settings=guard) == "2"
        # What the inference flow does after a batch: set the gauges, push.
        flow_metrics = GuardMetrics()
        flow_metrics.model_error_rate.labels(model=MODEL, model_version="2").set(0.4)
        flow_settings = guard.model_copy(update={"pushgateway_url": chain.pushgateway.url})
        pushed_at = time.monotonic()
        assert MetricsSink(flow_settings, flow_metrics).flush(flow="inference")
        wait_for(lambda: registry.get_champion(MODEL, settings=guard) == "1", 60, "the rollback")
        latency = time.monotonic() - pushed_at

        store: AlertStore = app.state.store
        wait_for(lambda: store.counts().get("done") == 1, 10, "the inbox row to be done")
        (row,) = store.list(state="done")
        alerts = httpx.get(f"{chain.alertmanager.url}/api/v2/alerts").json()
        (am_alert,) = [a for a in alerts if a["labels"]["alertname"] == "ModelErrorRateHigh"]

    assert row.alertname == "ModelErrorRateHigh"
    assert row.labels["action"] == "rollback"
    assert row.labels["model_version"] == "2"
    assert row.fingerprint == am_alert["fingerprint"]
    (event,) = [e for e in registry.history(MODEL, settings=guard) if e.action == "rollback"]
    assert (event.from_version, event.to_version) == ("2", "1")
    assert event.alert_fingerprint is not None
    assert event.alert_fingerprint.startswith(am_alert["fingerprint"] + "@")
    print(f"\nalert chain latency (push -> champion moved): {latency:.2f} s")
