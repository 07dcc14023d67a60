"""The canary judge, modelled on Kayenta's: per-metric tests, a weighted score, a verdict.

Per metric, by kind:

* ``continuous`` (latency, a score): outliers trimmed with Tukey fences, then a two-sided
  Mann-Whitney U test at ``confidence`` with the Hodges-Lehmann shift and its interval. The
  metric fails when the shift is significant, in the bad ``direction`` and larger than
  ``tolerance`` (relative to the baseline median; absolute when that median is 0).
* ``rate`` (errors, correct predictions; samples are 0/1): a two-proportion z-test; fails when
  significant, in the bad direction and beyond ``tolerance`` (absolute difference of rates).
* ``distribution`` (prediction scores or predicted values of champion and challenger): as
  Evidently does for a numerical column, the two-sample K-S test up to 1,000 rows a side (fails
  at p < 0.05), the normed Wasserstein distance above (fails above ``tolerance``, 0.1 by
  default).
* ``categorical`` (predicted classes, as class codes): as Evidently does for a categorical
  column, a chi-square test up to 1,000 rows a side (fails at p < 0.05), the Jensen-Shannon
  distance of the class shares above (fails above ``tolerance``, 0.1 by default).
* ``aggregate`` (a metric of all labelled rows: ROC AUC, log loss, macro F1, MAE, RMSE):
  judged outside :func:`judge` from the interval of its change
  (:mod:`mlops_guard.canary._labelled`) and handed in as a :class:`MetricResult` through
  ``judged``; it fails when the interval lies on the bad side of zero and the change is beyond
  ``tolerance``.

Fewer than ``min_samples`` on a side makes a metric inconclusive. A failing critical metric
fails the canary; an inconclusive critical metric makes it inconclusive. Otherwise the score is
100 x the weighted share of passing metrics among the conclusive ones: pass at ``pass_score``,
marginal at ``marginal_score``, else fail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlops_guard.canary._settings import CanarySettings
from mlops_guard.errors import DataError, UsageError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "CanaryVerdict",
    "JudgeConfig",
    "MetricKind",
    "MetricResult",
    "MetricSpec",
    "Outcome",
    "Verdict",
    "default_metric_specs",
    "judge",
]

MetricKind = Literal["continuous", "rate", "distribution", "categorical", "aggregate"]
BadDirection = Literal["increase", "decrease", "either"]
Outcome = Literal["pass", "fail", "inconclusive"]
Verdict = Literal["pass", "marginal", "fail", "inconclusive"]
Samples = Sequence[float] | Iterable[float]


class MetricSpec(BaseModel):
    """How one metric is judged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: MetricKind = "continuous"
    bad: BadDirection = Field(
        default="either", description="Which change is bad: increase, decrease or either."
    )
    tolerance: float = Field(
        default=0.0,
        ge=0,
        description="Effect tolerated even when significant: a shift (continuous), a rate "
        "difference (rate), a change of the metric (aggregate), or the distance threshold "
        "(distribution, categorical).",
    )
    relative: bool | None = Field(
        default=None,
        description="Whether the tolerance is relative to the baseline's centre (its median, "
        "rate or value). None: the kind's rule, relative for continuous metrics, absolute "
        "for rates and aggregates. Absolute whenever the baseline's centre is 0.",
    )
    trim: bool = Field(
        default=True,
        description="Tukey-trim a continuous metric before testing. Off for per-row losses: "
        "their far tail is the model's worst mistakes, not measurement noise.",
    )
    critical: bool = Field(default=False, description="A failure fails the whole canary.")
    weight: float = Field(default=1.0, gt=0, description="Weight in the score.")


