"""The statistics behind the judge: Tukey trimming, Mann-Whitney U with the Hodges-Lehmann
shift and its interval, the two-proportion z-test (with continuity correction), the two-sample
K-S test and a normed Wasserstein distance for numbers, the chi-square test of homogeneity and
the Jensen-Shannon distance for classes.

Pure numpy/scipy, imported lazily by the judge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "ShiftTest",
    "chi_square",
    "hodges_lehmann",
    "jensen_shannon",
    "kolmogorov_smirnov",
    "mann_whitney",
    "normed_wasserstein",
    "two_proportions",
    "tukey_trim",
]

FloatArray = NDArray[np.float64]


def tukey_trim(values: FloatArray, k: float) -> FloatArray:
    """Values inside the Tukey fences [Q1 - k*IQR, Q3 + k*IQR].

    Nothing is trimmed when ``k`` is 0 or the IQR is 0 (then the fences would collapse onto
    the quartiles and drop every value that differs from the bulk, e.g. the rare non-zero
    latencies of a mostly-cached service).
    """
    if k <= 0 or values.size < 4:
        return values
    q1, q3 = np.percentile(values, [25, 75])
    iqr = q3 - q1
    if iqr <= 0:
        return values
    keep = (values >= q1 - k * iqr) & (values <= q3 + k * iqr)
    trimmed: FloatArray = values[keep]
    return trimmed


def _subsample(values: FloatArray, limit: int, rng: np.random.Generator) -> FloatArray:
    if values.size <= limit:
        return values
    return rng.choice(values, size=limit, replace=False)


def hodges_lehmann(
    baseline: FloatArray,
    canary: FloatArray,
    confidence: float,
    *,
    max_samples: int,
    seed: int,
) -> tuple[float, float, float]:
    """Hodges-Lehmann shift (canary minus baseline) and its distribution-free interval.

    The shift is the median of all pairwise differences; the interval takes the order
    statistics of those differences given by the normal approximation of the Mann-Whitney U
    distribution (Hollander & Wolfe, Nonparametric Statistical Methods, 4.3).
    """
    from scipy.stats import norm

    rng = np.random.default_rng(seed)
    x = _subsample(baseline, max_samples, rng)
    y = _subsample(canary, max_samples, rng)
    diffs = np.sort(np.subtract.outer(y, x).ravel())
    n, m = x.size, y.size
    total = diffs.size
    shift = float(np.median(diffs))
    z = float(norm.ppf(0.5 + confidence / 2))
    c = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))
    c = min(max(c, 0), total - 1)
    return shift, float(diffs[c]), float(diffs[total - 1 - c])


@dataclass(frozen=True)
class ShiftTest:
    """A test's statistic and two-sided p-value."""

    statistic: float
    p_value: float


def mann_whitney(baseline: FloatArray, canary: FloatArray) -> ShiftTest:
    """Two-sided Mann-Whitney U test; identical constant samples give p = 1."""
    from scipy.stats import mannwhitneyu

    if np.all(baseline == baseline[0]) and np.all(canary == baseline[0]):
        # scipy warns on all-ties; the answer is known: no evidence of a shift.
        return ShiftTest(statistic=float(baseline.size * canary.size / 2), p_value=1.0)
    result = mannwhitneyu(canary, baseline, alternative="two-sided")
    return ShiftTest(statistic=float(result.statistic), p_value=float(result.pvalue))


def two_proportions(
    baseline_hits: int, baseline_n: int, canary_hits: int, canary_n: int
) -> ShiftTest:
    """Pooled two-proportion z-test (two-sided) with Yates' continuity correction.

    Without the correction the normal approximation rejects too often when events are rare
    (a 5% error rate over 100 requests is 5 events), which would fail healthy canaries.
    Equal rates of 0 or 1 give p = 1.
    """
    from scipy.stats import norm

    pooled = (baseline_hits + canary_hits) / (baseline_n + canary_n)
    variance = pooled * (1 - pooled) * (1 / baseline_n + 1 / canary_n)
    diff = canary_hits / canary_n - baseline_hits / baseline_n
    if variance <= 0:
        return ShiftTest(statistic=0.0, p_value=1.0)
    correction = 0.5 * (1 / baseline_n + 1 / canary_n)
    z = math.copysign(max(abs(diff) - correction, 0.0), diff) / math.sqrt(variance)
    return ShiftTest(statistic=z, p_value=float(2 * norm.sf(abs(z))))


def normed_wasserstein(baseline: FloatArray, canary: FloatArray) -> float:
    """Wasserstein distance divided by the baseline's standard deviation (Evidently's
    "Wasserstein distance (normed)"); a constant baseline uses an epsilon of 0.001 as
    Evidently does."""
    from scipy.stats import wasserstein_distance

    std = float(np.std(baseline))
    # Evidently's norm for a constant reference column.
    scale = std if std > 0 else 0.001
    return float(wasserstein_distance(baseline, canary) / scale)


def kolmogorov_smirnov(baseline: FloatArray, canary: FloatArray) -> ShiftTest:
    """Two-sample Kolmogorov-Smirnov test (Evidently's test for numerical columns of up to
    1,000 rows)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(baseline, canary)
    return ShiftTest(statistic=float(result.statistic), p_value=float(result.pvalue))


def chi_square(baseline_counts: FloatArray, canary_counts: FloatArray) -> ShiftTest:
    """Chi-square test of homogeneity of two count vectors over the same categories.

    A contingency test rather than Evidently's goodness of fit against the baseline's shares:
    a class the challenger predicts and the champion never did would be an expected count of
    zero there, an infinite statistic. Categories neither side has are dropped; one category
    left means both sides predict the same single class (p = 1).
    """
    from scipy.stats import chi2_contingency

    table = np.vstack([baseline_counts, canary_counts])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return ShiftTest(statistic=0.0, p_value=1.0)
    result = chi2_contingency(table)
    return ShiftTest(statistic=float(result.statistic), p_value=float(result.pvalue))


def jensen_shannon(baseline_counts: FloatArray, canary_counts: FloatArray) -> float:
    """Jensen-Shannon distance (natural logarithm) between the two sides' class shares, as
    Evidently computes it for a categorical column above 1,000 rows."""
    from scipy.spatial.distance import jensenshannon

    return float(jensenshannon(baseline_counts, canary_counts))
