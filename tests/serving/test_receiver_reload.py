"""The alert receiver tells the scoring server about a rollback at once (``POST /-/reload``).

Real components only: the scoring server and the receiver on loopback (uvicorn), one MLflow
store (SQLite) behind both, the receiver's real in-process rollback. The server polls the
registry only every 60 s here (the longest poll allowed), so only the receiver's call can
explain a switch within seconds.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from mlops_guard.alerts import AlertsSettings, AlertStore, create_app
from mlops_guard.demo import SyntheticSpec, make_dataset
from mlops_guard.metrics import GuardMetrics
from mlops_guard.registry import get_champion, history, promote
from mlops_guard.serving import ServingSettings
from tests.alerts._helpers import alert, free_port, live_server, payload, wait_for
from tests.serving.conftest import FEATURES, MODEL, Served, start_served

RELOAD_TOKEN = "reload-token-never-logged"
WEBHOOK_TOKEN = "webhook-token"
# The longest poll allowed, three times the switch deadline below: a switch within it is the
# reload's doing.
SLOW_POLL_SECONDS = 60.0


@pytest.fixture
def served_v2(tmp_path: Path, trained_store: Path) -> Iterator[Served]:
    """A server answering with v2 (promoted after v1), polling only every 60 s."""
    found, running = start_served(
        tmp_path / "served",
        trained_store,
        champion="1",
        reload_token=RELOAD_TOKEN,
        poll_seconds=SLOW_POLL_SECONDS,
        canary_judge=False,
    )
    promote(MODEL, "2", reason="v2 is out", actor="test", settings=found.settings)
    answer = httpx.post(
        f"{found.url}/-/reload", headers={"Authorization": f"Bearer {RELOAD_TOKEN}"}, timeout=60
    )
    assert answer.json()["champion"] == "2"
    yield found
    running.stop()


def _version(served: Served) -> str:
    """The version that answers a scoring request now."""
    rows = make_dataset(SyntheticSpec(rows=2, seed=5))[list(FEATURES)]
    answer = httpx.post(
        f"{served.url}/invocations",
        json={"dataframe_split": json.loads(rows.to_json(orient="split", index=False))},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["X-Model-Version"]


def _fire(receiver: str, fingerprint: str) -> None:
    body = payload(alert(fingerprint, alertname="ServingErrorRateHigh", model_version="2"))
    answer = httpx.post(
        f"{receiver}/alertmanager",
        content=json.dumps(body),
        headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text


def _receiver(served: Served, metrics: GuardMetrics, url: str, token: str) -> object:
    guard = served.settings.model_copy(update={"webhook_token": SecretStr(WEBHOOK_TOKEN)})
    settings = AlertsSettings(
        store=guard.workdir / "alerts" / "inbox.sqlite", backoff_initial_seconds=0.05
    )
    serving = ServingSettings(url=url, reload_token=SecretStr(token))
    return create_app(guard_settings=guard, settings=settings, metrics=metrics, serving=serving)


def test_a_rollback_reaches_the_server_at_once_not_at_its_next_poll(
    served_v2: Served, metrics: GuardMetrics, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="mlops_guard.alerts")
    assert _version(served_v2) == "2"
    app = _receiver(served_v2, metrics, served_v2.url, RELOAD_TOKEN)
    with live_server(app) as receiver:
        fired = time.time()
        _fire(receiver, "aaaa000000000001")
        # The registry moved (the receiver's own rollback) and the server answers with v1
        # within seconds, where its own poll would take a minute.
        wait_for(lambda: _version(served_v2) == "1", 20, "the server to answer with v1")
        reload = app.state.reload  # type: ignore[attr-defined]
        reload.wait(30)
        assert (reload.sent, reload.failed) == (1, 0)
    assert get_champion(MODEL, served_v2.settings) == "1"
    switch = served_v2.server.watch.switches[-1]
    assert (switch.alias, switch.from_version, switch.to_version) == ("champion", "2", "1")
    print(f"\nalert posted -> server switched: {switch.switched_at - fired:.2f} s")
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "serving_reload"}) is None
    assert "reloaded after the rollback of churn: champion 1" in caplog.text
    assert RELOAD_TOKEN not in caplog.text


@pytest.mark.parametrize("broken", ["server down", "wrong token"])
def test_a_server_that_is_down_or_refuses_never_fails_or_retries_the_alert(
    served_v2: Served, metrics: GuardMetrics, caplog: pytest.LogCaptureFixture, broken: str
) -> None:
    caplog.set_level(logging.INFO, logger="mlops_guard.alerts")
    if broken == "server down":
        url, token = f"http://127.0.0.1:{free_port()}", RELOAD_TOKEN  # nothing listens there
    else:
        url, token = served_v2.url, "not-the-reload-token"  # the server answers 401
    app = _receiver(served_v2, metrics, url, token)
    with live_server(app) as receiver:
        _fire(receiver, "bbbb000000000002")
        store: AlertStore = app.state.store  # type: ignore[attr-defined]
        wait_for(lambda: store.counts().get("done") == 1, 30, "the alert to be done")
        reload = app.state.reload  # type: ignore[attr-defined]
        reload.wait(30)
        (row,) = store.list(state="done")
    # The rollback stands, acted on once; only the notification failed, and was counted.
    assert row.attempts == 1
    assert (reload.sent, reload.failed) == (0, 1)
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "serving_reload"}) == 1.0
    assert metrics.sample(
        "mlops_guard_alert_actions_total", {"action": "rollback", "outcome": "done"}
    ) == (1.0)
    assert metrics.sample(
        "mlops_guard_alert_actions_total", {"action": "rollback", "outcome": "retried"}
    ) in (None, 0.0)
    rollbacks = [e for e in history(MODEL, settings=served_v2.settings) if e.action == "rollback"]
    assert [(e.from_version, e.to_version) for e in rollbacks] == [("2", "1")]
    assert "could not tell the scoring server to reload" in caplog.text
    assert ("HTTP 401" in caplog.text) == (broken == "wrong token")
    assert token not in caplog.text
