"""The quality of a model on labelled rows, each metric with its interval.

:func:`measure` computes the metrics of the contract's task, every one with an interval at a
named confidence, so a later batch can be judged against the reference beyond chance:

* binary: accuracy (Wilson score interval, ``scipy.stats.binomtest``), and when the model gives
  scores, ROC AUC (DeLong's variance from midranks, normal interval) and log loss (bootstrap);
* multiclass: accuracy (Wilson), macro F1 (paired bootstrap of labels and predictions);
* regression: MAE and RMSE (bootstrap of the per-row errors).

Point values use every row. Bootstrap intervals use ``scipy.stats.bootstrap`` (percentile
method: BCa's jackknife costs one statistic per row), seeded, on at most
``bootstrap_max_rows`` rows; above that, a seeded sample is resampled and the interval's
half-widths are scaled by ``sqrt(sample / rows)``, around the point value of all rows.

A :class:`QualityReport` is stored with a registered version (compact JSON, well under the
5,000 characters of an MLflow tag) and read back with :meth:`QualityReport.from_json`.
:func:`compare_quality` judges a later report against it, metric by metric, from the two
reports' intervals alone (so the reference rows need not be kept).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import ContractError, DataError, EmptyData

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from mlops_guard.contract._model import ModelContract
    from mlops_guard.quality._settings import QualitySettings

__all__ = [
    "REPORT_FORMAT",
    "MetricComparison",
    "MetricValue",
    "QualityComparison",
    "QualityReport",
    "compare_quality",
    "measure",
]

#: Version of the JSON layout of a :class:`QualityReport`.
REPORT_FORMAT = 1
# sklearn's log_loss clips probabilities to the float64 machine epsilon too: a confident wrong
# answer costs ~36 nats instead of infinity, so one row cannot decide the mean.
_EPS = 2.220446049250313e-16  # numpy.finfo(numpy.float64).eps
# Every interval here needs a spread: the bootstrap resamples at least two rows, DeLong's
# variance needs two rows of each class.
_MIN_ROWS = 2
# Bootstrap resamples evaluated at once: 100 x 20,000 rows is 16 MB of float64, where all
# 1,000 at once would be 160 MB per array.
_BOOTSTRAP_BATCH = 100


@dataclass(frozen=True)
class MetricValue:
    """One metric: its value on every row and its interval at the report's confidence."""

    name: str
    value: float
    lower: float
    upper: float
    higher_is_better: bool
    method: str

    def to_json(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "lower": self.lower,
            "upper": self.upper,
            "higher_is_better": self.higher_is_better,
            "method": self.method,
        }


