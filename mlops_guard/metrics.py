"""Prometheus metrics of mlops-guard, and where they go.

All metric names follow Prometheus conventions: the ``mlops_guard_`` prefix, base units,
``_total`` on counters, ``_seconds`` on durations. Label sets are bounded: flow, stage and model
names, versions, column names of a fixed schema; never a row id, a path or free text.

Exposition:

* by default a textfile in the working directory (for node_exporter's textfile collector or a
  human), written atomically;
* a Pushgateway push when ``MLOPS_GUARD_PUSHGATEWAY_URL`` is set (batch flows);
* an HTTP ``/metrics`` endpoint on long-running processes (see :func:`serve_http`).

A sink that fails is logged and counted in ``mlops_guard_sink_failures_total``; it never raises
into the pipeline.

>>> m = GuardMetrics()
>>> m.stage_failures_total.labels(flow="train", stage="fit", model="churn").inc()
>>> b"mlops_guard_stage_failures_total" in m.exposition()
True
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["GuardMetrics", "MetricsSink", "get_metrics", "reset_metrics", "serve_http"]

_log = logging.getLogger("mlops_guard.metrics")

# Stages range from milliseconds (a lookup) to an hour (training); default client buckets stop
# at 10 s, which would put every training run in +Inf.
STAGE_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
# Checkpoint saves: tens of milliseconds on local disk up to minutes on slow object storage.
SAVE_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
# Training steps: sub-millisecond toy steps to multi-second large-model steps.
STEP_BUCKETS = (0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class GuardMetrics:
    """Every metric the project defines, registered on one :class:`CollectorRegistry`."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        stage = ("flow", "stage", "model")

        # Foundation: stages and sinks.
        self.stage_duration_seconds = Histogram(
            "mlops_guard_stage_duration_seconds",
            "Wall time of a guarded pipeline stage.",
            stage,
            buckets=STAGE_BUCKETS,
            registry=r,
        )
        self.stage_runs_total = Counter(
            "mlops_guard_stage_runs_total",
            "Guarded stage runs by outcome.",
            (*stage, "status"),
            registry=r,
        )
        self.stage_failures_total = Counter(
            "mlops_guard_stage_failures_total",
            "Guarded stages that raised.",
            stage,
            registry=r,
        )
        self.stage_last_success_timestamp_seconds = Gauge(
            "mlops_guard_stage_last_success_timestamp_seconds",
            "Unix time a stage last completed.",
            stage,
            registry=r,
        )
        self.sink_failures_total = Counter(
            "mlops_guard_sink_failures_total",
            "Run-log, metrics or event sinks that failed; the pipeline went on.",
            ("sink",),
            registry=r,
        )

        # Predictions.
        self.predictions_total = Counter(
            "mlops_guard_predictions_total",
            "Rows scored.",
            ("model", "model_version"),
            registry=r,
        )
        self.prediction_mean_score = Gauge(
            "mlops_guard_prediction_mean_score",
            "Mean predicted probability of the positive class in the last batch.",
            ("model", "model_version"),
            registry=r,
        )
        self.prediction_positive_share = Gauge(
            "mlops_guard_prediction_positive_share",
            "Share of rows predicted positive in the last batch.",
            ("model", "model_version"),
            registry=r,
        )
        self.model_error_rate = Gauge(
            "mlops_guard_model_error_rate",
            "Share of rows in the last batch that the model failed to score.",
            ("model", "model_version"),
            registry=r,
        )
        self.model_quality = Gauge(
            "mlops_guard_model_quality",
            "Model quality on labelled data (accuracy, roc_auc, ...).",
            ("model", "model_version", "metric"),
            registry=r,
        )

        # Validation.
        self.validation_failed_expectations = Gauge(
            "mlops_guard_validation_failed_expectations",
            "Expectations the last validated batch failed.",
            ("flow", "suite"),
            registry=r,
        )
        self.validation_runs_total = Counter(
            "mlops_guard_validation_runs_total",
            "Batches validated, by outcome.",
            ("flow", "suite", "status"),
            registry=r,
        )
        self.rows_quarantined_total = Counter(
            "mlops_guard_rows_quarantined_total",
            "Rows written to quarantine.",
            ("flow", "suite"),
            registry=r,
        )

        # Drift.
        self.dataset_drift = Gauge(
            "mlops_guard_dataset_drift",
            "1 when the last drift check found data set drift, else 0.",
            ("model",),
            registry=r,
        )
        self.drift_share = Gauge(
            "mlops_guard_drift_share",
            "Share of columns that drifted in the last check.",
            ("model",),
            registry=r,
        )
        self.drift_column_statistic = Gauge(
            "mlops_guard_drift_column_statistic",
            "Drift statistic of a column in the last check (the test named in the label).",
            ("model", "column", "test"),
            registry=r,
        )
        self.concept_drift = Gauge(
            "mlops_guard_concept_drift",
            "1 when labelled quality dropped significantly below the reference, else 0.",
            ("model",),
            registry=r,
        )

        # Registry and canary.
        self.alias_moves_total = Counter(
            "mlops_guard_alias_moves_total",
            "Alias moves in the model registry.",
            ("model", "alias", "action"),
            registry=r,
        )
        self.champion_version = Gauge(
            "mlops_guard_champion_version",
            "Version number the champion alias points at.",
            ("model",),
            registry=r,
        )
        self.canary_score = Gauge(
            "mlops_guard_canary_score",
            "Score (0-100) of the last canary judgement.",
            ("model",),
            registry=r,
        )
        self.canary_judgements_total = Counter(
            "mlops_guard_canary_judgements_total",
            "Canary judgements by verdict (pass, marginal, fail, inconclusive).",
            ("model", "verdict"),
            registry=r,
        )

        # Alerts.
        self.alerts_received_total = Counter(
            "mlops_guard_alerts_received_total",
            "Alerts received by the webhook receiver, by what was done with them.",
            ("status",),
            registry=r,
        )
        self.alert_actions_total = Counter(
            "mlops_guard_alert_actions_total",
            "Actions taken on alerts, by outcome.",
            ("action", "outcome"),
            registry=r,
        )
        self.alerts_pending = Gauge(
            "mlops_guard_alerts_pending",
            "Alerts stored but not yet acted on.",
            registry=r,
        )

        # Training monitors.
        monitor = ("job", "model")
        self.checkpoint_save_seconds = Histogram(
            "mlops_guard_checkpoint_save_seconds",
            "Wall time of checkpoint saves.",
            monitor,
            buckets=SAVE_BUCKETS,
            registry=r,
        )
        self.seconds_since_checkpoint = Gauge(
            "mlops_guard_seconds_since_checkpoint",
            "Seconds since the last completed checkpoint.",
            monitor,
            registry=r,
        )
        self.step_seconds = Histogram(
            "mlops_guard_step_seconds",
            "Wall time between training-step heartbeats.",
            monitor,
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.training_stalled = Gauge(
            "mlops_guard_training_stalled",
            "1 while the watchdog considers training stalled, else 0.",
            monitor,
            registry=r,
        )
        self.checkpoint_slow_saves_total = Counter(
            "mlops_guard_checkpoint_slow_saves_total",
            "Checkpoint saves slower than the configured factor times the median save.",
            monitor,
            registry=r,
        )
        self.straggler_score = Gauge(
            "mlops_guard_straggler_score",
            "Median step time of all workers divided by this worker's (below 0.75: straggler).",
            (*monitor, "worker"),
            registry=r,
        )

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)

    def sample(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """The current value of one sample, or None; for tests and summaries."""
        return self.registry.get_sample_value(name, labels or {})


_default: GuardMetrics | None = None
_default_lock = threading.Lock()


def get_metrics() -> GuardMetrics:
    """The process-wide metrics (created on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = GuardMetrics()
        return _default


def reset_metrics() -> GuardMetrics:
    """Replace the process-wide metrics with fresh ones (tests; a long-lived worker's new job)."""
    global _default
    with _default_lock:
        _default = GuardMetrics()
        return _default


class MetricsSink:
    """Writes a :class:`GuardMetrics` registry to the textfile or the Pushgateway.

    ``flush()`` never raises: a failure is logged, counted in
    ``mlops_guard_sink_failures_total{sink=...}`` and reported by the return value.
    """

    def __init__(self, settings: GuardSettings, metrics: GuardMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or get_metrics()
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return "pushgateway" if self.settings.pushgateway_url else "textfile"

    def flush(self, *, flow: str | None = None) -> bool:
        """Write or push the current metrics. Returns False (and counts) when the sink failed."""
        with self._lock:
            try:
                if self.settings.pushgateway_url:
                    self._push(flow)
                else:
                    self._write_textfile()
            except Exception as exc:  # noqa: BLE001 - a sink must never fail the job
                self.metrics.sink_failures_total.labels(sink=self.kind).inc()
                _log.warning(
                    "metrics %s sink failed (%s: %s); the pipeline goes on",
                    self.kind,
                    type(exc).__name__,
                    exc,
                )
                return False
            return True

    def _write_textfile(self) -> None:
        from prometheus_client import write_to_textfile

        path = self.settings.metrics_textfile
        path.parent.mkdir(parents=True, exist_ok=True)
        write_to_textfile(str(path), self.metrics.registry)

    def _push(self, flow: str | None) -> None:
        from prometheus_client import push_to_gateway

        assert self.settings.pushgateway_url is not None
        grouping = {"instance": _instance()}
        if flow:
            grouping["flow"] = flow
        push_to_gateway(
            self.settings.pushgateway_url,
            job=self.settings.metrics_job,
            registry=self.metrics.registry,
            grouping_key=grouping,
            timeout=self.settings.pushgateway_timeout_seconds,
        )


def _instance() -> str:
    # Host and pid: two workers on one host must not overwrite each other's group.
    return f"{socket.gethostname()}:{os.getpid()}"


def serve_http(
    metrics: GuardMetrics | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> tuple[str, int]:
    """Serve ``/metrics`` on a daemon thread; returns the bound (host, port).

    Binds to loopback unless told otherwise.
    """
    from prometheus_client import start_http_server

    server, _thread = start_http_server(
        port, addr=host, registry=(metrics or get_metrics()).registry
    )
    bound_host, bound_port = server.server_address[:2]
    return str(bound_host), int(bound_port)


def textfile_path(settings: GuardSettings) -> Path:
    """Where the textfile sink writes, for messages and summaries."""
    return settings.metrics_textfile
