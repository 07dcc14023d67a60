"""Helpers for the alert tests: payloads, a recording action handler, a live receiver."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mlops_guard.alerts import ActionOutcome, StoredAlert


def alert(
    fingerprint: str = "0a1b2c3d4e5f6071",
    *,
    status: str = "firing",
    starts_at: str = "2026-11-23T16:00:00Z",
    model: str | None = "churn",
    action: str | None = "rollback",
    alertname: str = "ModelErrorRateHigh",
    **labels: str,
) -> dict[str, Any]:
    all_labels = {"alertname": alertname, **labels}
    if model is not None:
        all_labels["model"] = model
    if action is not None:
        all_labels["action"] = action
    return {
        "status": status,
        "labels": all_labels,
        "annotations": {"summary": "error rate 40% on churn"},
        "startsAt": starts_at,
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
        "fingerprint": fingerprint,
    }


def payload(*alerts: dict[str, Any], status: str = "firing") -> dict[str, Any]:
    """An Alertmanager webhook body (version 4), as Alertmanager 0.25 sends it."""
    return {
        "version": "4",
        "groupKey": '{}:{alertname="ModelErrorRateHigh"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "mlops-guard-rollback",
        "groupLabels": {"alertname": "ModelErrorRateHigh"},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": list(alerts) or [alert()],
    }


@dataclass
class RecordingHandler:
    """Stands in for the registry in unit tests of the inbox and the processor (the real
    registry is exercised in test_end_to_end.py): records every call, and can fail on purpose."""

    failures: list[BaseException] = field(default_factory=list)
    calls: list[StoredAlert] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, stored: StoredAlert) -> ActionOutcome:
        with self.lock:
            self.calls.append(stored)
            if self.failures:
                raise self.failures.pop(0)
        return ActionOutcome("done", {"model": stored.model, "rolled_back": True})


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until ``condition()`` is truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)  # polling interval of a deadline loop, not a synchronisation sleep


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(app: Any) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a loopback port in a thread; yields the base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, 20, "uvicorn to start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)