def default_metric_specs(settings: CanarySettings | None = None) -> dict[str, MetricSpec]:
    """Every metric the canary collects, by task: the ones judged on every canary (latency,
    errors and the prediction distribution: ``score``, ``prediction`` or ``predicted_class``)
    and those judged when labels are present (``correct``; ``roc_auc`` and ``log_loss`` for a
    binary classifier with scores, ``macro_f1`` for a multiclass one; ``abs_error``, ``mae``
    and ``rmse`` for a regressor). Per-row correctness and absolute error are critical: the
    challenger must not be worse at the task."""
    s = settings or CanarySettings()
    return {
        "latency_seconds": MetricSpec(
            kind="continuous", bad="increase", tolerance=s.latency_tolerance
        ),
        "error": MetricSpec(
            kind="rate", bad="increase", tolerance=s.error_rate_tolerance, critical=True
        ),
        "score": MetricSpec(kind="distribution", tolerance=s.prediction_drift_threshold),
        "prediction": MetricSpec(kind="distribution", tolerance=s.prediction_drift_threshold),
        "predicted_class": MetricSpec(kind="categorical", tolerance=s.class_drift_threshold),
        "correct": MetricSpec(
            kind="rate", bad="decrease", tolerance=s.accuracy_tolerance, critical=True
        ),
        "abs_error": MetricSpec(
            kind="continuous",
            bad="increase",
            tolerance=s.loss_tolerance,
            trim=False,
            critical=True,
        ),
        "roc_auc": MetricSpec(kind="aggregate", bad="decrease", tolerance=s.roc_auc_tolerance),
        "log_loss": MetricSpec(
            kind="aggregate", bad="increase", tolerance=s.loss_tolerance, relative=True
        ),
        "macro_f1": MetricSpec(kind="aggregate", bad="decrease", tolerance=s.macro_f1_tolerance),
        "mae": MetricSpec(
            kind="aggregate", bad="increase", tolerance=s.loss_tolerance, relative=True
        ),
        "rmse": MetricSpec(
            kind="aggregate", bad="increase", tolerance=s.loss_tolerance, relative=True
        ),
    }


class JudgeConfig(BaseModel):
    """The judge's configuration: per-metric specs plus the statistical settings.

    Metrics without a spec are judged with ``default`` (continuous, either direction bad).
    """

    model_config = ConfigDict(frozen=True)

    metrics: dict[str, MetricSpec] = Field(default_factory=default_metric_specs)
    default: MetricSpec = MetricSpec()
    settings: CanarySettings = Field(default_factory=CanarySettings)

    def spec(self, name: str) -> MetricSpec:
        return self.metrics.get(name, self.default)


@dataclass(frozen=True)
class MetricResult:
    """Everything measured and tested for one metric."""

    name: str
    kind: MetricKind
    test: str
    outcome: Outcome
    reason: str
    critical: bool
    weight: float
    bad: BadDirection
    tolerance: float
    baseline_n: int
    canary_n: int
    baseline_trimmed: int = 0
    canary_trimmed: int = 0
    baseline_center: float | None = None
    canary_center: float | None = None
    statistic: float | None = None
    p_value: float | None = None
    effect: float | None = None
    effect_low: float | None = None
    effect_high: float | None = None
    relative_effect: float | None = None
    change: Literal["higher", "lower", "same"] | None = None


@dataclass(frozen=True)
class CanaryVerdict:
    """The judgement: verdict, score (None when nothing was conclusive) and every metric."""

    verdict: Verdict
    score: float | None
    metrics: list[MetricResult]
    reasons: list[str] = field(default_factory=list)
    confidence: float = 0.98
    pass_score: float = 95.0
    marginal_score: float = 75.0

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"

    def metric(self, name: str) -> MetricResult:
        for result in self.metrics:
            if result.name == name:
                return result
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        from dataclasses import asdict

        return {**asdict(self), "passed": self.passed}


def _as_array(name: str, values: Samples) -> NDArray[np.float64]:
    import numpy as np

    try:
        array = np.asarray(values if hasattr(values, "__array__") else list(values), dtype=float)
    except (TypeError, ValueError) as exc:
        raise DataError(
            f"metric {name!r} has values that are not numbers ({exc})",
            hint="give numbers only (one column or JSON list per metric)",
        ) from exc
    array = array.ravel()
    finite: NDArray[np.float64] = array[np.isfinite(array)]
    return finite


def _is_bad(change: float, bad: BadDirection) -> bool:
    if bad == "increase":
        return change > 0
    if bad == "decrease":
        return change < 0
    return change != 0


def _change(value: float) -> Literal["higher", "lower", "same"]:
    return "higher" if value > 0 else "lower" if value < 0 else "same"


