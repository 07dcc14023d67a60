"""The alerting half of a drill: the product's receiver on a loopback port, and the rollback
rules evaluated on the metrics the pipelines export.

:class:`Receiver` serves :func:`mlops_guard.alerts.create_app` with uvicorn on 127.0.0.1 and a
fresh token, as ``mlops-guard alerts serve`` would. :class:`RuleEvaluator` reads the textfiles
the pipelines write (``<workdir>/metrics/*.prom``) and, when a rollback rule of
``deployments/prometheus/rules/mlops_guard.rules.yml`` holds, posts Alertmanager's webhook
(payload version "4", one alert, the rule's labels) to the receiver: what Prometheus and
Alertmanager do with the same files, without their scrape and group intervals.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["Receiver", "RuleEvaluator", "alert_payload", "fingerprint"]

_log = logging.getLogger("mlops_guard.drills")

# How often the evaluator reads the textfiles (Prometheus' evaluation interval, in a drill).
_EVALUATION_SECONDS = 0.1


@dataclass(frozen=True)
class _Rule:
    alertname: str
    metric: str
    holds: Callable[[float], bool]
    labels: tuple[str, ...]
    summary: str


# The rules of mlops_guard.rules.yml whose action is a rollback (the only ones a drill acts on).
_ROLLBACK_RULES = (
    _Rule(
        "ModelWorseThanPrevious",
        "mlops_guard_model_worse_than_previous",
        lambda value: value == 1,
        ("model", "model_version", "previous_version"),
        "scores labelled data worse than the version it replaced",
    ),
    _Rule(
        "ModelErrorRateHigh",
        "mlops_guard_model_error_rate",
        lambda value: value > 0.05,
        ("model", "model_version"),
        "failed to score more than 5% of its last batch",
    ),
)


def fingerprint(labels: dict[str, str]) -> str:
    """A stable fingerprint of a label set (Alertmanager's is a hash of the labels too)."""
    text = ",".join(f"{k}={labels[k]}" for k in sorted(labels))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def alert_payload(labels: dict[str, str], *, summary: str, starts_at: str) -> dict[str, Any]:
    """Alertmanager's webhook body (version "4") for one firing alert."""
    return {
        "version": "4",
        "status": "firing",
        "receiver": "mlops-guard-rollback",
        "groupKey": "{}:{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}",
        "alerts": [
            {
                "status": "firing",
                "labels": labels,
                "annotations": {"summary": summary},
                "startsAt": starts_at,
                "fingerprint": fingerprint(labels),
            }
        ],
    }


class Receiver:
    """The product's alert receiver, served on a loopback port for the length of a run."""

    def __init__(self, settings: GuardSettings) -> None:
        import secrets

        from pydantic import SecretStr

        self.token = secrets.token_urlsafe(24)
        self.settings = settings.model_copy(update={"webhook_token": SecretStr(self.token)})
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._sock: Any = None
        self.app: Any = None

    def start(self, timeout: float = 60.0) -> Receiver:
        import socket

        import uvicorn

        from mlops_guard.alerts import AlertsSettings, create_app

        self.app = create_app(guard_settings=self.settings, settings=AlertsSettings())
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        self._sock = sock
        self.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="on")
        )
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise TimeoutError("the alert receiver did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self._sock is not None:
            self._sock.close()

    def post(self, payload: dict[str, Any], client: Any = None) -> int:
        """Deliver one webhook; returns the HTTP status."""
        import httpx

        from mlops_guard.alerts import WEBHOOK_PATH

        headers = {"Authorization": f"Bearer {self.token}"}
        if client is not None:
            answer = client.post(f"{self.url}{WEBHOOK_PATH}", json=payload, headers=headers)
        else:
            answer = httpx.post(
                f"{self.url}{WEBHOOK_PATH}", json=payload, headers=headers, timeout=30
            )
        return int(answer.status_code)

    def alert_states(self) -> dict[str, int]:
        """The inbox's rows by state."""
        counts: dict[str, int] = self.app.state.store.counts()
        return counts


class RuleEvaluator:
    """Evaluates the rollback rules on the metrics textfiles and notifies the receiver once
    per firing onset (see the module docs)."""

    def __init__(self, settings: GuardSettings, receiver: Receiver) -> None:
        self.settings = settings
        self.receiver = receiver
        self._firing: dict[str, str] = {}
        self.notified: list[dict[str, Any]] = []
        self._running = False
        self._thread: threading.Thread | None = None

    def start(self) -> RuleEvaluator:
        self._running = True
        self._thread = threading.Thread(
            target=self._loop, name="mlops-guard-drill-rules", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while self._running:
            try:
                self.evaluate()
            except Exception as exc:  # noqa: BLE001 - one bad read must not stop the rules
                _log.warning("rule evaluation failed (%s: %s)", type(exc).__name__, exc)
            time.sleep(_EVALUATION_SECONDS)

    def _samples(self) -> list[tuple[str, dict[str, str], float]]:
        from prometheus_client.parser import text_string_to_metric_families

        found: list[tuple[str, dict[str, str], float]] = []
        directory = self.settings.metrics_dir
        if not directory.is_dir():
            return found
        for path in sorted(directory.glob("*.prom")):
            try:
                text = path.read_text(encoding="utf-8")
            except OSError:
                continue
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    found.append((sample.name, dict(sample.labels), float(sample.value)))
        return found

    def evaluate(self) -> None:
        """One evaluation: notify the receiver of every rule that started to hold."""
        holding: dict[str, tuple[_Rule, dict[str, str]]] = {}
        for name, labels, value in self._samples():
            for rule in _ROLLBACK_RULES:
                if name != rule.metric or not rule.holds(value):
                    continue
                # `max by (...)`: the rule's own label set, then the rule's labels.
                alert = {k: labels[k] for k in rule.labels if k in labels}
                alert.update(alertname=rule.alertname, severity="critical", action="rollback")
                holding[fingerprint(alert)] = (rule, alert)
        for key in list(self._firing):
            if key not in holding:
                del self._firing[key]  # resolved: a later onset is a new incident
        for key, (rule, labels) in holding.items():
            if key in self._firing:
                continue
            starts_at = datetime.now(UTC).isoformat()
            self._firing[key] = starts_at
            payload = alert_payload(
                labels,
                summary=f"{labels.get('model')} v{labels.get('model_version')} {rule.summary}",
                starts_at=starts_at,
            )
            self.notified.append(payload)
            self.receiver.post(payload)
