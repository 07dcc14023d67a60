"""Concept drift: model quality on newly labelled data against the reference quality.

The current quality gets a confidence interval; the drop is *significant* when the whole
interval lies below the reference quality (minus ``concept_min_drop``), or above it for an
error metric. Intervals:

* ROC AUC: DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988), computed from midranks in
  O(n log n), normal approximation;
* accuracy: Wilson score interval for a proportion;
* MAE and RMSE (regression error): percentile bootstrap, seeded, resampled in blocks so memory
  stays bounded.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from mlops_guard.drift._settings import DriftSettings
from mlops_guard.errors import DataError, EmptyData, UsageError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["ConceptDriftResult", "QualityMetric", "concept_drift", "quality"]

QualityMetric = Literal["roc_auc", "accuracy", "mae", "rmse"]
_HIGHER_IS_BETTER = {"roc_auc": True, "accuracy": True, "mae": False, "rmse": False}


@dataclass(frozen=True)
class ConceptDriftResult:
    """Quality on the labelled current data, its interval, and the verdict."""

    metric: QualityMetric
    reference_quality: float
    current_quality: float
    ci_low: float
    ci_high: float
    confidence: float
    method: str
    rows: int
    higher_is_better: bool
    significant: bool

    @property
    def drop(self) -> float:
        """How much worse the current quality is (positive: worse)."""
        delta = self.reference_quality - self.current_quality
        return delta if self.higher_is_better else -delta

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "drop": self.drop}


def _arrays(y_true: Any, y_score: Any) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    import numpy as np

    truth = np.asarray(y_true, dtype=np.float64).ravel()
    score = np.asarray(y_score, dtype=np.float64).ravel()
    if truth.size != score.size:
        raise UsageError(
            f"{truth.size} labels but {score.size} scores",
            hint="pass one score per labelled row",
        )
    keep = np.isfinite(truth) & np.isfinite(score)
    truth, score = truth[keep], score[keep]
    if truth.size == 0:
        raise EmptyData(
            "no labelled rows with a score", hint="wait for labels, or pass labelled rows"
        )
    return truth, score


def _binary(truth: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    import numpy as np

    if not np.isin(truth, (0.0, 1.0)).all():
        raise DataError(
            "labels must be 0 or 1 for a classification metric",
            hint="use metric='mae' or 'rmse' for a regression target",
        )
    positive: npt.NDArray[np.bool_] = truth == 1.0
    return positive


def _delong(positive: npt.NDArray[np.bool_], score: npt.NDArray[np.float64]) -> tuple[float, float]:
    """ROC AUC and DeLong's standard error of it."""
    import numpy as np
    from scipy.stats import rankdata

    pos, neg = score[positive], score[~positive]
    m, n = pos.size, neg.size
    if m < 2 or n < 2:
        raise DataError(
            f"ROC AUC needs at least 2 rows of each class, got {m} positive and {n} negative",
            hint="wait for more labels, or use metric='accuracy'",
        )
    combined = rankdata(np.concatenate((pos, neg)))
    v10 = (combined[:m] - rankdata(pos)) / n
    v01 = 1.0 - (combined[m:] - rankdata(neg)) / m
    auc = float(v10.mean())
    variance = float(np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n)
    return auc, math.sqrt(max(variance, 0.0))


def _wilson(successes: int, total: int, z: float) -> tuple[float, float]:
    share = successes / total
    denominator = 1 + z * z / total
    centre = (share + z * z / (2 * total)) / denominator
    half = z * math.sqrt(share * (1 - share) / total + z * z / (4 * total * total)) / denominator
    return centre - half, centre + half


def _error(metric: str, residual: npt.NDArray[np.float64]) -> float:
    import numpy as np

    if metric == "mae":
        return float(np.mean(np.abs(residual)))
    return float(np.sqrt(np.mean(residual * residual)))


