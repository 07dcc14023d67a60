"""measure(): each task's metrics against scikit-learn's, and intervals that cover the truth."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

from mlops_guard.contract import FeatureSpec, ModelContract
from mlops_guard.errors import ContractError, DataError
from mlops_guard.quality import MetricValue, QualityReport, QualitySettings, measure

FEATURES = (FeatureSpec(name="x", kind="numerical"),)


def contract(task: str, classes: tuple[Any, ...] | None = None, **extra: Any) -> ModelContract:
    return ModelContract(features=FEATURES, label="y", task=task, classes=classes, **extra)


def binary_batch(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    y = rng.integers(0, 2, n)
    score = 1 / (1 + np.exp(-(2.0 * (y - 0.5) * 1.5 + rng.normal(0, 1.2, n))))
    return y, score


def test_binary_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y, score = binary_batch(rng, 3000)
    predictions = pd.DataFrame({"prediction": (score >= 0.5).astype(int), "score": score})
    report = measure(contract("binary", (0, 1)), y, predictions)
    assert set(report.metrics) == {"accuracy", "roc_auc", "log_loss"}
    assert report.metrics["accuracy"].value == pytest.approx(
        accuracy_score(y, score >= 0.5), abs=1e-12
    )
    assert report.metrics["roc_auc"].value == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert report.metrics["log_loss"].value == pytest.approx(log_loss(y, score), abs=1e-12)
    assert report.metrics["log_loss"].higher_is_better is False
    assert report.rows == 3000
    assert report.confidence == QualitySettings().interval_confidence
    for metric in report.metrics.values():
        assert metric.lower < metric.value < metric.upper


def test_string_labels_use_the_contracts_positive_class() -> None:
    rng = np.random.default_rng(4)
    y, score = binary_batch(rng, 800)
    names = np.where(y == 1, "churn", "stay")
    predictions = pd.DataFrame(
        {"prediction": np.where(score >= 0.5, "churn", "stay"), "score": score}
    )
    report = measure(
        contract("binary", ("churn", "stay"), positive_class="churn"), names, predictions
    )
    assert report.metrics["roc_auc"].value == pytest.approx(roc_auc_score(y, score))


def test_float_labels_from_a_csv_match_integer_classes() -> None:
    # A CSV column with a missing value reads integer labels as floats (1.0, 0.0).
    predictions = pd.DataFrame({"prediction": [1, 0, 1, 0], "score": [0.9, 0.2, 0.7, 0.4]})
    report = measure(contract("binary", (0, 1)), pd.Series([1.0, 0.0, 0.0, 1.0]), predictions)
    assert report.metrics["accuracy"].value == 0.5


def test_delong_interval_matches_its_variance_on_a_known_case() -> None:
    # Four positives and four negatives: AUC 0.875; DeLong's structural components give
    # var(V10)/4 + var(V01)/4 = 0.02083 (hand-computed from the placement values).
    y = np.array([1, 1, 1, 1, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.4, 0.7, 0.5, 0.3, 0.2, 0.6])
    predictions = pd.DataFrame({"prediction": (s >= 0.5).astype(int), "score": s})
    auc = measure(contract("binary", (0, 1)), y, predictions, confidence=0.95).metrics["roc_auc"]
    v10 = np.array([1.0, 1.0, 0.5, 1.0])  # share of negatives below each positive
    v01 = np.array([0.75, 1.0, 1.0, 0.75])  # share of positives above each negative
    se = np.sqrt(v10.var(ddof=1) / 4 + v01.var(ddof=1) / 4)
    assert auc.value == pytest.approx(roc_auc_score(y, s)) == pytest.approx(0.875)
    assert auc.upper == pytest.approx(min(1.0, 0.875 + 1.959963984540054 * se))
    assert auc.lower == pytest.approx(0.875 - 1.959963984540054 * se)
    assert auc.method == "delong"


def test_labels_only_classifier_gets_accuracy_only() -> None:
    predictions = pd.DataFrame({"prediction": [0, 1, 1, 0], "score": [float("nan")] * 4})
    report = measure(contract("binary", (0, 1)), [0, 1, 0, 1], predictions)
    assert set(report.metrics) == {"accuracy"}
    assert report.metrics["accuracy"].method == "wilson"


def test_accuracy_interval_is_scipys_wilson() -> None:
    from scipy.stats import binomtest

    predictions = pd.DataFrame({"prediction": [0] * 100})
    truth = [0] * 83 + [1] * 17
    accuracy = measure(contract("binary", (0, 1)), truth, predictions.assign(score=np.nan))
    ci = binomtest(83, 100).proportion_ci(0.95, method="wilson")
    assert (accuracy.metrics["accuracy"].lower, accuracy.metrics["accuracy"].upper) == (
        pytest.approx(ci.low),
        pytest.approx(ci.high),
    )


def test_multiclass_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(5)
    classes = ("setosa", "versicolor", "virginica")
    y = rng.choice(classes, 2000)
    predicted = np.where(rng.random(2000) < 0.75, y, rng.choice(classes, 2000))
    report = measure(contract("multiclass", classes), y, pd.DataFrame({"prediction": predicted}))
    assert set(report.metrics) == {"accuracy", "macro_f1"}
    assert report.metrics["macro_f1"].value == pytest.approx(
        f1_score(y, predicted, average="macro")
    )
    assert report.metrics["accuracy"].value == pytest.approx(accuracy_score(y, predicted))
    assert report.metrics["macro_f1"].lower < report.metrics["macro_f1"].value


def test_regression_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(6)
    y = rng.normal(100, 20, 1500)
    predicted = y + rng.normal(0, 5, 1500)
    report = measure(contract("regression"), y, pd.DataFrame({"prediction": predicted}))
    assert report.metrics["mae"].value == pytest.approx(mean_absolute_error(y, predicted))
    assert report.metrics["rmse"].value == pytest.approx(root_mean_squared_error(y, predicted))
    assert not report.metrics["mae"].higher_is_better


def test_bootstrap_is_seeded() -> None:
    rng = np.random.default_rng(7)
    y = rng.normal(size=500)
    frame = pd.DataFrame({"prediction": y + rng.normal(size=500)})
    first = measure(contract("regression"), y, frame)
    assert measure(contract("regression"), y, frame) == first
    other = measure(contract("regression"), y, frame, settings=QualitySettings(bootstrap_seed=1))
    assert other.metrics["mae"].lower != first.metrics["mae"].lower


def test_sampled_bootstrap_interval_is_close_to_the_full_one() -> None:
    """Above bootstrap_max_rows the interval comes from a sample, scaled to all rows."""
    rng = np.random.default_rng(8)
    y = rng.normal(size=40_000)
    frame = pd.DataFrame({"prediction": y + rng.normal(size=40_000)})
    full = measure(
        contract("regression"), y, frame, settings=QualitySettings(bootstrap_max_rows=40_000)
    )
    sampled = measure(
        contract("regression"), y, frame, settings=QualitySettings(bootstrap_max_rows=5_000)
    )
    assert sampled.metrics["mae"].value == full.metrics["mae"].value
    assert "scaled" in sampled.metrics["mae"].method
    assert full.metrics["mae"].method == "bootstrap"
    full_width = full.metrics["mae"].upper - full.metrics["mae"].lower
    sampled_width = sampled.metrics["mae"].upper - sampled.metrics["mae"].lower
    assert sampled_width == pytest.approx(full_width, rel=0.15)


def test_intervals_cover_the_true_value_at_about_their_confidence() -> None:
    """Over 200 batches of a model whose true accuracy and MAE are known, the 90% intervals
    hold the truth about 90% of the time (binomial band 0.84-0.95 at 200 draws)."""
    settings = QualitySettings(interval_confidence=0.9, bootstrap_resamples=300)
    rng = np.random.default_rng(9)
    covered = {"accuracy": 0, "mae": 0}
    draws = 200
    for _ in range(draws):
        truth = rng.integers(0, 2, 300)
        correct = rng.random(300) < 0.8
        predictions = pd.DataFrame({"prediction": np.where(correct, truth, 1 - truth)})
        acc = measure(
            contract("binary", (0, 1)), truth, predictions.assign(score=np.nan), settings=settings
        ).metrics
        covered["accuracy"] += acc["accuracy"].lower <= 0.8 <= acc["accuracy"].upper
        errors = rng.normal(0, 1, 300)  # MAE of N(0, 1) errors is sqrt(2 / pi)
        y = rng.normal(size=300)
        mae = measure(
            contract("regression"), y, pd.DataFrame({"prediction": y + errors}), settings=settings
        ).metrics["mae"]
        covered["mae"] += mae.lower <= np.sqrt(2 / np.pi) <= mae.upper
    for name, hits in covered.items():
        assert 0.84 <= hits / draws <= 0.95, (name, hits)


def test_report_json_round_trips_and_is_compact() -> None:
    rng = np.random.default_rng(10)
    y, score = binary_batch(rng, 500)
    predictions = pd.DataFrame({"prediction": (score >= 0.5).astype(int), "score": score})
    report = measure(contract("binary", (0, 1)), y, predictions)
    text = json.dumps(report.to_json(), separators=(",", ":"))
    assert len(text) < 5_000
    assert QualityReport.from_json(json.loads(text)) == report


@pytest.mark.parametrize(
    "data",
    [[], {"format": 99}, {"format": 1, "task": "binary"}, {"format": 1, "metrics": {"a": 1}}],
)
def test_malformed_report_json_is_a_contract_error(data: Any) -> None:
    with pytest.raises(ContractError, match="quality report"):
        QualityReport.from_json(data)


def test_bad_inputs_name_the_problem() -> None:
    binary = contract("binary", (0, 1))
    ok = pd.DataFrame({"prediction": [0, 1, 1], "score": [0.1, 0.8, 0.6]})
    with pytest.raises(ContractError, match=r"\[2\] outside the model's classes"):
        measure(binary, [0, 1, 2], ok)
    with pytest.raises(DataError, match="1 of 3 rows have no label"):
        measure(binary, [0, None, 1], ok)
    with pytest.raises(DataError, match="2 labels but 3 predictions"):
        measure(binary, [0, 1], ok)
    with pytest.raises(DataError, match="lack the column 'prediction'"):
        measure(binary, [0, 1, 1], ok.drop(columns="prediction"))
    with pytest.raises(DataError, match="not probabilities"):
        measure(binary, [0, 1, 1], ok.assign(score=[0.1, 1.5, 0.3]))
    with pytest.raises(ContractError, match="not numeric"):
        measure(contract("regression"), ["a", "b", "c"], pd.DataFrame({"prediction": [1.0, 2, 3]}))
    with pytest.raises(DataError, match="not numbers"):
        measure(contract("regression"), [1.0, 2, 3], pd.DataFrame({"prediction": [1.0, None, 3]}))


def test_metric_value_json_has_no_name_twice() -> None:
    value = MetricValue("mae", 1.0, 0.5, 1.5, False, "bootstrap")
    assert value.to_json() == {
        "value": 1.0,
        "lower": 0.5,
        "upper": 1.5,
        "higher_is_better": False,
        "method": "bootstrap",
    }
