"""Live drift closes the loop through the real alert chain.

A scoring server answers with v2 (promoted after v1). Live traffic shifts in the strongest
feature of the churn data (``tenure_months``, 1.5 standard deviations shorter): the server's
live drift check raises the column's drift statistic and finds the predictions drifted from
v2's reference, while the data set as a whole (one column in ten) has not drifted. That is
what the shipped rule ``ServingPredictionDrift`` reads as the version's fault: real
Prometheus scrapes the server's ``/metrics`` and fires it, real Alertmanager routes it with the
real route to the real receiver, the receiver rolls the champion back in the real MLflow store
(SQLite) and tells the server, and the server answers with v1.

Only what would make the test slow or clash with other processes is changed: 1 s scrape and
evaluation intervals, loopback ports, the token file, and, in a test copy of
``serving.rules.yml``, ``ServingPredictionDrift``'s ``for: 10m`` shortened to ``for: 2s``
(every other rule is as shipped). When the inputs drift as a data set (half the columns or
more), the same rule stays quiet and ``DataDrift`` (retrain, 30 m) applies instead: that
branch is proved by promtool on ``deployments/prometheus/tests/serving.test.yml``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pandas as pd
import pytest
import yaml
from pydantic import SecretStr

from mlops_guard.alerts import AlertsSettings, AlertStore, create_app
from mlops_guard.demo import SyntheticSpec, make_dataset
from mlops_guard.registry import get_champion, history, promote
from mlops_guard.serving import ServingSettings
from tests.alerts._chain import DEPLOYMENTS, alertmanager_config
from tests.alerts._helpers import live_server, wait_for
from tests.alerts._servers import alertmanager, prometheus
from tests.serving.conftest import FEATURES, MODEL, start_served

pytestmark = [pytest.mark.slow, pytest.mark.servers]

WEBHOOK_TOKEN = "chain-webhook-token"
RELOAD_TOKEN = "chain-reload-token"
RULES = DEPLOYMENTS / "prometheus" / "rules" / "serving.rules.yml"
SHORT_FOR = "2s"  # the shipped 10m, shortened for the test only
SHIFT = {"tenure_months": -1.5}


def _rules_copy(path: Path) -> Path:
    """serving.rules.yml with ServingPredictionDrift's `for` shortened; nothing else changed."""
    rules: dict[str, Any] = yaml.safe_load(RULES.read_text())
    (rule,) = [
        r
        for group in rules["groups"]
        for r in group["rules"]
        if r.get("alert") == "ServingPredictionDrift"
    ]
    assert rule["for"] == "10m", "the shipped rule changed: revisit this test"
    rule["for"] = SHORT_FOR
    path.write_text(yaml.safe_dump(rules, sort_keys=False))
    return path


def _prometheus_config(serving: str, alertmanager_port: int, rules: Path) -> dict[str, Any]:
    """deployments/prometheus/prometheus.yml with 1 s intervals, scraping only the scoring
    server (its own job, as shipped) and alerting the test's Alertmanager."""
    config: dict[str, Any] = yaml.safe_load(
        (DEPLOYMENTS / "prometheus" / "prometheus.yml").read_text()
    )
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(rules)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{alertmanager_port}"]}
    ]
    (job,) = [j for j in config["scrape_configs"] if j["job_name"] == "mlops_guard_serving"]
    job["static_configs"] = [{"targets": [urlsplit(serving).netloc]}]
    config["scrape_configs"] = [job]
    return config


def _rows(n: int, seed: int, **drift: float) -> pd.DataFrame:
    return make_dataset(SyntheticSpec(rows=n, seed=seed, drift=drift))[list(FEATURES)]


