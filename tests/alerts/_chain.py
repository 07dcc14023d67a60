"""The whole alerting chain on loopback, built from the real files in deployments/.

Pushgateway <- a flow's push; Prometheus (1 s scrape and evaluation, the real rule file)
-> Alertmanager (the real route, bearer token from a file) -> the receiver -> the registry.
Shared by the chain test and benchmarks/receiver_latency.py --chain.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.alerts._helpers import wait_for
from tests.alerts._servers import Server, alertmanager, prometheus, pushgateway

DEPLOYMENTS = Path(__file__).resolve().parents[2] / "deployments"
RULES = DEPLOYMENTS / "prometheus" / "rules" / "mlops_guard.rules.yml"
INTERVAL = "1s"


@dataclass
class Chain:
    pushgateway: Server
    prometheus: Server
    alertmanager: Server


def prometheus_config(pushgateway_port: int, alertmanager_port: int) -> dict[str, Any]:
    """deployments/prometheus/prometheus.yml with 1 s intervals and the test's ports."""
    config: dict[str, Any] = yaml.safe_load(
        (DEPLOYMENTS / "prometheus" / "prometheus.yml").read_text()
    )
    config["global"].update(scrape_interval=INTERVAL, evaluation_interval=INTERVAL)
    config["rule_files"] = [str(RULES)]
    config["alerting"]["alertmanagers"][0]["static_configs"] = [
        {"targets": [f"127.0.0.1:{alertmanager_port}"]}
    ]
    (push_job,) = [job for job in config["scrape_configs"] if job["job_name"] == "pushgateway"]
    push_job["static_configs"] = [{"targets": [f"127.0.0.1:{pushgateway_port}"]}]
    config["scrape_configs"] = [push_job]
    return config


def alertmanager_config(receiver_url: str, token_file: Path) -> dict[str, Any]:
    """deployments/alertmanager/alertmanager.yml pointed at the test's receiver."""
    config: dict[str, Any] = yaml.safe_load(
        (DEPLOYMENTS / "alertmanager" / "alertmanager.yml").read_text()
    )
    (rollback,) = [r for r in config["receivers"] if r["name"] == "mlops-guard-rollback"]
    hook = rollback["webhook_configs"][0]
    hook["url"] = f"{receiver_url}/alertmanager"
    hook["http_config"]["authorization"]["credentials_file"] = str(token_file)
    return config


@contextmanager
def monitoring_chain(workdir: Path, receiver_url: str, token: str) -> Iterator[Chain]:
    """Start Pushgateway, Alertmanager and Prometheus; ready when Prometheus scrapes the
    gateway and knows the Alertmanager."""
    workdir.mkdir(parents=True, exist_ok=True)
    token_file = workdir / "webhook-token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    with ExitStack() as stack:
        gateway = stack.enter_context(pushgateway(workdir))
        am_config = workdir / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(alertmanager_config(receiver_url, token_file)))
        manager = stack.enter_context(alertmanager(am_config, workdir))
        prom_config = workdir / "prometheus.yml"
        prom_config.write_text(yaml.safe_dump(prometheus_config(gateway.port, manager.port)))
        prom = stack.enter_context(prometheus(prom_config, workdir))

        def ready() -> bool:
            targets = httpx.get(f"{prom.url}/api/v1/targets").json()["data"]["activeTargets"]
            managers = httpx.get(f"{prom.url}/api/v1/alertmanagers").json()["data"]
            return (
                bool(targets)
                and all(t["health"] == "up" for t in targets)
                and bool(managers["activeAlertmanagers"])
            )

        wait_for(ready, 60, "Prometheus to scrape the Pushgateway and find Alertmanager")
        yield Chain(gateway, prom, manager)
