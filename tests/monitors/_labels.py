"""Label dicts for sampling the training metrics, whatever metrics.py names the labels.

The monitor passes label values positionally (training job, model[, worker]); deriving the
names here keeps the tests right if the `job` label is renamed (it collides with Prometheus'
own target label).
"""

from __future__ import annotations

from mlops_guard.metrics import GuardMetrics

_NAMES: tuple[str, ...] = tuple(GuardMetrics().training_stalled._labelnames)


def monitor_labels(job: str = "train", model: str = "churn", **extra: str) -> dict[str, str]:
    return {**dict(zip(_NAMES, (job, model), strict=True)), **extra}