@dataclass(frozen=True)
class QualityReport:
    """The metrics of one model on one labelled data set.

    >>> report = QualityReport("binary", 100, 0.95, {"accuracy": MetricValue(
    ...     "accuracy", 0.9, 0.83, 0.94, True, "wilson")})
    >>> QualityReport.from_json(report.to_json()) == report
    True
    """

    task: str
    rows: int
    confidence: float
    metrics: dict[str, MetricValue]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": REPORT_FORMAT,
            "task": self.task,
            "rows": self.rows,
            "confidence": self.confidence,
            "metrics": {name: m.to_json() for name, m in self.metrics.items()},
        }

    @classmethod
    def from_json(cls, data: Any, *, source: str = "the stored quality report") -> QualityReport:
        """Read back :meth:`to_json`'s output; :class:`ContractError` when it is not one."""
        hint = "register the version again with --reference DATA"
        if not isinstance(data, dict):
            raise ContractError(f"{source} is not a JSON object", hint=hint)
        if data.get("format") != REPORT_FORMAT:
            raise ContractError(
                f"{source} has format {data.get('format')!r}, this mlops-guard reads "
                f"{REPORT_FORMAT}",
                hint=hint,
            )
        try:
            metrics = {
                str(name): MetricValue(
                    name=str(name),
                    value=float(m["value"]),
                    lower=float(m["lower"]),
                    upper=float(m["upper"]),
                    higher_is_better=bool(m["higher_is_better"]),
                    method=str(m["method"]),
                )
                for name, m in dict(data["metrics"]).items()
            }
            return cls(
                task=str(data["task"]),
                rows=int(data["rows"]),
                confidence=float(data["confidence"]),
                metrics=metrics,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(f"{source} is malformed ({exc!r})", hint=hint) from exc


def _plain(value: Any) -> Any:
    """A label as a plain Python value: numpy scalars compare unequal to JSON numbers, and a
    CSV column with a missing value turns integer labels into floats."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _codes(values: Any, classes: Sequence[Any], what: str) -> npt.NDArray[np.int64]:
    """The position of each label among ``classes``; DataError naming a value outside them."""
    import numpy as np

    index = {c: i for i, c in enumerate(classes)}
    out = np.empty(len(values), dtype=np.int64)
    for i, value in enumerate(values):
        code = index.get(_plain(value))
        if code is None:
            raise DataError(
                f"{what} holds {value!r}, which is not one of the classes {list(classes)}",
                hint="score the rows with the model version the contract belongs to",
            )
        out[i] = code
    return out


def _normal_quantile(confidence: float) -> float:
    from scipy.stats import norm

    return float(norm.ppf(0.5 + confidence / 2))


def _wilson(hits: int, rows: int, confidence: float) -> MetricValue:
    from scipy.stats import binomtest

    ci = binomtest(hits, rows).proportion_ci(confidence_level=confidence, method="wilson")
    return MetricValue("accuracy", hits / rows, float(ci.low), float(ci.high), True, "wilson")


def _delong(positive: Any, negative: Any, confidence: float) -> MetricValue:
    """ROC AUC with DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988), computed from
    midranks in O(n log n) (Sun & Xu 2014); ties count one half, as in sklearn."""
    import numpy as np
    from scipy.stats import rankdata

    m, n = positive.size, negative.size
    both = rankdata(np.concatenate([positive, negative]))
    within_pos = rankdata(positive)
    within_neg = rankdata(negative)
    auc = float((both[:m].sum() - m * (m + 1) / 2) / (m * n))
    v10 = (both[:m] - within_pos) / n
    v01 = 1.0 - (both[m:] - within_neg) / m
    se = math.sqrt(float(v10.var(ddof=1)) / m + float(v01.var(ddof=1)) / n)
    z = _normal_quantile(confidence)
    return MetricValue(
        "roc_auc", auc, max(0.0, auc - z * se), min(1.0, auc + z * se), True, "delong"
    )


def _bootstrap(
    name: str,
    statistic: Callable[..., Any],
    data: tuple[Any, ...],
    *,
    higher_is_better: bool,
    confidence: float,
    settings: QualitySettings,
) -> MetricValue:
    """``statistic`` (vectorised: ``statistic(*arrays, axis=-1)``) on every row, and its
    seeded percentile-bootstrap interval, resampling rows of ``data`` together (paired)."""
    import numpy as np
    from scipy.stats import bootstrap

    rows = len(data[0])
    value = float(statistic(*data, axis=-1))
    rng = np.random.default_rng(settings.bootstrap_seed)
    sample = data
    method = "bootstrap"
    if rows > settings.bootstrap_max_rows:
        picked = rng.choice(rows, size=settings.bootstrap_max_rows, replace=False)
        sample = tuple(a[picked] for a in data)
        method = f"bootstrap of {settings.bootstrap_max_rows} rows, scaled"
    if float(np.ptp(np.stack([np.asarray(a, dtype=np.float64) for a in sample]))) == 0.0:
        # One value on every row (a perfect regressor): nothing varies, the interval is a point.
        return MetricValue(name, value, value, value, higher_is_better, method)
    result = bootstrap(
        sample,
        statistic,
        n_resamples=settings.bootstrap_resamples,
        confidence_level=confidence,
        method="percentile",
        paired=len(sample) > 1,
        vectorized=True,
        batch=_BOOTSTRAP_BATCH,
        rng=rng,
    )
    low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
    if sample is not data:
        centre = float(statistic(*sample, axis=-1))
        scale = math.sqrt(settings.bootstrap_max_rows / rows)
        low = value - (centre - low) * scale
        high = value + (high - centre) * scale
    if not (math.isfinite(low) and math.isfinite(high)):
        low, high = value, value
    return MetricValue(name, value, min(low, value), max(high, value), higher_is_better, method)


def _mean(x: Any, axis: int = -1) -> Any:
    return x.mean(axis=axis)


def _rmse(errors: Any, axis: int = -1) -> Any:
    import numpy as np

    return np.sqrt((errors**2).mean(axis=axis))


def _macro_f1(classes: Sequence[int]) -> Callable[..., Any]:
    """Macro F1 over ``classes`` (codes), vectorised over resamples; a class with no true and
    no predicted row scores 0, as sklearn's ``f1_score(labels=..., zero_division=0)``."""
    import numpy as np

    def statistic(truth: Any, predicted: Any, axis: int = -1) -> Any:
        scores = []
        for c in classes:
            is_true, is_pred = truth == c, predicted == c
            tp = (is_true & is_pred).sum(axis=axis)
            wrong = (is_true ^ is_pred).sum(axis=axis)
            denominator = 2 * tp + wrong
            scores.append(np.where(denominator > 0, 2 * tp / np.maximum(denominator, 1), 0.0))
        return np.mean(scores, axis=0)

    return statistic


