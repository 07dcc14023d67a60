"""Concept drift: model quality on newly labelled data against the reference quality.

Both qualities are estimates: the reference was measured on a test set of a few thousand rows,
the current one on the labelled batches. The drop is *significant* when it exceeds the minimum
effect beyond chance, with both standard errors (a one-sided test on two independent samples,
as Hanley & McNeil 1982 compare two AUCs)::

    z = (reference - current - min_drop) / sqrt(se_reference**2 + se_current**2) > z_crit

with ``z_crit`` the normal quantile of the ``concept_confidence`` interval (1.96 at 95%), and
the difference reversed for an error metric. ``min_drop`` is ``concept_min_drop`` for ROC AUC
and accuracy, ``concept_min_error_increase`` for MAE and RMSE.

Standard error of the current quality:

* ROC AUC: DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988), computed from midranks in
  O(n log n); its interval is normal;
* accuracy: the binomial standard error; its interval is Wilson's score interval;
* MAE and RMSE (regression error): the standard deviation of a seeded bootstrap, resampled in
  blocks so memory stays bounded; its interval is the bootstrap percentile interval.

Standard error of the reference quality, in order of preference:

1. ``reference_se`` as measured where the reference was (the training flow logs DeLong's
   standard error of the test-set AUC as ``test_roc_auc_se``): ``reference_method="given"``;
2. ROC AUC from ``reference_rows`` (and the reference's positive share, else the current
   data's): Hanley & McNeil's (1982) formula, ``"hanley_mcneil"``; accuracy from
   ``reference_rows``: the binomial standard error, ``"binomial"``;
3. nothing known: the reference is taken as exact (``"exact"``) and the rule is the one-sided
   interval rule, significant when the current interval lies wholly beyond the reference by
   more than ``min_drop``. This overstates significance when the reference came from a small
   test set: log its standard error or its row count.
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

__all__ = [
    "ConceptDriftResult",
    "QualityMetric",
    "ReferenceMethod",
    "concept_drift",
    "hanley_mcneil_se",
    "quality",
]

QualityMetric = Literal["roc_auc", "accuracy", "mae", "rmse"]
ReferenceMethod = Literal["given", "hanley_mcneil", "binomial", "exact"]
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
    min_drop: float = 0.0
    current_se: float = 0.0
    reference_se: float = 0.0
    reference_ci_low: float = math.nan
    reference_ci_high: float = math.nan
    reference_method: ReferenceMethod = "exact"
    reference_rows: int | None = None
    z: float | None = None

    @property
    def drop(self) -> float:
        """How much worse the current quality is (positive: worse)."""
        delta = self.reference_quality - self.current_quality
        return delta if self.higher_is_better else -delta

    def to_json(self) -> dict[str, Any]:
        body = {**asdict(self), "drop": self.drop}
        # JSON has no NaN or infinity.
        for key, value in body.items():
            if isinstance(value, float) and not math.isfinite(value):
                body[key] = None
        return body


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
) -> tuple[float, float, float]:
    """Percentile interval and standard deviation of the bootstrap statistic."""
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
    return float(low), float(high), float(np.std(values, ddof=1))


def hanley_mcneil_se(auc: float, positives: int, negatives: int) -> float:
    """Standard error of an ROC AUC from the AUC and the class counts alone (Hanley & McNeil
    1982, exponential approximation); for a reference whose rows are gone.

    >>> round(hanley_mcneil_se(0.8, 1000, 3000), 4)
    0.0089
    """
    if positives < 1 or negatives < 1:
        raise DataError(
            f"ROC AUC standard error needs both classes, got {positives} positive and "
            f"{negatives} negative rows",
            hint="pass the reference's row count and positive share",
        )
    q1 = auc / (2 - auc)
    q2 = 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)
    ) / (positives * negatives)
    return math.sqrt(max(variance, 0.0))


def _reference_se(
    metric: str,
    quality: float,
    *,
    given: float | None,
    rows: int | None,
    positive_share: float | None,
) -> tuple[float, ReferenceMethod]:
    if given is not None:
        if not (math.isfinite(given) and given >= 0):
            raise UsageError(
                f"reference standard error must be a number >= 0, got {given}",
                hint="pass the standard error the reference quality was measured with",
            )
        return float(given), "given"
    if rows is None or rows < 1:
        return 0.0, "exact"
    if metric == "roc_auc" and positive_share is not None and 0 < positive_share < 1:
        positives = min(rows - 1, max(1, round(rows * positive_share)))
        return hanley_mcneil_se(quality, positives, rows - positives), "hanley_mcneil"
    if metric == "accuracy":
        return math.sqrt(max(quality * (1 - quality), 0.0) / rows), "binomial"
    return 0.0, "exact"


def quality(y_true: Any, y_score: Any, *, metric: QualityMetric = "roc_auc") -> float:
    """The point quality alone (ROC AUC, accuracy at 0.5, MAE or RMSE)."""
    import numpy as np

    truth, score = _arrays(y_true, y_score)
    if metric == "roc_auc":
        return _delong(_binary(truth), score)[0]
    if metric == "accuracy":
        return float(np.mean(_binary(truth) == (score >= 0.5)))
    return _error(metric, score - truth)


@dataclass(frozen=True)
class _Current:
    """The current quality, its standard error and interval."""

    value: float
    se: float
    low: float
    high: float
    method: str
    positive_share: float | None = None


def _current(
    metric: str,
    truth: npt.NDArray[np.float64],
    score: npt.NDArray[np.float64],
    z: float,
    level: float,
    decision_threshold: float,
    settings: DriftSettings,
) -> _Current:
    import numpy as np

    if metric == "roc_auc":
        positive = _binary(truth)
        value, se = _delong(positive, score)
        low, high = max(0.0, value - z * se), min(1.0, value + z * se)
        return _Current(value, se, low, high, "delong", float(positive.mean()))
    if metric == "accuracy":
        correct = int(np.sum(_binary(truth) == (score >= decision_threshold)))
        value = correct / truth.size
        low, high = _wilson(correct, truth.size, z)
        return _Current(value, math.sqrt(value * (1 - value) / truth.size), low, high, "wilson")
    residual = score - truth
    low, high, se = _bootstrap(
        metric, residual, settings.concept_bootstrap, level, settings.sample_seed
    )
    return _Current(_error(metric, residual), se, low, high, "bootstrap")


def _verdict(
    now: _Current,
    reference: float,
    reference_se: float,
    reference_method: ReferenceMethod,
    tolerance: float,
    z: float,
    *,
    higher: bool,
) -> tuple[bool, float | None]:
    """Whether the current quality is worse by more than ``tolerance`` beyond chance, and the
    test statistic (None under the interval rule of an exact reference)."""
    if reference_method == "exact":
        # Nothing known of the reference's sampling error: the current interval alone.
        if higher:
            return now.high < reference - tolerance, None
        return now.low > reference + tolerance, None
    worse_by = (reference - now.value) if higher else (now.value - reference)
    combined = math.hypot(reference_se, now.se)
    if combined == 0:
        return worse_by > tolerance, None
    statistic = (worse_by - tolerance) / combined
    return statistic > z, statistic


def concept_drift(
    y_true: Any,
    y_score: Any,
    *,
    reference_quality: float,
    reference_se: float | None = None,
    reference_rows: int | None = None,
    reference_positive_share: float | None = None,
    metric: QualityMetric = "roc_auc",
    confidence: float | None = None,
    min_drop: float | None = None,
    decision_threshold: float = 0.5,
    settings: DriftSettings | None = None,
) -> ConceptDriftResult:
    """Compare the quality of scores on labelled current data with ``reference_quality``.

    ``y_score`` is P(positive) (or the class, 0/1) for ``roc_auc`` and ``accuracy`` (a row is
    predicted positive when its score is at least ``decision_threshold``), the predicted value
    for ``mae`` and ``rmse``. ``reference_se``, or else ``reference_rows`` (with
    ``reference_positive_share`` for ROC AUC), give the reference's sampling error; without
    them the reference is taken as exact (see the module docs). ``min_drop`` overrides the
    minimum effect of the settings.

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
    higher = _HIGHER_IS_BETTER[metric]
    if min_drop is not None:
        tolerance = min_drop
    else:
        tolerance = settings.concept_min_drop if higher else settings.concept_min_error_increase
    if not (math.isfinite(tolerance) and tolerance >= 0):
        raise UsageError(
            f"min_drop must be a number >= 0, got {tolerance}",
            hint="pass the smallest quality drop worth acting on, e.g. 0.02 of ROC AUC",
        )
    truth, score = _arrays(y_true, y_score)
    z = float(norm.ppf(0.5 + level / 2))
    now = _current(metric, truth, score, z, level, decision_threshold, settings)
    ref_se, ref_method = _reference_se(
        metric,
        float(reference_quality),
        given=reference_se,
        rows=reference_rows,
        # Without the reference's class balance, the current data's stands in for it.
        positive_share=now.positive_share
        if reference_positive_share is None
        else reference_positive_share,
    )
    significant, statistic = _verdict(
        now, float(reference_quality), ref_se, ref_method, tolerance, z, higher=higher
    )
    ref_low, ref_high = reference_quality - z * ref_se, reference_quality + z * ref_se
    if metric in ("roc_auc", "accuracy"):
        ref_low, ref_high = max(0.0, ref_low), min(1.0, ref_high)
    return ConceptDriftResult(
        metric=metric,
        reference_quality=float(reference_quality),
        current_quality=now.value,
        ci_low=now.low,
        ci_high=now.high,
        confidence=level,
        method=now.method,
        rows=int(truth.size),
        higher_is_better=higher,
        significant=bool(significant),
        min_drop=float(tolerance),
        current_se=now.se,
        reference_se=float(ref_se),
        reference_ci_low=float(ref_low),
        reference_ci_high=float(ref_high),
        reference_method=ref_method,
        reference_rows=None if reference_rows is None else int(reference_rows),
        z=statistic,
    )
