"""compare_quality(): worse beyond chance and the margin is degraded, better is never degraded,
and a batch of the same quality raises no alarm (checked over many seeds)."""

from __future__ import annotations

import numpy as np
import pytest

from mlops_guard.errors import ContractError
from mlops_guard.quality import (
    MetricValue,
    QualityReport,
    QualitySettings,
    compare_quality,
    measure,
)
from tests.quality._batches import (
    BETTER_SKILL,
    CONTRACTS,
    REFERENCE_SKILL,
    WORSE_SKILL,
    batch,
)

TASKS = sorted(CONTRACTS)
METRICS = {
    "binary": {"accuracy", "roc_auc", "log_loss"},
    "multiclass": {"accuracy", "macro_f1"},
    "regression": {"mae", "rmse"},
}
# Fewer resamples than the default keep the many-seed loops quick; the intervals barely move.
FAST = QualitySettings(bootstrap_resamples=300)
NO_MARGIN = QualitySettings(
    bootstrap_resamples=300,
    min_accuracy_drop=0,
    min_auc_drop=0,
    min_f1_drop=0,
    min_relative_error_increase=0,
)


def reports(task: str, seed: int, skill: float, settings: QualitySettings = FAST):
    rng = np.random.default_rng(seed)
    contract = CONTRACTS[task]
    reference = measure(contract, *batch(task, rng, 2000, REFERENCE_SKILL[task]), settings=settings)
    current = measure(contract, *batch(task, rng, 1000, skill), settings=settings)
    return reference, current


@pytest.mark.parametrize("task", TASKS)
def test_a_worse_batch_is_degraded_on_every_metric(task: str) -> None:
    comparison = compare_quality(*reports(task, 1, WORSE_SKILL[task]), FAST)
    assert set(comparison.metrics) == METRICS[task]
    assert comparison.degraded
    for name, metric in comparison.metrics.items():
        assert metric.degraded, name
        assert not metric.better, name
        worse = metric.change < 0 if metric.higher_is_better else metric.change > 0
        assert worse, name
        assert metric.lower <= metric.change <= metric.upper


@pytest.mark.parametrize("task", TASKS)
def test_a_better_batch_is_better_and_never_degraded(task: str) -> None:
    comparison = compare_quality(*reports(task, 2, BETTER_SKILL[task]), FAST)
    assert not comparison.degraded
    assert comparison.degraded_metrics == []
    for name, metric in comparison.metrics.items():
        assert metric.better, name
        assert not metric.degraded, name


@pytest.mark.parametrize("task", TASKS)
def test_same_quality_raises_no_false_alarm_over_seeds(task: str) -> None:
    """40 independent reference/batch pairs of the same model: no alarm with the margins
    (measured: 0 of 200 per task), and without them each metric's alarm rate stays near the
    2.5% of a one-sided test at the 95% interval (measured: 1-2.5% over 200 seeds)."""
    seeds = range(100, 140)
    alarms = 0
    chance = dict.fromkeys(METRICS[task], 0)
    for seed in seeds:
        alarms += compare_quality(*reports(task, seed, REFERENCE_SKILL[task]), FAST).degraded
        unguarded = compare_quality(
            *reports(task, seed, REFERENCE_SKILL[task], NO_MARGIN), NO_MARGIN
        )
        for name, metric in unguarded.metrics.items():
            chance[name] += metric.degraded
    assert alarms == 0
    # P(X >= 5) for X ~ Binomial(40, 0.025) is 0.3%: more would mean intervals too narrow.
    assert max(chance.values()) <= 4, chance


def test_small_changes_within_the_margin_are_not_degraded() -> None:
    """A certain but small drop (large batches, accuracy 0.01 lower) stays under the margin."""
    reference = QualityReport(
        "binary",
        10**6,
        0.95,
        {"accuracy": MetricValue("accuracy", 0.90, 0.899, 0.901, True, "wilson")},
    )
    current = QualityReport(
        "binary",
        10**6,
        0.95,
        {"accuracy": MetricValue("accuracy", 0.89, 0.889, 0.891, True, "wilson")},
    )
    metric = compare_quality(reference, current).metrics["accuracy"]
    assert metric.upper < 0  # worse beyond chance...
    assert not metric.degraded  # ...but by less than min_accuracy_drop
    assert compare_quality(reference, current, QualitySettings(min_accuracy_drop=0.005)).degraded


