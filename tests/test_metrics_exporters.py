"""Each flow's metrics stay visible where Prometheus reads them: a real Pushgateway and a real
node_exporter reading the textfile directory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from mlops_guard.metrics import GuardMetrics, MetricsSink
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import free_port
from tests.alerts._servers import Server, pushgateway, require, run_server

pytestmark = pytest.mark.servers

# Debian's package name; it comes with `apt-get install prometheus` (a recommended package).
NODE_EXPORTER = "prometheus-node-exporter"
INFERENCE = "mlops-guard-inference"
DRIFT = "drift_check"


@contextmanager
def node_exporter(textfile_directory: Path, workdir: Path) -> Iterator[Server]:
    """node_exporter with only the textfile collector, reading ``textfile_directory``."""
    binary = require(NODE_EXPORTER)[NODE_EXPORTER]
    port = free_port()
    args = [
        "--collector.disable-defaults",
        "--collector.textfile",
        f"--collector.textfile.directory={textfile_directory}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with run_server(binary, args, port, workdir / "node_exporter", ready_path="/metrics") as server:
        yield server


def _scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = httpx.get(f"{url}/metrics", timeout=10)
    response.raise_for_status()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def _flows(scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str) -> set[str]:
    return {
        dict(labels).get("flow", "") for (sample, labels), _ in scraped.items() if sample == name
    }


def _inference_process() -> GuardMetrics:
    # Each flow runs in a process of its own, with metrics of its own.
    metrics = GuardMetrics()
    metrics.model_error_rate.labels(model="churn", model_version="3").set(0.12)
    metrics.champion_version.labels(model="churn").set(3)
    return metrics


def _drift_process() -> GuardMetrics:
    metrics = GuardMetrics()
    metrics.dataset_drift.labels(model="churn").set(1)
    metrics.champion_version.labels(model="churn").set(3)
    return metrics


def test_pushes_of_two_flows_both_stay_on_the_pushgateway(
    tmp_path: Path, settings: GuardSettings
) -> None:
    with pushgateway(tmp_path) as gateway:
        push = settings.model_copy(update={"pushgateway_url": gateway.url})
        inference = MetricsSink(push, _inference_process())
        assert inference.flush(flow=INFERENCE)
        assert MetricsSink(push, _drift_process()).flush(flow=DRIFT)
        assert inference.flush(flow=INFERENCE)  # a flow's next push replaces only its group

        groups = httpx.get(f"{gateway.url}/api/v1/metrics").json()["data"]
        assert sorted(g["labels"]["flow"] for g in groups) == [DRIFT, INFERENCE]
        scraped = _scrape(gateway.url)
        assert _flows(scraped, "mlops_guard_model_error_rate") == {INFERENCE}
        assert _flows(scraped, "mlops_guard_dataset_drift") == {DRIFT}
        assert _flows(scraped, "mlops_guard_champion_version") == {INFERENCE, DRIFT}


def test_node_exporter_reads_every_flows_file_without_a_clash(
    tmp_path: Path, settings: GuardSettings
) -> None:
    assert MetricsSink(settings, _inference_process()).flush(flow=INFERENCE)
    assert MetricsSink(settings, _drift_process()).flush(flow=DRIFT)
    files = sorted(settings.metrics_dir.iterdir())
    assert [f.suffix for f in files] == [".prom", ".prom"]  # the collector reads only *.prom

    with node_exporter(settings.metrics_dir, tmp_path) as exporter:
        scraped = _scrape(exporter.url)
        log = exporter.log.read_text()
    assert _flows(scraped, "mlops_guard_model_error_rate") == {INFERENCE}
    assert _flows(scraped, "mlops_guard_dataset_drift") == {DRIFT}
    # Both flows set the champion gauge (and every registry has a gauge without labels): as one
    # series in two files node_exporter would keep one and log an error on every scrape.
    assert _flows(scraped, "mlops_guard_champion_version") == {INFERENCE, DRIFT}
    assert _flows(scraped, "mlops_guard_alerts_pending") == {INFERENCE, DRIFT}
    assert "collected before" not in log
    assert scraped[("node_textfile_scrape_error", frozenset())] == 0
    read = {
        dict(labels)["file"] for (name, labels) in scraped if name == "node_textfile_mtime_seconds"
    }
    assert {Path(f).name for f in read} == {f.name for f in files}