def _truth_column(contract: ModelContract, truth: Any, rows: int) -> pd.Series:
    import pandas as pd

    series = truth.reset_index(drop=True) if isinstance(truth, pd.Series) else pd.Series(truth)
    if len(series) != rows:
        raise DataError(
            f"{len(series)} labels but {rows} predictions",
            hint="pass one label per scored row, in the same order",
        )
    if rows < _MIN_ROWS:
        raise EmptyData(
            f"{rows} labelled row(s), fewer than the {_MIN_ROWS} an interval needs",
            hint="measure on more labelled rows",
        )
    missing = int(series.isna().sum())
    if missing:
        raise DataError(
            f"{missing} of {rows} rows have no label {contract.label!r}",
            hint="drop the unlabelled rows before measuring",
        )
    contract.check_labels(series, source="the labels")
    return series


def _column(predictions: pd.DataFrame, name: str) -> pd.Series:
    if name not in predictions.columns:
        raise DataError(
            f"the predictions lack the column {name!r}",
            hint="pass the frame Predictor.predict or Predictor.score returns",
        )
    return predictions[name].reset_index(drop=True)


def measure(
    contract: ModelContract,
    truth: Sequence[Any] | pd.Series,
    predictions: pd.DataFrame,
    *,
    confidence: float | None = None,
    settings: QualitySettings | None = None,
) -> QualityReport:
    """The task's metrics of ``predictions`` (the contract's prediction columns, one row per
    label of ``truth``, in order), each with its interval at ``confidence`` (default: the
    ``interval_confidence`` setting).

    Raises :class:`~mlops_guard.errors.ContractError` for labels outside the contract's classes
    (or a non-numeric regression label), :class:`~mlops_guard.errors.DataError` for missing
    labels, missing prediction columns or predictions that are not numbers.

    >>> import pandas as pd
    >>> from mlops_guard.contract import FeatureSpec, ModelContract
    >>> c = ModelContract(features=[FeatureSpec(name="x", kind="numerical")], label="y",
    ...                   task="binary", classes=[0, 1])
    >>> p = pd.DataFrame({"prediction": [0, 1, 1, 0], "score": [0.2, 0.9, 0.6, 0.4]})
    >>> r = measure(c, [0, 1, 0, 1], p)
    >>> sorted(r.metrics), r.metrics["accuracy"].value
    (['accuracy', 'log_loss', 'roc_auc'], 0.5)
    """
    import numpy as np
    import pandas as pd

    from mlops_guard.contract._model import PREDICTION_COLUMN, SCORE_COLUMN
    from mlops_guard.quality._settings import QualitySettings

    settings = settings or QualitySettings()
    level = settings.interval_confidence if confidence is None else confidence
    if not 0 < level < 1:
        raise DataError(f"confidence {level!r} is not in (0, 1)", hint="pass e.g. 0.95")
    rows = len(predictions)
    labels = _truth_column(contract, truth, rows)
    predicted = _column(predictions, PREDICTION_COLUMN)
    metrics: dict[str, MetricValue] = {}

    def bootstrap(name: str, statistic: Callable[..., Any], *data: Any, higher: bool) -> None:
        metrics[name] = _bootstrap(
            name, statistic, data, higher_is_better=higher, confidence=level, settings=settings
        )

    if contract.task == "regression":
        values = pd.to_numeric(predicted, errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(values).all():
            raise DataError(
                f"{int((~np.isfinite(values)).sum())} of {rows} predictions are not numbers",
                hint="pass only the rows that scored",
            )
        errors = values - labels.to_numpy(dtype=np.float64)
        bootstrap("mae", _mean, np.abs(errors), higher=False)
        bootstrap("rmse", _rmse, errors, higher=False)
        return QualityReport(contract.task, rows, level, metrics)

    assert contract.classes is not None
    classes = list(contract.classes)
    true_codes = _codes(labels, classes, f"label {contract.label!r}")
    predicted_codes = _codes(predicted, classes, f"prediction column {PREDICTION_COLUMN!r}")
    metrics["accuracy"] = _wilson(int((true_codes == predicted_codes).sum()), rows, level)
    if contract.task == "multiclass":
        present = sorted(set(true_codes.tolist()) | set(predicted_codes.tolist()))
        bootstrap("macro_f1", _macro_f1(present), true_codes, predicted_codes, higher=True)
        return QualityReport(contract.task, rows, level, metrics)

    scores = pd.to_numeric(_column(predictions, SCORE_COLUMN), errors="coerce").to_numpy(
        dtype=np.float64
    )
    finite = np.isfinite(scores)
    if not finite.any():
        # A labels-only classifier: no probabilities, so accuracy is all there is to measure.
        return QualityReport(contract.task, rows, level, metrics)
    if not finite.all() or ((scores < 0) | (scores > 1)).any():
        raise DataError(
            f"{int((~finite | (scores < 0) | (scores > 1)).sum())} of {rows} scores are not "
            "probabilities in [0, 1]",
            hint="pass only the rows that scored",
        )
    assert contract.positive_class is not None
    positive = np.equal(true_codes, classes.index(contract.positive_class))
    if _MIN_ROWS <= int(positive.sum()) <= rows - _MIN_ROWS:
        metrics["roc_auc"] = _delong(scores[positive], scores[~positive], level)
    clipped = np.clip(scores, _EPS, 1 - _EPS)
    losses = -np.where(positive, np.log(clipped), np.log1p(-clipped))
    bootstrap("log_loss", _mean, losses, higher=False)
    return QualityReport(contract.task, rows, level, metrics)


@dataclass(frozen=True)
class MetricComparison:
    """One metric of a batch against the reference: the change (current - reference), its
    interval at the comparison's confidence, and the verdict."""

    name: str
    reference: float
    current: float
    lower: float
    upper: float
    change: float
    degraded: bool
    better: bool
    higher_is_better: bool
    min_effect: float

    def to_json(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "current": self.current,
            "lower": self.lower,
            "upper": self.upper,
            "change": self.change,
            "degraded": self.degraded,
            "better": self.better,
        }


@dataclass(frozen=True)
class QualityComparison:
    """Every metric both reports carry, compared; ``degraded`` when any metric is."""

    confidence: float
    metrics: dict[str, MetricComparison]

    @property
    def degraded(self) -> bool:
        return any(m.degraded for m in self.metrics.values())

    @property
    def degraded_metrics(self) -> list[str]:
        return [name for name, m in self.metrics.items() if m.degraded]

    def to_json(self) -> dict[str, Any]:
        return {
            "degraded": self.degraded,
            "confidence": self.confidence,
            "metrics": {name: m.to_json() for name, m in self.metrics.items()},
        }


def _min_effect(metric: MetricValue, reference: float, settings: QualitySettings) -> float | None:
    """The smallest worsening of ``metric`` that counts, or None for a metric with no margin."""
    absolute = {
        "accuracy": settings.min_accuracy_drop,
        "roc_auc": settings.min_auc_drop,
        "macro_f1": settings.min_f1_drop,
    }
    if metric.name in absolute:
        return absolute[metric.name]
    if metric.name in {"log_loss", "mae", "rmse"}:
        return settings.min_relative_error_increase * abs(reference)
    return None


def compare_quality(
    reference: QualityReport, current: QualityReport, settings: QualitySettings | None = None
) -> QualityComparison:
    """Compare each metric on both reports: ``change = current - reference`` and its interval.

    The interval of the change comes from the two reports' own intervals by Newcombe's method
    of variance estimates recovery (MOVER; Newcombe 1998, Zou & Donner 2008), which keeps the
    asymmetry of Wilson and bootstrap intervals::

        lower = change - sqrt((current - current.lower)**2 + (reference.upper - reference)**2)
        upper = change + sqrt((current.upper - current)**2 + (reference - reference.lower)**2)

    each half-width first rescaled from its report's confidence to ``interval_confidence``.
    A metric is *degraded* when the whole interval lies on the worse side of the metric's
    minimum effect (``min_accuracy_drop``, ``min_auc_drop``, ``min_f1_drop``, or
    ``min_relative_error_increase`` times the reference for log loss, MAE, RMSE): worse beyond
    chance *and* by more than the margin. It is *better* when the whole interval lies on the
    better side of zero. A metric only one report carries is not compared.

    >>> ref = QualityReport("regression", 1000, 0.95,
    ...     {"mae": MetricValue("mae", 1.0, 0.95, 1.05, False, "bootstrap")})
    >>> worse = QualityReport("regression", 1000, 0.95,
    ...     {"mae": MetricValue("mae", 1.3, 1.24, 1.36, False, "bootstrap")})
    >>> compare_quality(ref, worse).metrics["mae"].degraded
    True
    >>> compare_quality(worse, ref).metrics["mae"].better
    True
    """
    from mlops_guard.quality._settings import QualitySettings

    settings = settings or QualitySettings()
    if reference.task != current.task:
        raise ContractError(
            f"the reference quality is of a {reference.task} model, the batch's of a "
            f"{current.task} model",
            hint="measure both with the same model version's contract",
        )
    z = _normal_quantile(settings.interval_confidence)
    z_reference = z / _normal_quantile(reference.confidence)
    z_current = z / _normal_quantile(current.confidence)
    compared: dict[str, MetricComparison] = {}
    for name, ref in reference.metrics.items():
        cur = current.metrics.get(name)
        margin = _min_effect(ref, ref.value, settings)
        if cur is None or margin is None:
            continue
        change = cur.value - ref.value
        lower = change - math.hypot(
            (cur.value - cur.lower) * z_current, (ref.upper - ref.value) * z_reference
        )
        upper = change + math.hypot(
            (cur.upper - cur.value) * z_current, (ref.value - ref.lower) * z_reference
        )
        if ref.higher_is_better:
            degraded, better = upper < -margin, lower > 0
        else:
            degraded, better = lower > margin, upper < 0
        compared[name] = MetricComparison(
            name=name,
            reference=ref.value,
            current=cur.value,
            lower=lower,
            upper=upper,
            change=change,
            degraded=bool(degraded),
            better=bool(better),
            higher_is_better=ref.higher_is_better,
            min_effect=margin,
        )
    return QualityComparison(confidence=settings.interval_confidence, metrics=compared)