def test_relative_margin_of_error_metrics_scales_with_the_reference() -> None:
    def mae(value: float) -> QualityReport:
        return QualityReport(
            "regression",
            10**6,
            0.95,
            {"mae": MetricValue("mae", value, value - 0.1, value + 0.1, False, "bootstrap")},
        )

    # +8 on a reference of 100 is 8%, under the 10% margin; +12 is over it.
    assert not compare_quality(mae(100), mae(108)).degraded
    assert compare_quality(mae(100), mae(112)).degraded


def test_interval_of_the_change_combines_both_intervals() -> None:
    """MOVER: each side's half-width is the root sum of squares of the two facing ones."""
    reference = QualityReport(
        "binary", 500, 0.95, {"roc_auc": MetricValue("roc_auc", 0.80, 0.77, 0.82, True, "delong")}
    )
    current = QualityReport(
        "binary", 500, 0.95, {"roc_auc": MetricValue("roc_auc", 0.75, 0.71, 0.78, True, "delong")}
    )
    metric = compare_quality(reference, current).metrics["roc_auc"]
    assert metric.change == pytest.approx(-0.05)
    assert metric.lower == pytest.approx(-0.05 - np.hypot(0.04, 0.02))
    assert metric.upper == pytest.approx(-0.05 + np.hypot(0.03, 0.03))
    assert metric.to_json() == {
        "reference": 0.80,
        "current": 0.75,
        "lower": metric.lower,
        "upper": metric.upper,
        "change": metric.change,
        # Worse beyond chance (upper < 0) but maybe by less than min_auc_drop (upper > -0.02).
        "degraded": False,
        "better": False,
    }


def test_reports_at_another_confidence_are_rescaled() -> None:
    reference = QualityReport(
        "regression", 1000, 0.90, {"mae": MetricValue("mae", 1.0, 0.9, 1.1, False, "bootstrap")}
    )
    same_at_99 = QualityReport(
        "regression", 1000, 0.99, {"mae": MetricValue("mae", 1.0, 0.9, 1.1, False, "bootstrap")}
    )
    # A 90% half-width of 0.1 is a 95% one of 0.1 * 1.96 / 1.645; a 99% one, 0.1 * 1.96 / 2.576.
    metric = compare_quality(reference, same_at_99).metrics["mae"]
    expected = np.hypot(0.1 * 1.959964 / 2.575829, 0.1 * 1.959964 / 1.644854)
    assert metric.upper == pytest.approx(expected, rel=1e-5)


def test_metrics_on_one_side_only_are_not_compared() -> None:
    labels_only = QualityReport(
        "binary", 100, 0.95, {"accuracy": MetricValue("accuracy", 0.8, 0.7, 0.9, True, "wilson")}
    )
    scored, _ = reports("binary", 3, REFERENCE_SKILL["binary"])
    assert set(compare_quality(scored, labels_only).metrics) == {"accuracy"}


def test_reports_of_different_tasks_are_refused() -> None:
    binary, _ = reports("binary", 4, REFERENCE_SKILL["binary"])
    regression, _ = reports("regression", 4, REFERENCE_SKILL["regression"])
    with pytest.raises(ContractError, match="binary model, the batch's of a regression"):
        compare_quality(binary, regression)


def test_comparison_json_names_the_verdict() -> None:
    comparison = compare_quality(*reports("regression", 5, WORSE_SKILL["regression"]), FAST)
    data = comparison.to_json()
    assert data["degraded"] is True
    assert set(data["metrics"]) == {"mae", "rmse"}
    assert comparison.degraded_metrics == ["mae", "rmse"]
