from __future__ import annotations

import socket
import subprocess
import sys
import threading
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from mlops_guard.metrics import GuardMetrics, MetricsSink
from mlops_guard.settings import GuardSettings

INFERENCE = "mlops-guard-inference"
DRIFT = "drift_check"


def _families(text: str) -> dict[str, object]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def test_textfile_parses_and_follows_conventions(tmp_path: Path) -> None:
    metrics = GuardMetrics()
    metrics.stage_duration_seconds.labels(flow="f", stage="s", model="m").observe(0.2)
    metrics.stage_failures_total.labels(flow="f", stage="s", model="m").inc()
    settings = GuardSettings(workdir=tmp_path)
    assert MetricsSink(settings, metrics).flush() is True
    families = _families(settings.metrics_textfile().read_text())
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


def read_directory(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of every ``*.prom`` file, as node_exporter's textfile collector reads them;
    fails on a series found in two files (node_exporter would drop one of them)."""
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for path in sorted(directory.glob("*.prom")):
        for family in text_string_to_metric_families(path.read_text()):
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                assert key not in samples, f"{key} is in two files"
                samples[key] = sample.value
    return samples


def _inference_process() -> GuardMetrics:
    # Each flow runs in a process of its own, with metrics of its own.
    metrics = GuardMetrics()
    metrics.model_error_rate.labels(model="churn", model_version="3").set(0.12)
    metrics.validation_failed_expectations.labels(flow=INFERENCE, suite="churn").set(2)
    return metrics


def _drift_process() -> GuardMetrics:
    metrics = GuardMetrics()
    metrics.dataset_drift.labels(model="churn").set(1)
    metrics.drift_share.labels(model="churn").set(0.4)
    return metrics


def test_a_drift_check_leaves_the_inference_series_in_place(tmp_path: Path) -> None:
    settings = GuardSettings(workdir=tmp_path)
    assert MetricsSink(settings, _inference_process()).flush(flow=INFERENCE)
    assert MetricsSink(settings, _drift_process()).flush(flow=DRIFT)

    samples = read_directory(settings.metrics_dir)
    error_rate = (("flow", INFERENCE), ("model", "churn"), ("model_version", "3"))
    assert samples[("mlops_guard_model_error_rate", error_rate)] == 0.12
    failed = (("flow", INFERENCE), ("suite", "churn"))
    assert samples[("mlops_guard_validation_failed_expectations", failed)] == 2
    assert samples[("mlops_guard_dataset_drift", (("flow", DRIFT), ("model", "churn")))] == 1
    assert samples[("mlops_guard_drift_share", (("flow", DRIFT), ("model", "churn")))] == 0.4
    assert sorted(p.name for p in settings.metrics_dir.iterdir()) == [
        "mlops_guard-drift_check.prom",
        "mlops_guard-mlops-guard-inference.prom",
    ]


def test_one_series_set_by_two_flows_stays_apart_in_the_directory(tmp_path: Path) -> None:
    settings = GuardSettings(workdir=tmp_path)
    training, rollback = GuardMetrics(), GuardMetrics()
    training.champion_version.labels(model="churn").set(3)
    rollback.champion_version.labels(model="churn").set(2)
    assert MetricsSink(settings, training).flush(flow="mlops-guard-training")
    assert MetricsSink(settings, rollback).flush(flow="rollback")
    # Also the series every registry has (a gauge without labels) is in both files, apart.
    samples = read_directory(settings.metrics_dir)
    champion = {
        dict(labels)["flow"]: value
        for (name, labels), value in samples.items()
        if name == "mlops_guard_champion_version"
    }
    assert champion == {"mlops-guard-training": 3, "rollback": 2}


def test_a_flows_label_replaces_a_series_own_as_on_a_pushgateway(tmp_path: Path) -> None:
    settings = GuardSettings(workdir=tmp_path)
    metrics = GuardMetrics()
    metrics.stage_failures_total.labels(flow="other", stage="fit", model="churn").inc()
    assert MetricsSink(settings, metrics).flush(flow="mlops-guard-training")
    samples = read_directory(settings.metrics_dir)
    labels = (("flow", "mlops-guard-training"), ("model", "churn"), ("stage", "fit"))
    assert samples[("mlops_guard_stage_failures_total", labels)] == 1


def test_a_flush_without_a_flow_keeps_a_file_of_its_own(tmp_path: Path) -> None:
    settings = GuardSettings(workdir=tmp_path)
    assert MetricsSink(settings, _inference_process()).flush(flow=INFERENCE)
    assert MetricsSink(settings, _drift_process()).flush()
    assert settings.metrics_textfile().is_file()
    samples = read_directory(settings.metrics_dir)
    assert samples[("mlops_guard_dataset_drift", (("model", "churn"),))] == 1
    assert (
        "mlops_guard_model_error_rate",
        (("flow", INFERENCE), ("model", "churn"), ("model_version", "3")),
    ) in samples


def test_concurrent_flushes_of_two_flows_never_cross(tmp_path: Path) -> None:
    settings = GuardSettings(workdir=tmp_path)
    rounds = 200
    start = threading.Barrier(2)
    outcomes: dict[str, list[bool]] = {INFERENCE: [], DRIFT: []}

    def flush(flow: str, metrics: GuardMetrics) -> None:
        sink = MetricsSink(settings, metrics)
        start.wait()
        for _ in range(rounds):
            outcomes[flow].append(sink.flush(flow=flow))

    threads = [
        threading.Thread(target=flush, args=(INFERENCE, _inference_process())),
        threading.Thread(target=flush, args=(DRIFT, _drift_process())),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == {INFERENCE: [True] * rounds, DRIFT: [True] * rounds}
    for flow in (INFERENCE, DRIFT):
        text = settings.metrics_textfile(flow).read_text()
        flows = {
            sample.labels["flow"]
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        assert flows == {flow}
    # Nothing but the two files: every temporary file was renamed into place.
    assert len(list(settings.metrics_dir.iterdir())) == 2


_WRITER = """
import sys
from mlops_guard.metrics import GuardMetrics, MetricsSink
from mlops_guard.settings import GuardSettings

writer, series, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
metrics = GuardMetrics()
for version in range(series):
    metrics.model_error_rate.labels(model="churn", model_version=str(version)).set(int(writer))
sink = MetricsSink(GuardSettings(workdir=sys.argv[4]), metrics)
assert all(sink.flush(flow="mlops-guard-inference") for _ in range(rounds))
"""


def test_two_processes_of_one_flow_never_leave_a_torn_file(tmp_path: Path) -> None:
    """Two runs of one flow rewrite its file at once: a reader sees one run's whole file."""
    settings = GuardSettings(workdir=tmp_path)
    series, rounds = 300, 150
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(n), str(series), str(rounds), str(tmp_path)]
        )
        for n in (1, 2)
    ]
    path = settings.metrics_textfile(INFERENCE)
    reads = 0
    while any(writer.poll() is None for writer in writers):
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue  # neither writer has renamed its first file into place yet
        values = [
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "mlops_guard_model_error_rate"
            for sample in family.samples
        ]
        assert len(values) == series
        assert len(set(values)) == 1, "a file holds two writers' lines"
        reads += 1
    assert [writer.wait() for writer in writers] == [0, 0]
    assert reads > 0
    assert [p.name for p in settings.metrics_dir.iterdir()] == [path.name]