def _continuous(
    name: str, spec: MetricSpec, x: NDArray[np.float64], y: NDArray[np.float64], cfg: JudgeConfig
) -> MetricResult:
    import numpy as np

    from mlops_guard.canary._stats import hodges_lehmann, mann_whitney, tukey_trim

    s = cfg.settings
    factor = s.outlier_iqr_factor if spec.trim else 0.0
    xt = tukey_trim(x, factor)
    yt = tukey_trim(y, factor)
    base = {
        **_base(name, spec, "mann_whitney_u", xt, yt),
        "baseline_trimmed": int(x.size - xt.size),
        "canary_trimmed": int(y.size - yt.size),
    }
    if min(xt.size, yt.size) < s.min_samples:
        return MetricResult(
            **base,
            outcome="inconclusive",
            reason=f"{min(xt.size, yt.size)} samples on a side, fewer than {s.min_samples}",
        )
    test = mann_whitney(xt, yt)
    shift, low, high = hodges_lehmann(
        xt, yt, s.confidence, max_samples=s.max_pairwise_samples, seed=s.seed
    )
    center_x, center_y = float(np.median(xt)), float(np.median(yt))
    relative = shift / abs(center_x) if center_x != 0 else None
    size = _size(shift, relative, spec, default_relative=True)
    significant = test.p_value < 1 - s.confidence
    failed = significant and _is_bad(shift, spec.bad) and size > spec.tolerance
    if failed:
        reason = (
            f"median shifted {shift:+.4g} ({_pct(relative)}), {s.confidence:.0%} interval "
            f"[{low:.4g}, {high:.4g}], p={test.p_value:.2g}, beyond tolerance {spec.tolerance:g}"
        )
    elif significant and _is_bad(shift, spec.bad):
        reason = f"significant shift {shift:+.4g} within tolerance {spec.tolerance:g}"
    else:
        reason = f"no significant bad shift (p={test.p_value:.2g})"
    return MetricResult(
        **base,
        outcome="fail" if failed else "pass",
        reason=reason,
        baseline_center=center_x,
        canary_center=center_y,
        statistic=test.statistic,
        p_value=test.p_value,
        effect=shift,
        effect_low=low,
        effect_high=high,
        relative_effect=relative,
        change=_change(shift) if significant else "same",
    )


def _base(
    name: str, spec: MetricSpec, test: str, x: NDArray[np.float64], y: NDArray[np.float64]
) -> dict[str, Any]:
    """The fields every :class:`MetricResult` of a metric carries, whatever its outcome."""
    return {
        "name": name,
        "kind": spec.kind,
        "test": test,
        "critical": spec.critical,
        "weight": spec.weight,
        "bad": spec.bad,
        "tolerance": spec.tolerance,
        "baseline_n": int(x.size),
        "canary_n": int(y.size),
    }


def _size(
    effect: float, relative: float | None, spec: MetricSpec, *, default_relative: bool
) -> float:
    """The magnitude compared with the tolerance: relative to the baseline's centre when the
    spec (or the kind's rule) says so and that centre is not 0, else absolute."""
    use_relative = default_relative if spec.relative is None else spec.relative
    return abs(relative) if use_relative and relative is not None else abs(effect)


def _pct(relative: float | None) -> str:
    return "n/a relative" if relative is None else f"{relative:+.1%}"


def _rate(
    name: str, spec: MetricSpec, x: NDArray[np.float64], y: NDArray[np.float64], cfg: JudgeConfig
) -> MetricResult:
    import numpy as np

    from mlops_guard.canary._stats import two_proportions

    s = cfg.settings
    base = _base(name, spec, "two_proportion_z", x, y)
    if np.any((x != 0) & (x != 1)) or np.any((y != 0) & (y != 1)):
        raise DataError(
            f"rate metric {name!r} has values other than 0 and 1",
            hint="give one 0/1 outcome per request, or judge it as a continuous metric",
        )
    if min(x.size, y.size) < s.min_samples:
        return MetricResult(
            **base,
            outcome="inconclusive",
            reason=f"{min(x.size, y.size)} samples on a side, fewer than {s.min_samples}",
        )
    hx, hy = int(x.sum()), int(y.sum())
    test = two_proportions(hx, x.size, hy, y.size)
    px, py = hx / x.size, hy / y.size
    diff = py - px
    significant = test.p_value < 1 - s.confidence
    relative = diff / px if px else None
    size = _size(diff, relative, spec, default_relative=False)
    failed = significant and _is_bad(diff, spec.bad) and size > spec.tolerance
    reason = f"rate {px:.4g} -> {py:.4g} ({diff:+.4g}), p={test.p_value:.2g}" + (
        f", beyond tolerance {spec.tolerance:g}" if failed else ""
    )
    return MetricResult(
        **base,
        outcome="fail" if failed else "pass",
        reason=reason,
        baseline_center=px,
        canary_center=py,
        statistic=test.statistic,
        p_value=test.p_value,
        effect=diff,
        relative_effect=relative,
        change=_change(diff) if significant else "same",
    )


