"""Concept drift: quality with an interval against the reference quality."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

from mlops_guard.drift import concept_drift, quality
from mlops_guard.errors import DataError, EmptyData, UsageError


def _scores(n: int, separation: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    logits = separation * (y - 0.5) + rng.normal(0, 1, n)
    return y, 1 / (1 + np.exp(-logits))


def test_point_estimates_equal_sklearn() -> None:
    y, score = _scores(3000, 2.0, seed=1)
    assert quality(y, score, metric="roc_auc") == pytest.approx(roc_auc_score(y, score), abs=1e-12)
    assert quality(y, score, metric="accuracy") == pytest.approx(accuracy_score(y, score >= 0.5))
    assert quality(y, score, metric="mae") == pytest.approx(mean_absolute_error(y, score))


def test_delong_standard_error_agrees_with_a_bootstrap() -> None:
    y, score = _scores(2000, 1.5, seed=2)
    result = concept_drift(y, score, reference_quality=0.5)
    rng = np.random.default_rng(0)
    boot = []
    for _ in range(300):
        idx = rng.integers(0, y.size, y.size)
        boot.append(roc_auc_score(y[idx], score[idx]))
    z = 1.959963984540054
    delong_se = (result.ci_high - result.ci_low) / (2 * z)
    assert delong_se == pytest.approx(np.std(boot), rel=0.2)


def test_a_degraded_model_is_concept_drift_and_a_healthy_one_is_not() -> None:
    y_ref, s_ref = _scores(4000, 2.0, seed=3)
    reference_auc = roc_auc_score(y_ref, s_ref)
    y_same, s_same = _scores(1500, 2.0, seed=4)
    y_bad, s_bad = _scores(1500, 0.8, seed=5)
    healthy = concept_drift(y_same, s_same, reference_quality=reference_auc)
    degraded = concept_drift(y_bad, s_bad, reference_quality=reference_auc)
    assert not healthy.significant
    assert healthy.ci_low <= reference_auc <= healthy.ci_high
    assert degraded.significant
    assert degraded.drop > 0.1
    assert degraded.method == "delong"
    assert degraded.to_json()["significant"] is True


def test_accuracy_uses_wilson_and_errors_use_a_seeded_bootstrap() -> None:
    y, score = _scores(1000, 0.5, seed=6)
    acc = concept_drift(y, score, reference_quality=0.9, metric="accuracy")
    assert acc.method == "wilson"
    assert acc.significant
    assert acc.ci_low < acc.current_quality < acc.ci_high
    rng = np.random.default_rng(7)
    truth = rng.normal(0, 1, 800)
    predicted = truth + rng.normal(0, 0.5, 800)
    first = concept_drift(truth, predicted, reference_quality=0.2, metric="mae")
    again = concept_drift(truth, predicted, reference_quality=0.2, metric="mae")
    assert first == again
    assert first.method == "bootstrap"
    assert first.significant  # MAE about 0.4, far above the reference 0.2: worse
    assert not concept_drift(truth, predicted, reference_quality=0.5, metric="mae").significant


def test_bad_inputs() -> None:
    with pytest.raises(UsageError):
        concept_drift([0, 1], [0.5], reference_quality=0.8)
    with pytest.raises(EmptyData):
        concept_drift([np.nan], [0.5], reference_quality=0.8)
    with pytest.raises(DataError):
        concept_drift([0, 2, 1, 0], [0.1, 0.2, 0.3, 0.4], reference_quality=0.8)
    with pytest.raises(DataError):
        concept_drift([1, 1, 1, 0], [0.1, 0.2, 0.3, 0.4], reference_quality=0.8)
    with pytest.raises(UsageError):
        concept_drift([0, 1], [0.1, 0.2], reference_quality=0.8, metric="f1")  # type: ignore[arg-type]
