"""The Pushgateway sink of mlops_guard.metrics against a real Pushgateway."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from mlops_guard.metrics import GuardMetrics, MetricsSink
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import free_port
from tests.alerts._servers import pushgateway

pytestmark = pytest.mark.servers


def _groups(url: str) -> list[dict[str, str]]:
    data = httpx.get(f"{url}/api/v1/metrics").json()["data"]
    return sorted((g["labels"] for g in data), key=lambda labels: sorted(labels.items()))


def _push_foreign(url: str, **grouping: str) -> None:
    registry = CollectorRegistry()
    Gauge("mlops_guard_model_error_rate", "x", registry=registry).set(0.4)
    push_to_gateway(url, job="mlops_guard", registry=registry, grouping_key=grouping)


def _dead_pid() -> int:
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(child.stdout)


def test_push_groups_by_job_flow_and_instance(
    tmp_path: Path, settings: GuardSettings, metrics: GuardMetrics
) -> None:
    with pushgateway(tmp_path) as gateway:
        push = settings.model_copy(update={"pushgateway_url": gateway.url})
        metrics.model_error_rate.labels(model="churn", model_version="2").set(0.25)
        assert MetricsSink(push, metrics).flush(flow="inference")
        (group,) = _groups(gateway.url)
        assert group == {
            "job": "mlops_guard",
            "flow": "inference",
            "instance": f"{socket.gethostname()}:{os.getpid()}",
        }
        scraped = httpx.get(f"{gateway.url}/metrics").text
        assert (
            'mlops_guard_model_error_rate{flow="inference",instance="'
            f'{socket.gethostname()}:{os.getpid()}",job="mlops_guard",model="churn",'
            'model_version="2"} 0.25'
        ) in scraped


def test_stale_groups_of_the_same_flow_are_deleted(
    tmp_path: Path, settings: GuardSettings, metrics: GuardMetrics
) -> None:
    host = socket.gethostname()
    with pushgateway(tmp_path) as gateway:
        dead = f"{host}:{_dead_pid()}"
        _push_foreign(gateway.url, flow="inference", instance=dead)
        _push_foreign(gateway.url, flow="inference", instance="other-host:7")
        _push_foreign(gateway.url, flow="drift_check", instance=f"{host}:{_dead_pid()}")
        push = settings.model_copy(update={"pushgateway_url": gateway.url})
        sink = MetricsSink(push, metrics)
        assert sink.flush(flow="inference")
        instances = {(g["flow"], g["instance"]) for g in _groups(gateway.url)}
        # The dead local run's group is gone; another host's recent run and other flows stay.
        assert ("inference", dead) not in instances
        assert ("inference", "other-host:7") in instances
        assert ("inference", f"{host}:{os.getpid()}") in instances
        assert len([i for i in instances if i[0] == "drift_check"]) == 1
        # An hour later the other host's group is stale too; ours never is.
        deleted = sink.prune_stale_groups("inference", now=time.time() + 2 * 3600)
        assert [d["instance"] for d in deleted] == ["other-host:7"]
        assert {g["instance"] for g in _groups(gateway.url) if g["flow"] == "inference"} == {
            f"{host}:{os.getpid()}"
        }
        assert sink.delete(flow="inference")
        assert [g["flow"] for g in _groups(gateway.url)] == ["drift_check"]


def test_unreachable_gateway_is_counted_not_raised(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    push = settings.model_copy(
        update={
            "pushgateway_url": f"http://127.0.0.1:{free_port()}",
            "pushgateway_timeout_seconds": 1,
        }
    )
    assert MetricsSink(push, metrics).flush(flow="inference") is False
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "pushgateway"}) == 1
