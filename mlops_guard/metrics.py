"""Prometheus metrics of mlops-guard, and where they go.

All metric names follow Prometheus conventions: the ``mlops_guard_`` prefix, base units,
``_total`` on counters, ``_seconds`` on durations. Label sets are bounded: flow, stage and model
names, versions, column names of a fixed schema; never a row id, a path or free text.

Exposition:

* by default a textfile per flow in ``<workdir>/metrics/`` (for node_exporter's textfile
  collector or a human), written atomically;
* a Pushgateway push when ``MLOPS_GUARD_PUSHGATEWAY_URL`` is set (batch flows), to a group per
  flow and process;
* an HTTP ``/metrics`` endpoint on long-running processes (see :func:`serve_http`).

A sink that fails is logged and counted in ``mlops_guard_sink_failures_total``; it never raises
into the pipeline.

>>> m = GuardMetrics()
>>> m.stage_failures_total.labels(flow="train", stage="fit", model="churn").inc()
>>> b"mlops_guard_stage_failures_total" in m.exposition()
True
"""

from __future__ import annotations

import copy
import logging
import os
import socket
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

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
# Scoring requests: sub-millisecond to a few seconds (a large batch), fine where SLOs sit.
SERVING_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5)
# Predictions: tenths of the unit interval, where scores of a classifier live.
PREDICTION_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


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
        self.model_quality_degraded = Gauge(
            "mlops_guard_model_quality_degraded",
            "1 when the metric on the last labelled batch was worse than the version's "
            "reference quality beyond chance and by more than its minimum effect, else 0.",
            ("model", "model_version", "metric"),
            registry=r,
        )
        self.scoring_failures_total = Counter(
            "mlops_guard_scoring_failures_total",
            "Rows that passed validation but that the model failed to score (quarantined).",
            ("model", "model_version"),
            registry=r,
        )
        self.model_worse_than_previous = Gauge(
            "mlops_guard_model_worse_than_previous",
            "1 when the version scored the last labelled batch significantly worse than the "
            "version it replaced did on the same rows, else 0.",
            ("model", "model_version", "previous_version"),
            registry=r,
        )
        self.model_loss_increase = Gauge(
            "mlops_guard_model_loss_increase",
            "Mean per-row Brier loss of the version minus that of the version it replaced, on "
            "the last labelled batch (positive: worse).",
            ("model", "model_version", "previous_version"),
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

        self._define_serving_metrics(r)

        # Training monitors.
        # Not "job": Prometheus owns that label (a push or scrape would overwrite or rename it).
        monitor = ("training_job", "model")
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

        # Trace causality: clocks estimated from cross-host spans (mlops_guard.traces).
        self.clock_offset_seconds = Gauge(
            "mlops_guard_clock_offset_seconds",
            "A host's clock minus the reference host's, estimated from trace traffic.",
            ("host",),
            registry=r,
        )
        self.clock_offset_uncertainty_seconds = Gauge(
            "mlops_guard_clock_offset_uncertainty_seconds",
            "Half the width of the interval the host's offset surely lies in.",
            ("host",),
            registry=r,
        )
        self.clock_min_one_way_delay_seconds = Gauge(
            "mlops_guard_clock_min_one_way_delay_seconds",
            "Least one-way delay seen on the host's cross-host calls and messages.",
            ("host",),
            registry=r,
        )
        self.causality_violations_total = Counter(
            "mlops_guard_causality_violations_total",
            "Parent/child span pairs across hosts whose timestamps break causality.",
            ("kind",),
            registry=r,
        )

    def _define_serving_metrics(self, r: CollectorRegistry) -> None:
        # Scoring server (mlops-guard serve). `status` is the HTTP status code, `kind` one of a
        # fixed set of error kinds, `key` an API key's id (never its secret).
        serving = ("model", "model_version")
        self.serving_requests_total = Counter(
            "mlops_guard_serving_requests_total",
            "Scoring requests answered, by HTTP status.",
            (*serving, "status"),
            registry=r,
        )
        self.serving_errors_total = Counter(
            "mlops_guard_serving_errors_total",
            "Scoring requests that failed, by error kind.",
            (*serving, "kind"),
            registry=r,
        )
        self.serving_request_seconds = Histogram(
            "mlops_guard_serving_request_seconds",
            "Latency of scoring requests, from the body read to the answer.",
            serving,
            buckets=SERVING_BUCKETS,
            registry=r,
        )
        self.serving_rows_total = Counter(
            "mlops_guard_serving_rows_total",
            "Rows scored by the server.",
            serving,
            registry=r,
        )
        self.serving_prediction = Histogram(
            "mlops_guard_serving_prediction",
            "Served predictions: the positive score of a binary classifier, the value of a "
            "regressor, the winning probability of a multiclass one.",
            serving,
            buckets=PREDICTION_BUCKETS,
            registry=r,
        )
        self.serving_in_flight = Gauge(
            "mlops_guard_serving_in_flight",
            "Scoring requests being processed.",
            ("model",),
            registry=r,
        )
        self.serving_model_version = Gauge(
            "mlops_guard_serving_model_version",
            "Version the server serves for an alias (champion, challenger).",
            ("model", "alias"),
            registry=r,
        )
        self.serving_switches_total = Counter(
            "mlops_guard_serving_switches_total",
            "Times the server switched the version it serves for an alias.",
            ("model", "alias"),
            registry=r,
        )
        self.serving_prediction_drift = Gauge(
            "mlops_guard_serving_prediction_drift",
            "1 when the live window's predictions drifted from the served version's "
            "reference, else 0.",
            serving,
            registry=r,
        )
        self.serving_key_requests_total = Counter(
            "mlops_guard_serving_key_requests_total",
            "Scoring requests per API key id, by HTTP status.",
            ("key", "status"),
            registry=r,
        )
        self.serving_key_rows_total = Counter(
            "mlops_guard_serving_key_rows_total",
            "Rows sent per API key id.",
            ("key",),
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

    Each flow's metrics live in a group of their own, so one flow's flush never removes
    another's series. Pushes replace the group ``{job, flow, instance}`` (instance = host and
    pid, so two workers never overwrite each other). After each push, groups of the same job and
    flow left by earlier runs are deleted: those of a process on this host that is gone, and any
    older than ``stale_after_seconds``. The textfile sink writes the flow's file
    (:meth:`GuardSettings.metrics_textfile <mlops_guard.settings.GuardSettings.metrics_textfile>`)
    and labels every series ``flow=<flow>`` as the Pushgateway does, so node_exporter, reading
    every ``*.prom`` of the directory, never finds one series in two files.

    ``flush()`` never raises: a failure is logged, counted in
    ``mlops_guard_sink_failures_total{sink=...}`` and reported by the return value.
    """

    def __init__(
        self,
        settings: GuardSettings,
        metrics: GuardMetrics | None = None,
        *,
        stale_after_seconds: float | None = None,
    ) -> None:
        self.settings = settings
        self.metrics = metrics or get_metrics()
        self.stale_after_seconds = (
            settings.pushgateway_stale_after_seconds
            if stale_after_seconds is None
            else stale_after_seconds
        )
        self._lock = threading.Lock()

    @property
    def kind(self) -> str:
        return "pushgateway" if self.settings.pushgateway_url else "textfile"

    def target(self, flow: str | None = None) -> str:
        """Where a flush of ``flow`` goes: the Pushgateway URL or the flow's textfile."""
        return self.settings.pushgateway_url or str(self.settings.metrics_textfile(flow))

    def flush(self, *, flow: str | None = None) -> bool:
        """Write or push the current metrics. Returns False (and counts) when the sink failed."""
        with self._lock:
            try:
                if self.settings.pushgateway_url:
                    self._push(flow)
                else:
                    self._write_textfile(flow)
            except Exception as exc:  # noqa: BLE001 - a sink must never fail the job
                self._failed(exc)
                return False
            if self.settings.pushgateway_url:
                try:
                    self.prune_stale_groups(flow)
                except Exception as exc:  # noqa: BLE001 - the push itself succeeded
                    self._failed(exc, what="stale-group cleanup")
            return True

    def _failed(self, exc: BaseException, what: str = "sink") -> None:
        self.metrics.sink_failures_total.labels(sink=self.kind).inc()
        _log.warning(
            "metrics %s %s failed (%s: %s); the pipeline goes on",
            self.kind,
            what,
            type(exc).__name__,
            exc,
        )

    def _write_textfile(self, flow: str | None) -> None:
        from prometheus_client import write_to_textfile

        path = self.settings.metrics_textfile(flow)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Atomic: written to "<file>.<pid>.<thread id>" and renamed, so a reader never sees half
        # a file, concurrent writers never share a temporary file, and node_exporter (which
        # reads only *.prom) skips the temporary one.
        write_to_textfile(str(path), _Grouped(self.metrics.registry, self.textfile_labels(flow)))

    def textfile_labels(self, flow: str | None) -> dict[str, str]:
        """Labels the textfile sink sets on every series (the Pushgateway's grouping key
        without ``instance``: a flow's file holds its last run on this host)."""
        return {"flow": flow} if flow else {}

    def grouping_key(self, flow: str | None) -> dict[str, str]:
        """The group this process pushes to (besides ``job``)."""
        grouping = {"instance": _instance()}
        if flow:
            grouping["flow"] = flow
        return grouping

    def _push(self, flow: str | None) -> None:
        from prometheus_client import push_to_gateway

        assert self.settings.pushgateway_url is not None
        push_to_gateway(
            self.settings.pushgateway_url,
            job=self.settings.metrics_job,
            registry=self.metrics.registry,
            grouping_key=self.grouping_key(flow),
            timeout=self.settings.pushgateway_timeout_seconds,
        )

    def delete(self, *, flow: str | None = None) -> bool:
        """Delete this process's group from the Pushgateway (a run that should leave no trace,
        e.g. a dry run). Never raises; False (and counted) when it failed."""
        if not self.settings.pushgateway_url:
            return True
        from prometheus_client import delete_from_gateway

        try:
            delete_from_gateway(
                self.settings.pushgateway_url,
                job=self.settings.metrics_job,
                grouping_key=self.grouping_key(flow),
                timeout=self.settings.pushgateway_timeout_seconds,
            )
        except Exception as exc:  # noqa: BLE001 - observability never breaks the job
            self._failed(exc, what="delete")
            return False
        return True

    def prune_stale_groups(
        self, flow: str | None, *, now: float | None = None
    ) -> list[dict[str, str]]:
        """Delete groups of this job and flow left by earlier runs; returns their labels.

        A group is stale when its instance is a process of this host that no longer runs, or
        when it was last pushed more than ``stale_after_seconds`` ago. This process's own group
        and other jobs' or flows' groups are never touched. Raises on HTTP errors (``flush``
        counts them).
        """
        import time

        import httpx
        from prometheus_client import delete_from_gateway

        assert self.settings.pushgateway_url is not None
        base = self.settings.pushgateway_url.rstrip("/")
        if "://" not in base:
            base = "http://" + base
        timeout = self.settings.pushgateway_timeout_seconds
        response = httpx.get(f"{base}/api/v1/metrics", timeout=timeout)
        response.raise_for_status()
        now = time.time() if now is None else now
        own = _instance()
        deleted: list[dict[str, str]] = []
        for group in response.json().get("data", []):
            labels: dict[str, str] = dict(group.get("labels", {}))
            if labels.get("job") != self.settings.metrics_job or labels.get("flow") != flow:
                continue
            instance = labels.get("instance", "")
            if instance == own:
                continue
            pushed = _push_time(group)
            stale = _dead_local_process(instance) or (
                pushed is not None and now - pushed > self.stale_after_seconds
            )
            if not stale:
                continue
            key = {k: v for k, v in labels.items() if k != "job"}
            delete_from_gateway(
                self.settings.pushgateway_url,
                job=self.settings.metrics_job,
                grouping_key=key,
                timeout=timeout,
            )
            deleted.append(labels)
        return deleted


class _Grouped:
    """A registry's series with group labels set, as a Pushgateway sets its grouping key on
    pushed series (a group label replaces a series' own label of the same name)."""

    def __init__(self, registry: CollectorRegistry, labels: Mapping[str, str]) -> None:
        self._registry = registry
        self._labels = dict(labels)

    def collect(self) -> Iterator[Metric]:
        for family in self._registry.collect():
            if not self._labels:
                yield family
                continue
            grouped = copy.copy(family)
            grouped.samples = [
                sample._replace(labels={**sample.labels, **self._labels})
                for sample in family.samples
            ]
            yield grouped


def _push_time(group: dict[str, object]) -> float | None:
    try:
        series = group["push_time_seconds"]["metrics"]  # type: ignore[index]
        return float(series[0]["value"])
    except (KeyError, IndexError, TypeError, ValueError):
        return None


def _dead_local_process(instance: str) -> bool:
    """True when ``instance`` (host:pid) names a process of this host that no longer exists."""
    host, _, pid_text = instance.rpartition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, owned by someone else
        return False
    return False


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


def textfile_path(settings: GuardSettings, flow: str | None = None) -> Path:
    """Where the textfile sink writes ``flow``'s metrics, for messages and summaries."""
    return settings.metrics_textfile(flow)
