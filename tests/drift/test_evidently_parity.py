"""The engine against Evidently 0.7 itself: same test per column, same statistic (1e-6),
same verdicts, on small and large references, numeric and categorical, with and without drift.

Evidently runs for real here (about 2 s a report); no answer is hard-coded.
"""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_guard.drift import DriftConfig, build_profile, detect_drift
from tests.drift._helpers import evidently_drift, features

# Evidently's method names, as its snapshot reports them.
_EVIDENTLY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Hellinger distance": "hellinger",
}

_CASES = {
    "small-reference-no-drift": (500, 400, {}),
    "small-reference-drift": (
        800,
        600,
        {
            "age": 0.6,
            "tenure_months": 0.5,
            "contract": 0.4,
            "monthly_charges": 0.5,
            "region": 0.4,
            "support_calls": 0.6,
            "logins_30d": 0.6,
            "late_payments": 0.8,
        },
    ),
    "large-reference-no-drift": (6000, 3000, {}),
    "large-reference-drift": (
        6000,
        3000,
        {
            "age": 0.5,
            "tenure_months": 0.4,
            "region": 0.3,
            "contract": 0.3,
            "data_usage_gb": 0.5,
            "logins_30d": 0.5,
            "payment_method": 0.3,
            "discount_pct": 0.5,
        },
    ),
}


@pytest.fixture(scope="module", params=sorted(_CASES))
def case(request: pytest.FixtureRequest) -> tuple[pd.DataFrame, pd.DataFrame, dict, float]:
    ref_rows, cur_rows, drift = _CASES[request.param]
    reference = features(ref_rows, seed=11)
    current = features(cur_rows, seed=12, drift=drift)
    expected, share = evidently_drift(reference, current)
    return reference, current, expected, share


def _assert_matches(report, expected: dict, share: float) -> None:
    assert set(report.columns) == set(expected)
    for name, column in report.columns.items():
        method, score, threshold = expected[name]
        assert column.test == _EVIDENTLY_NAMES[method], name
        assert column.statistic == pytest.approx(score, abs=1e-6, rel=1e-6), name
        assert column.threshold == pytest.approx(threshold), name
        assert column.exact
    assert report.drift_share == pytest.approx(share)
    assert report.dataset_drift == (share >= 0.5)


def test_statistics_and_verdicts_match_evidently(case) -> None:
    reference, current, expected, share = case
    _assert_matches(detect_drift(reference, current), expected, share)


def test_an_exact_profile_gives_the_same_answers_as_the_rows(case) -> None:
    reference, current, expected, share = case
    profile = build_profile(reference, chunk_rows=700)
    assert profile.exact
    _assert_matches(detect_drift(profile, current), expected, share)


def test_both_verdicts_occur_in_the_cases() -> None:
    # Guards the case list itself: a parity test where nothing drifts proves little.
    verdicts = set()
    for ref_rows, cur_rows, drift in _CASES.values():
        report = detect_drift(features(ref_rows, 11), features(cur_rows, 12, drift=drift))
        verdicts.add(report.dataset_drift)
    assert verdicts == {True, False}


@pytest.mark.parametrize("test", ["psi", "hellinger", "jensenshannon", "ks"])
def test_per_column_overrides_match_evidently(test: str) -> None:
    reference = features(3000, seed=21)
    current = features(2000, seed=22, drift={"age": 0.3, "monthly_charges": 0.2})
    columns = ["age", "monthly_charges", "support_calls", "discount_pct"]
    if test != "ks":
        columns.append("region")
    expected, _share = evidently_drift(
        reference[columns], current[columns], per_column_method=dict.fromkeys(columns, test)
    )
    report = detect_drift(
        reference[columns],
        current[columns],
        config=DriftConfig(column_tests=dict.fromkeys(columns, test)),
    )
    for name in columns:
        method, score, _threshold = expected[name]
        assert _EVIDENTLY_NAMES.get(method, method) == test
        assert report.columns[name].statistic == pytest.approx(score, abs=1e-6, rel=1e-6), name


def test_model_outputs_match_evidently_and_stay_out_of_the_share() -> None:
    import numpy as np

    from mlops_guard.data import OUTPUT_COLUMNS, add_scores

    def scored(frame: pd.DataFrame, batch: str) -> pd.DataFrame:
        # A fixed logistic score of two features: it drifts when they do, like a model's.
        logit = -0.04 * (frame["tenure_months"] - 30) + 0.03 * (frame["monthly_charges"] - 70)
        return add_scores(
            frame, 1 / (1 + np.exp(-logit)), version="1", batch_id=batch, threshold=0.5
        )

    reference = scored(features(3000, seed=31), "ref")
    current = scored(
        features(2000, seed=32, drift={"tenure_months": 0.6, "monthly_charges": 0.6}), "cur"
    )
    data = [str(c) for c in features(1, seed=31).columns]
    checked = [*data, *OUTPUT_COLUMNS]
    expected, _ = evidently_drift(reference[checked], current[checked])
    _, share = evidently_drift(reference[checked], current[checked], columns=data)

    report = detect_drift(reference, current, config=DriftConfig.for_scored_batches())

    assert set(report.columns) == set(data)
    assert set(report.outputs) == set(OUTPUT_COLUMNS)
    for name, column in {**report.columns, **report.outputs}.items():
        method, score, _threshold = expected[name]
        assert column.test == _EVIDENTLY_NAMES[method], name
        assert column.statistic == pytest.approx(score, abs=1e-6, rel=1e-6), name
    assert report.outputs["score"].drifted
    assert report.drift_share == pytest.approx(share)
