"""Concept drift: quality with an interval against the reference quality."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

from mlops_guard.drift import DriftSettings, concept_drift, quality
from mlops_guard.drift._concept import hanley_mcneil_se
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


@pytest.fixture(scope="module")
def churn_model():
    """The synthetic churn data's logistic model, as the training flow fits it."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mlops_guard.demo import LABEL, NUMERICAL_FEATURES, make_dataset

    train = make_dataset(rows=16_000, seed=100)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return model.fit(train[list(NUMERICAL_FEATURES)], train[LABEL])


def _labelled_scores(model, rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from mlops_guard.demo import LABEL, NUMERICAL_FEATURES, make_dataset

    frame = make_dataset(rows=rows, seed=seed)
    return frame[LABEL].to_numpy(), model.predict_proba(frame[list(NUMERICAL_FEATURES)])[:, 1]


def _test_set_reference(model, seed: int) -> tuple[float, float]:
    """ROC AUC and DeLong standard error on a 4,000-row test set, as the training flow logs
    them (test_roc_auc, test_roc_auc_se)."""
    y, score = _labelled_scores(model, 4000, seed)
    measured = concept_drift(y, score, reference_quality=0.5)
    return measured.current_quality, measured.current_se


def test_a_reference_auc_from_4000_rows_is_no_alarm_on_13000_rows_of_the_same_data(
    churn_model,
) -> None:
    """Thirty checks where nothing changed: a test-set AUC on 4,000 rows against pooled
    batches of 13,333 rows, both drawn from the same generator with the same model."""
    old_alarms, new_alarms = [], []
    for i in range(30):
        reference, reference_se = _test_set_reference(churn_model, seed=1000 + i)
        y, score = _labelled_scores(churn_model, 13_333, seed=5000 + i)
        # The old rule: the reference taken as exact and no minimum effect.
        old = concept_drift(y, score, reference_quality=reference, min_drop=0.0)
        new = concept_drift(y, score, reference_quality=reference, reference_se=reference_se)
        assert new.reference_method == "given"
        assert new.min_drop == 0.02
        old_alarms.append(old.significant)
        new_alarms.append(new.significant)
    assert sum(old_alarms) >= 3  # the false alarms the old rule raised (6 of 30 here)
    assert sum(new_alarms) == 0


def test_a_genuinely_worse_batch_is_concept_drift(churn_model) -> None:
    reference, reference_se = _test_set_reference(churn_model, seed=1029)
    y, score = _labelled_scores(churn_model, 13_333, seed=5029)
    # A share of the labels flipped: the same inputs and scores, a relationship that changed.
    flipped = np.where(np.random.default_rng(0).random(y.size) < 0.15, 1 - y, y)
    worse = concept_drift(flipped, score, reference_quality=reference, reference_se=reference_se)
    assert worse.significant
    assert worse.drop > 0.08
    assert worse.z is not None
    assert worse.z > 1.96
    # The same batch with its true labels, against the same reference: no alarm, although the
    # old rule raised one on exactly these figures (reference 0.8136, current 0.8001).
    same = concept_drift(y, score, reference_quality=reference, reference_se=reference_se)
    assert not same.significant
    assert concept_drift(y, score, reference_quality=reference, min_drop=0.0).significant


def test_the_reference_interval_is_reported_and_json_safe(churn_model) -> None:
    reference, reference_se = _test_set_reference(churn_model, seed=1001)
    y, score = _labelled_scores(churn_model, 3000, seed=5001)
    result = concept_drift(y, score, reference_quality=reference, reference_se=reference_se)
    document = json.loads(json.dumps(result.to_json(), allow_nan=False))
    assert {
        "metric",
        "reference_quality",
        "current_quality",
        "ci_low",
        "ci_high",
        "confidence",
        "method",
        "rows",
        "higher_is_better",
        "significant",
        "drop",
    } <= set(document)
    assert document["reference_se"] == pytest.approx(reference_se)
    assert document["reference_ci_low"] == pytest.approx(
        reference - 1.959963984540054 * reference_se
    )
    assert document["reference_ci_high"] == pytest.approx(
        reference + 1.959963984540054 * reference_se
    )
    assert document["reference_method"] == "given"
    expected_z = (reference - result.current_quality - 0.02) / np.hypot(
        reference_se, result.current_se
    )
    assert document["z"] == pytest.approx(expected_z)


def test_without_a_logged_se_the_reference_rows_give_hanley_mcneil(churn_model) -> None:
    y_ref, s_ref = _labelled_scores(churn_model, 4000, seed=1002)
    delong = concept_drift(y_ref, s_ref, reference_quality=0.5)
    hm = hanley_mcneil_se(delong.current_quality, int(y_ref.sum()), int(y_ref.size - y_ref.sum()))
    # The exponential approximation is close to DeLong's on this data, and on the safe side.
    assert delong.current_se <= hm <= 1.3 * delong.current_se
    y, score = _labelled_scores(churn_model, 13_333, seed=5002)
    result = concept_drift(
        y,
        score,
        reference_quality=delong.current_quality,
        reference_rows=4000,
        reference_positive_share=float(y_ref.mean()),
    )
    assert result.reference_method == "hanley_mcneil"
    assert result.reference_se == pytest.approx(hm, rel=0.01)
    nothing = concept_drift(y, score, reference_quality=delong.current_quality)
    assert nothing.reference_method == "exact"
    assert nothing.reference_se == 0.0
    assert nothing.z is None


def test_the_minimum_effect_is_what_a_drop_must_exceed_beyond_chance() -> None:
    # Large samples (tiny standard errors): a true drop of about 0.03 of AUC.
    y_ref, s_ref = _scores(200_000, 2.0, seed=8)
    y_cur, s_cur = _scores(200_000, 1.72, seed=9)
    reference = concept_drift(y_ref, s_ref, reference_quality=0.5)
    current = {
        "reference_quality": reference.current_quality,
        "reference_se": reference.current_se,
    }
    measured = concept_drift(y_cur, s_cur, **current)
    assert 0.025 < measured.drop < 0.035
    assert measured.significant  # default minimum effect 0.02
    assert not concept_drift(y_cur, s_cur, min_drop=0.05, **current).significant
    settings = DriftSettings(concept_min_drop=0.05)
    assert not concept_drift(y_cur, s_cur, settings=settings, **current).significant


def test_accuracy_reference_rows_give_a_binomial_error_and_errors_have_their_own_minimum() -> None:
    y, score = _scores(2000, 2.0, seed=10)
    acc = concept_drift(y, score, reference_quality=0.95, reference_rows=1000, metric="accuracy")
    assert acc.reference_method == "binomial"
    assert acc.reference_se == pytest.approx(np.sqrt(0.95 * 0.05 / 1000))
    assert acc.significant
    rng = np.random.default_rng(11)
    truth = rng.normal(0, 1, 800)
    predicted = truth + rng.normal(0, 0.5, 800)
    mae = concept_drift(truth, predicted, reference_quality=0.3, metric="mae", reference_se=0.01)
    assert mae.min_drop == 0.0  # MAE is in the target's units: concept_min_drop does not apply
    assert mae.significant
    lenient = DriftSettings(concept_min_error_increase=0.2)
    assert not concept_drift(
        truth, predicted, reference_quality=0.3, metric="mae", reference_se=0.01, settings=lenient
    ).significant


def test_bad_reference_figures() -> None:
    y, score = _scores(500, 2.0, seed=12)
    with pytest.raises(UsageError, match="reference standard error"):
        concept_drift(y, score, reference_quality=0.8, reference_se=-0.1)
    with pytest.raises(UsageError, match="min_drop"):
        concept_drift(y, score, reference_quality=0.8, min_drop=float("nan"))
    with pytest.raises(DataError, match="both classes"):
        hanley_mcneil_se(0.8, 0, 100)