def _distribution(
    name: str, spec: MetricSpec, x: NDArray[np.float64], y: NDArray[np.float64], cfg: JudgeConfig
) -> MetricResult:
    import numpy as np

    from mlops_guard.canary._stats import kolmogorov_smirnov, normed_wasserstein

    s = cfg.settings
    base = _base(name, spec, "wasserstein_normed", x, y)
    if min(x.size, y.size) < s.min_samples:
        return MetricResult(
            **base,
            outcome="inconclusive",
            reason=f"{min(x.size, y.size)} samples on a side, fewer than {s.min_samples}",
        )
    if min(x.size, y.size) <= s.drift_ks_max_rows:
        ks = kolmogorov_smirnov(x, y)
        failed = ks.p_value < s.drift_ks_p_value
        return MetricResult(
            **{**base, "test": "kolmogorov_smirnov", "tolerance": s.drift_ks_p_value},
            outcome="fail" if failed else "pass",
            reason=f"K-S statistic {ks.statistic:.4g}, p={ks.p_value:.2g} "
            f"({'below' if failed else 'above'} {s.drift_ks_p_value:g}; "
            f"{min(x.size, y.size)} rows: too few for the Wasserstein threshold)",
            baseline_center=float(np.mean(x)),
            canary_center=float(np.mean(y)),
            statistic=ks.statistic,
            p_value=ks.p_value,
            effect=float(np.mean(y) - np.mean(x)),
        )
    distance = normed_wasserstein(x, y)
    failed = distance > spec.tolerance
    return MetricResult(
        **base,
        outcome="fail" if failed else "pass",
        reason=f"normed Wasserstein distance {distance:.4g} "
        f"{'above' if failed else 'within'} threshold {spec.tolerance:g}",
        baseline_center=float(np.mean(x)),
        canary_center=float(np.mean(y)),
        statistic=distance,
        effect=float(np.mean(y) - np.mean(x)),
    )


def _categorical(
    name: str, spec: MetricSpec, x: NDArray[np.float64], y: NDArray[np.float64], cfg: JudgeConfig
) -> MetricResult:
    import numpy as np

    from mlops_guard.canary._stats import chi_square, jensen_shannon

    s = cfg.settings
    base = _base(name, spec, "jensen_shannon", x, y)
    if min(x.size, y.size) < s.min_samples:
        return MetricResult(
            **base,
            outcome="inconclusive",
            reason=f"{min(x.size, y.size)} samples on a side, fewer than {s.min_samples}",
        )
    categories = np.union1d(x, y)
    cx = np.array([np.count_nonzero(x == c) for c in categories], dtype=np.float64)
    cy = np.array([np.count_nonzero(y == c) for c in categories], dtype=np.float64)
    # The centres: the share of the champion's most frequent class on each side.
    modal = int(np.argmax(cx))
    centre_x, centre_y = float(cx[modal] / x.size), float(cy[modal] / y.size)
    distance = jensen_shannon(cx, cy)
    if min(x.size, y.size) <= s.drift_ks_max_rows:
        test = chi_square(cx, cy)
        failed = test.p_value < s.drift_ks_p_value
        return MetricResult(
            **{**base, "test": "chi_square", "tolerance": s.drift_ks_p_value},
            outcome="fail" if failed else "pass",
            reason=f"chi-square {test.statistic:.4g} over {categories.size} classes, "
            f"p={test.p_value:.2g} ({'below' if failed else 'above'} {s.drift_ks_p_value:g}; "
            f"{min(x.size, y.size)} rows: too few for the Jensen-Shannon threshold)",
            baseline_center=centre_x,
            canary_center=centre_y,
            statistic=test.statistic,
            p_value=test.p_value,
            effect=distance,
        )
    failed = distance > spec.tolerance
    return MetricResult(
        **base,
        outcome="fail" if failed else "pass",
        reason=f"Jensen-Shannon distance {distance:.4g} of the class shares "
        f"{'above' if failed else 'within'} threshold {spec.tolerance:g}",
        baseline_center=centre_x,
        canary_center=centre_y,
        statistic=distance,
        effect=distance,
    )