def test_live_drift_rolls_the_champion_back_through_prometheus_and_alertmanager(
    tmp_path: Path, trained_store: Path, request: pytest.FixtureRequest
) -> None:
    from mlops_guard.metrics import GuardMetrics

    served, running = start_served(
        tmp_path / "served",
        trained_store,
        champion="1",
        reload_token=RELOAD_TOKEN,
        canary_judge=False,
        drift_every_requests=5,
        drift_window_rows=1000,
        drift_min_rows=500,
    )
    request.addfinalizer(running.stop)
    server = served.server
    promote(MODEL, "2", reason="v2 is out", actor="test", settings=served.settings)
    auth = {"Authorization": f"Bearer {RELOAD_TOKEN}"}
    assert httpx.post(f"{served.url}/-/reload", headers=auth, timeout=60).json()["champion"] == "2"

    def send(frame: pd.DataFrame) -> set[str]:
        versions = set()
        for start in range(0, len(frame), 100):
            body = json.loads(frame.iloc[start : start + 100].to_json(orient="split", index=False))
            answer = httpx.post(
                f"{served.url}/invocations", json={"dataframe_split": body}, timeout=30
            )
            assert answer.status_code == 200, answer.text
            versions.add(answer.headers["X-Model-Version"])
        server.settle()
        return versions

    def gauge(name: str, **labels: str) -> float | None:
        return server.metrics.sample(name, {"model": MODEL, **labels})

    receiver_metrics = GuardMetrics()
    guard = served.settings.model_copy(update={"webhook_token": SecretStr(WEBHOOK_TOKEN)})
    app = create_app(
        guard_settings=guard,
        settings=AlertsSettings(store=guard.workdir / "alerts" / "inbox.sqlite"),
        metrics=receiver_metrics,
        serving=ServingSettings(url=served.url, reload_token=SecretStr(RELOAD_TOKEN)),
    )
    chain = tmp_path / "chain"
    chain.mkdir()
    token_file = chain / "webhook-token"
    token_file.write_text(WEBHOOK_TOKEN)
    token_file.chmod(0o600)
    with ExitStack() as stack:
        receiver = stack.enter_context(live_server(app))
        am_config = chain / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(alertmanager_config(receiver, token_file)))
        manager = stack.enter_context(alertmanager(am_config, chain))
        prom_config = chain / "prometheus.yml"
        rules = _rules_copy(chain / "serving.rules.yml")
        prom_config.write_text(yaml.safe_dump(_prometheus_config(served.url, manager.port, rules)))
        prom = stack.enter_context(prometheus(prom_config, chain))

        def query(expr: str) -> list[dict[str, Any]]:
            answer = httpx.get(f"{prom.url}/api/v1/query", params={"query": expr}, timeout=10)
            assert answer.status_code == 200, answer.text
            return list(answer.json()["data"]["result"])

        def scraped(expr: str) -> Callable[[], bool]:
            return lambda: bool(query(expr))

        wait_for(scraped('up{job="mlops_guard_serving"} == 1'), 60, "Prometheus to scrape")

        # Clean traffic first: the live check runs and finds nothing, and nothing fires.
        assert send(_rows(2000, seed=800)) == {"2"}
        assert gauge("mlops_guard_serving_prediction_drift", model_version="2") == 0.0
        wait_for(
            scraped('mlops_guard_serving_prediction_drift{model_version="2"} == 0'),
            30,
            "the clean verdict in Prometheus",
        )

        # One strong feature shifts: the column drifts, the predictions drift, the data set
        # (one column in ten) does not.
        shifted_at = time.monotonic()
        assert send(_rows(2000, seed=801, **SHIFT)) == {"2"}
        report = server.drift["2"].last_report
        assert gauge("mlops_guard_serving_prediction_drift", model_version="2") == 1.0, (
            json.dumps(report.to_json()) if report is not None else None
        )
        assert gauge("mlops_guard_dataset_drift") == 0.0
        statistic = gauge(
            "mlops_guard_drift_column_statistic", column="tenure_months", test="wasserstein"
        )
        assert statistic is not None
        assert statistic > 0.1

        # The chain does the rest: no call of ours from here on moves anything.
        wait_for(lambda: get_champion(MODEL, settings=guard) == "1", 90, "the rollback")
        wait_for(lambda: send(_rows(100, seed=802)) == {"1"}, 30, "the server to answer v1")
        latency = time.monotonic() - shifted_at
        store: AlertStore = app.state.store
        wait_for(lambda: store.list(state="done"), 10, "the inbox row to be done")
        (row,) = store.list(state="done")
        fired = query('ALERTS{alertname="ServingPredictionDrift", alertstate="firing"}')
        app.state.reload.wait(30)

    assert row.alertname == "ServingPredictionDrift"
    assert (row.labels["action"], row.labels["model_version"]) == ("rollback", "2")
    assert {f["metric"]["model_version"] for f in fired} == {"2"}
    (event,) = [e for e in history(MODEL, settings=guard) if e.action == "rollback"]
    assert (event.from_version, event.to_version, event.actor) == ("2", "1", "alertmanager")
    assert event.alert_fingerprint is not None
    assert event.alert_fingerprint.startswith(row.fingerprint + "@")
    assert app.state.reload.sent == 1  # the receiver told the server, not only its poll
    switch = server.watch.switches[-1]
    assert (switch.alias, switch.from_version, switch.to_version) == ("champion", "2", "1")
    # The replaced version's verdict is gone from /metrics, so its alert resolves.
    assert gauge("mlops_guard_serving_prediction_drift", model_version="2") is None
    print(f"\nshifted traffic sent -> server answering v1: {latency:.1f} s")
