"""Is the champion worse than the version it replaced, on the same labelled rows?

A falling quality alone does not say what to do: under concept drift every version gets worse,
and rolling back would only swap one stale model for another. A rollback is the answer when the
version it would restore does better on the *same* rows. :func:`compare_versions` scores that
with a paired test on the per-row Brier loss, ``(score - label)^2`` (each row is its own
control, so the test is far more sensitive than comparing two AUC intervals), and reports the
batch quality of both versions. Brier rather than log loss: both are proper scoring rules, but
a few confidently wrong rows (tens of nats each) decide a mean log loss, while a Brier loss is
bounded by 1 a row.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import DataError, EmptyData

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from mlops_guard.quality._settings import QualitySettings

__all__ = ["BatchQuality", "VersionComparison", "batch_quality", "compare_versions"]

# sklearn's log_loss clips probabilities the same way: a confident wrong answer costs ~34.5
# nats instead of infinity, so one row cannot decide the mean.
_EPS = 1e-15


@dataclass(frozen=True)
class BatchQuality:
    """Quality of one version's scores on a labelled batch (binary classification)."""

    rows: int
    log_loss: float
    brier: float
    accuracy: float
    roc_auc: float | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class VersionComparison:
    """The champion against the version it replaced, on the same labelled rows."""

    model: str
    version: str
    previous_version: str
    rows: int
    current: BatchQuality
    previous: BatchQuality
    loss: str
    loss_increase: float
    loss_increase_lower: float
    min_loss_increase: float
    confidence: float
    p_value: float
    worse: bool

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["current"] = self.current.to_json()
        data["previous"] = self.previous.to_json()
        return data


def _labels_and_scores(
    y_true: Any, y_score: Any
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    import numpy as np

    truth = np.asarray(y_true, dtype=np.float64).ravel()
    score = np.asarray(y_score, dtype=np.float64).ravel()
    if truth.size != score.size:
        raise DataError(
            f"{truth.size} labels but {score.size} scores", hint="pass one score per label"
        )
    if truth.size == 0:
        raise EmptyData("no labelled rows to judge", hint="wait for labels, then check again")
    if not np.isin(truth, (0.0, 1.0)).all():
        raise DataError(
            "labels must be 0 or 1 to compare binary classifiers",
            hint="map the label to 0/1 (1 = the positive class)",
        )
    return truth, score


def _log_loss(truth: npt.NDArray[np.float64], score: npt.NDArray[np.float64]) -> Any:
    import numpy as np

    p = np.clip(score, _EPS, 1 - _EPS)
    return -(truth * np.log(p) + (1 - truth) * np.log1p(-p))


def _brier(truth: npt.NDArray[np.float64], score: npt.NDArray[np.float64]) -> Any:
    return (score - truth) ** 2


def batch_quality(y_true: Any, y_score: Any, *, threshold: float = 0.5) -> BatchQuality:
    """Log loss, Brier score, accuracy at ``threshold`` and ROC AUC (None with one class)."""
    import numpy as np

    truth, score = _labels_and_scores(y_true, y_score)
    auc: float | None = None
    if 0 < truth.sum() < truth.size:
        from sklearn.metrics import roc_auc_score

        auc = float(roc_auc_score(truth, score))
    return BatchQuality(
        rows=int(truth.size),
        log_loss=float(_log_loss(truth, score).mean()),
        brier=float(_brier(truth, score).mean()),
        accuracy=float(np.mean((score >= threshold) == (truth == 1.0))),
        roc_auc=auc,
    )


def compare_versions(
    y_true: Any,
    current_scores: Any,
    previous_scores: Any,
    *,
    model: str,
    version: str,
    previous_version: str,
    settings: QualitySettings | None = None,
    threshold: float = 0.5,
) -> VersionComparison:
    """Paired one-sided t-test on per-row Brier loss: is ``version`` worse than
    ``previous_version`` by more than ``min_loss_increase``, at ``confidence``?

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> good = np.clip(0.5 + (y - 0.5) * 0.6 + rng.normal(0, 0.1, 2000), 0.01, 0.99)
    >>> bad = 1 - good
    >>> compare_versions(y, bad, good, model="m", version="2", previous_version="1").worse
    True
    >>> compare_versions(y, good, bad, model="m", version="2", previous_version="1").worse
    False
    """
    import numpy as np
    from scipy.stats import ttest_1samp

    from mlops_guard.quality._settings import QualitySettings

    settings = settings or QualitySettings()
    truth, current = _labels_and_scores(y_true, current_scores)
    _, previous = _labels_and_scores(y_true, previous_scores)
    if current.size != previous.size:
        raise DataError(
            f"{current.size} scores of v{version} but {previous.size} of v{previous_version}",
            hint="score the same rows with both versions",
        )
    if truth.size < settings.min_rows:
        raise EmptyData(
            f"{truth.size} labelled rows, fewer than the {settings.min_rows} a comparison needs",
            hint="wait for more labels, or lower MLOPS_GUARD_QUALITY_MIN_ROWS",
        )
    diff = _brier(truth, current) - _brier(truth, previous)
    mean = float(diff.mean())
    if float(np.ptp(diff)) == 0.0:
        # Identical losses on every row (the same model twice): the t statistic is undefined.
        lower, p_value = mean, 1.0 if mean <= settings.min_loss_increase else 0.0
    else:
        test = ttest_1samp(diff, popmean=settings.min_loss_increase, alternative="greater")
        p_value = float(test.pvalue)
        lower = float(test.confidence_interval(confidence_level=settings.confidence).low)
    worse = bool(p_value < 1 - settings.confidence) and math.isfinite(mean)
    return VersionComparison(
        model=model,
        version=str(version),
        previous_version=str(previous_version),
        rows=int(truth.size),
        current=batch_quality(truth, current, threshold=threshold),
        previous=batch_quality(truth, previous, threshold=threshold),
        loss="brier",
        loss_increase=mean,
        loss_increase_lower=lower,
        min_loss_increase=settings.min_loss_increase,
        confidence=settings.confidence,
        p_value=p_value,
        worse=worse,
    )