def judge(
    baseline: Mapping[str, Samples],
    canary: Mapping[str, Samples],
    *,
    config: JudgeConfig | None = None,
    judged: Sequence[MetricResult] = (),
) -> CanaryVerdict:
    """Judge a canary against its baseline, metric by metric, Kayenta-style.

    ``baseline`` and ``canary`` map a metric name to its samples (one value per request or
    row; 0/1 for rate metrics; class codes for categorical metrics). Metrics present on one
    side only are inconclusive. ``judged`` are metrics already judged elsewhere (aggregates
    of labelled rows); they count in the score and the verdict like the others.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> fast = {"latency_seconds": rng.lognormal(-3, 0.3, 200)}
    >>> slow = {"latency_seconds": rng.lognormal(-3, 0.3, 200) * 1.5}
    >>> judge(fast, slow).verdict
    'fail'
    """
    cfg = config or JudgeConfig()
    s = cfg.settings
    if s.marginal_score > s.pass_score:
        raise UsageError(
            f"marginal_score {s.marginal_score:g} is above pass_score {s.pass_score:g}",
            hint="set MLOPS_GUARD_CANARY_MARGINAL_SCORE at or below the pass score",
        )
    names = sorted(set(baseline) | set(canary))
    if not names and not judged:
        raise UsageError("no metrics to judge", hint="give at least one metric's samples")
    results: list[MetricResult] = []
    for name in names:
        spec = cfg.spec(name)
        if name not in baseline or name not in canary:
            side = "baseline" if name not in baseline else "canary"
            results.append(
                MetricResult(
                    name=name,
                    kind=spec.kind,
                    test="none",
                    outcome="inconclusive",
                    reason=f"no samples in the {side}",
                    critical=spec.critical,
                    weight=spec.weight,
                    bad=spec.bad,
                    tolerance=spec.tolerance,
                    baseline_n=0,
                    canary_n=0,
                )
            )
            continue
        if spec.kind == "aggregate":
            raise UsageError(
                f"metric {name!r} is an aggregate of all rows, not a sample per row",
                hint="judge it from its interval and pass the result as judged=[...]",
            )
        x, y = _as_array(name, baseline[name]), _as_array(name, canary[name])
        runner = {
            "continuous": _continuous,
            "rate": _rate,
            "distribution": _distribution,
            "categorical": _categorical,
        }
        results.append(runner[spec.kind](name, spec, x, y, cfg))
    results.extend(judged)
    return _verdict(results, s)


def _verdict(results: list[MetricResult], s: CanarySettings) -> CanaryVerdict:
    common = {
        "confidence": s.confidence,
        "pass_score": s.pass_score,
        "marginal_score": s.marginal_score,
    }
    conclusive = [r for r in results if r.outcome != "inconclusive"]
    total = sum(r.weight for r in conclusive)
    score = (
        100.0 * sum(r.weight for r in conclusive if r.outcome == "pass") / total if total else None
    )
    critical_fail = [r.name for r in results if r.critical and r.outcome == "fail"]
    critical_open = [r.name for r in results if r.critical and r.outcome == "inconclusive"]
    failed = [r.name for r in results if r.outcome == "fail"]
    if critical_fail:
        return CanaryVerdict(
            "fail",
            score,
            results,
            [f"critical metric failed: {', '.join(critical_fail)}"],
            **common,
        )
    if score is None:
        return CanaryVerdict(
            "inconclusive", None, results, ["no metric had enough samples"], **common
        )
    if critical_open:
        return CanaryVerdict(
            "inconclusive",
            score,
            results,
            [f"critical metric inconclusive: {', '.join(critical_open)}"],
            **common,
        )
    reasons = [f"failed: {', '.join(failed)}"] if failed else []
    if score >= s.pass_score:
        return CanaryVerdict("pass", score, results, reasons, **common)
    if score >= s.marginal_score:
        return CanaryVerdict("marginal", score, results, reasons, **common)
    return CanaryVerdict("fail", score, results, reasons, **common)
