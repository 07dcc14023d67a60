from __future__ import annotations

import socket
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mlops_guard.metrics import GuardMetrics, MetricsSink
from mlops_guard.settings import GuardSettings


def _families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_textfile_parses_and_follows_conventions(tmp_path: Path) -> None:
    metrics = GuardMetrics()
    metrics.stage_duration_seconds.labels(flow="f", stage="s", model="m").observe(0.2)
    metrics.stage_failures_total.labels(flow="f", stage="s", model="m").inc()
    settings = GuardSettings(workdir=tmp_path)
    assert MetricsSink(settings, metrics).flush() is True
    families = _families(settings.metrics_textfile.read_text())
    assert "mlops_guard_stage_duration_seconds" in families
    # The parser strips _total from counter family names.
    assert "mlops_guard_stage_failures" in families
    for name, family in families.items():
        assert name.startswith("mlops_guard_"), name
        if family.type == "counter":  # type: ignore[attr-defined]
            assert not name.endswith("_total")
    failures = families["mlops_guard_stage_failures"]
    (sample,) = [s for s in failures.samples if s.name.endswith("_total")]  # type: ignore[attr-defined]
    assert sample.labels == {"flow": "f", "stage": "s", "model": "m"}
    assert sample.value == 1.0


def test_unwritable_textfile_is_counted_not_raised(tmp_path: Path) -> None:
    (tmp_path / "metrics").write_text("a file where the metrics directory should be")
    metrics = GuardMetrics()
    assert MetricsSink(GuardSettings(workdir=tmp_path), metrics).flush() is False
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "textfile"}) == 1.0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_pushgateway_is_counted_not_raised(tmp_path: Path) -> None:
    metrics = GuardMetrics()
    settings = GuardSettings(
        workdir=tmp_path,
        pushgateway_url=f"http://127.0.0.1:{_closed_port()}",
        pushgateway_timeout_seconds=1.0,
    )
    assert MetricsSink(settings, metrics).flush(flow="f") is False
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "pushgateway"}) == 1.0