def _bootstrap(
    metric: str, residual: npt.NDArray[np.float64], resamples: int, confidence: float, seed: int
) -> tuple[float, float]:
    import numpy as np

    rng = np.random.default_rng(seed)
    n = residual.size
    # Blocks of resamples keep the index matrix near 8 million entries whatever n is.
    block = max(1, min(resamples, 8_000_000 // n))
    stats: list[npt.NDArray[np.float64]] = []
    done = 0
    while done < resamples:
        size = min(block, resamples - done)
        sample = residual[rng.integers(0, n, size=(size, n))]
        if metric == "mae":
            stats.append(np.mean(np.abs(sample), axis=1))
        else:
            stats.append(np.sqrt(np.mean(sample * sample, axis=1)))
        done += size
    values = np.concatenate(stats)
    tail = (1 - confidence) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def quality(y_true: Any, y_score: Any, *, metric: QualityMetric = "roc_auc") -> float:
    """The point quality alone (ROC AUC, accuracy at 0.5, MAE or RMSE)."""
    import numpy as np

    truth, score = _arrays(y_true, y_score)
    if metric == "roc_auc":
        return _delong(_binary(truth), score)[0]
    if metric == "accuracy":
        return float(np.mean(_binary(truth) == (score >= 0.5)))
    return _error(metric, score - truth)


def concept_drift(
    y_true: Any,
    y_score: Any,
    *,
    reference_quality: float,
    metric: QualityMetric = "roc_auc",
    confidence: float | None = None,
    min_drop: float | None = None,
    decision_threshold: float = 0.5,
    settings: DriftSettings | None = None,
) -> ConceptDriftResult:
    """Compare the quality of scores on labelled current data with ``reference_quality``.

    ``y_score`` is P(positive) (or the class, 0/1) for ``roc_auc`` and ``accuracy`` (a row is
    predicted positive when its score is at least ``decision_threshold``), the predicted value
    for ``mae`` and ``rmse``.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> noise = rng.normal(0, 1, 2000)
    >>> result = concept_drift(y, y + noise * 3, reference_quality=0.9)
    >>> result.significant, round(result.current_quality, 2) < 0.9
    (True, True)
    """
    from scipy.stats import norm

    if metric not in _HIGHER_IS_BETTER:
        raise UsageError(
            f"unknown quality metric {metric!r}", hint="use roc_auc, accuracy, mae or rmse"
        )
    settings = settings or DriftSettings()
    level = settings.concept_confidence if confidence is None else confidence
    if not 0.5 < level < 1:
        raise UsageError(f"confidence must be in (0.5, 1), got {level}", hint="e.g. 0.95")
    tolerance = settings.concept_min_drop if min_drop is None else min_drop
    truth, score = _arrays(y_true, y_score)
    z = float(norm.ppf(0.5 + level / 2))
    if metric == "roc_auc":
        current, se = _delong(_binary(truth), score)
        low, high = max(0.0, current - z * se), min(1.0, current + z * se)
        method = "delong"
    elif metric == "accuracy":
        import numpy as np

        correct = int(np.sum(_binary(truth) == (score >= decision_threshold)))
        current = correct / truth.size
        low, high = _wilson(correct, truth.size, z)
        method = "wilson"
    else:
        residual = score - truth
        current = _error(metric, residual)
        low, high = _bootstrap(
            metric, residual, settings.concept_bootstrap, level, settings.sample_seed
        )
        method = "bootstrap"
    higher = _HIGHER_IS_BETTER[metric]
    if higher:
        significant = high < reference_quality - tolerance
    else:
        significant = low > reference_quality + tolerance
    return ConceptDriftResult(
        metric=metric,
        reference_quality=float(reference_quality),
        current_quality=float(current),
        ci_low=float(low),
        ci_high=float(high),
        confidence=level,
        method=method,
        rows=int(truth.size),
        higher_is_better=higher,
        significant=bool(significant),
    )
