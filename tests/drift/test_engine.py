"""Engine behaviour beyond parity: exclusions, kinds, corrections, bad inputs, JSON shape."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from mlops_guard.data import add_scores
from mlops_guard.demo import NUMERICAL_FEATURES, make_dataset
from mlops_guard.drift import DriftConfig, DriftSettings, detect_drift
from mlops_guard.drift._stats import sturges_edges
from mlops_guard.errors import ConfigError, EmptyData, SchemaError
from tests.drift._helpers import features


def test_nothing_is_excluded_by_name_and_text_is_tested() -> None:
    reference = make_dataset(rows=2000, seed=1)
    current = make_dataset(rows=1000, seed=2)
    reference["comment"] = [f"free text {i}" for i in range(len(reference))]
    current["comment"] = [f"other text {i}" for i in range(len(current))]
    report = detect_drift(reference, current)
    # As Evidently 0.7 without a data definition: the id is a (text) feature too.
    assert report.columns["customer_id"].kind == "text"
    assert report.columns["comment"].test == "abs_text_content_drift"
    assert report.skipped["event_time"].kind == "datetime"
    assert "churned" in report.columns
    configured = detect_drift(
        reference, current, config=DriftConfig(exclude=("customer_id", "event_time"))
    )
    assert "customer_id" not in configured.columns
    assert configured.skipped["customer_id"].reason == "excluded by the configuration"
    assert set(configured.to_json()["columns"]) == set(current.columns)


def test_json_has_exactly_the_contract_keys() -> None:
    report = detect_drift(features(3000, 1), features(1000, 2, drift={"age": 1.0}))
    document = json.loads(json.dumps(report.to_json(), allow_nan=False))
    assert set(document) == {
        "dataset_drift",
        "drift_share",
        "share_threshold",
        "rows",
        "columns",
        "tested",
        "drifted",
        "schema",
        "prediction_drift",
        "outputs",
    }
    assert document["schema"] == {"missing": [], "extra": [], "changed": []}
    assert document["prediction_drift"] is None  # no model output in either frame
    assert document["outputs"] == {}
    assert document["rows"] == {"reference": 3000, "current": 1000}
    age = document["columns"]["age"]
    assert {"kind", "test", "statistic", "threshold", "drifted"} <= set(age)
    assert age["kind"] == "numerical"
    assert age["test"] == "wasserstein"
    assert age["drifted"] is True
    assert document["share_threshold"] == 0.5


def test_integer_columns_with_few_values_are_categorical_like_evidently() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"n": rng.integers(0, 8, 3000), "m": rng.integers(0, 500, 3000)})
    current = pd.DataFrame({"n": rng.integers(0, 8, 1000), "m": rng.integers(0, 500, 1000)})
    report = detect_drift(reference, current)
    assert report.columns["n"].kind == "categorical"
    assert report.columns["n"].test == "jensenshannon"
    assert report.columns["m"].kind == "numerical"


def test_sturges_edges_equal_numpys() -> None:
    rng = np.random.default_rng(1)
    for data in (rng.normal(size=1234), rng.integers(0, 7, 500), np.full(10, 3.0)):
        expected = np.histogram_bin_edges(data, bins="sturges")
        got = sturges_edges(
            float(data.min()), float(data.max()), data.size, integer=data.dtype.kind == "i"
        )
        np.testing.assert_allclose(got, expected, rtol=0, atol=0)


def _p_value_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(3)
    n = 400
    reference = pd.DataFrame({f"c{i}": rng.normal(0, 1, n) for i in range(10)})
    current = pd.DataFrame({f"c{i}": rng.normal(0.12 * (i % 4), 1, n) for i in range(10)})
    return reference, current


def test_bonferroni_and_benjamini_hochberg_follow_their_definitions() -> None:
    reference, current = _p_value_frames()
    plain = detect_drift(reference, current)
    p_values = {name: c.statistic for name, c in plain.columns.items()}
    assert {c.test for c in plain.columns.values()} == {"ks"}
    m, alpha = len(p_values), 0.05

    bonferroni = detect_drift(reference, current, config=DriftConfig(correction="bonferroni"))
    for name, p in p_values.items():
        assert bonferroni.columns[name].drifted == (p <= alpha / m)

    bh = detect_drift(reference, current, config=DriftConfig(correction="benjamini_hochberg"))
    ranked = sorted(p_values.values())
    k = max((i for i, p in enumerate(ranked, start=1) if p <= i / m * alpha), default=0)
    expected = {name for name, p in p_values.items() if k and p <= ranked[k - 1]}
    assert set(bh.drifted_columns) == expected
    # The corrections are at least as strict as none, and BH at most as strict as Bonferroni.
    assert set(bonferroni.drifted_columns) <= set(bh.drifted_columns) <= set(plain.drifted_columns)
    assert set(plain.drifted_columns) != set(bonferroni.drifted_columns)


def test_per_column_threshold_override() -> None:
    reference, current = features(3000, 1), features(1000, 2, drift={"age": 0.15})
    default = detect_drift(reference, current)
    strict = detect_drift(reference, current, config=DriftConfig(column_thresholds={"age": 0.5}))
    assert default.columns["age"].drifted
    assert not strict.columns["age"].drifted
    assert strict.columns["age"].threshold == 0.5


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_GUARD_DRIFT_DRIFT_SHARE", "0.05")
    reference, current = features(3000, 1), features(1000, 2, drift={"age": 1.0})
    report = detect_drift(reference, current, config=DriftConfig(settings=DriftSettings()))
    assert report.share_threshold == 0.05
    assert report.dataset_drift


def test_bad_inputs_raise_clear_errors() -> None:
    reference = features(2000, 1)
    with pytest.raises(SchemaError, match="no column in common"):
        detect_drift(reference, pd.DataFrame({"x": [1.0]}))
    with pytest.raises(EmptyData, match="no rows"):
        detect_drift(reference, reference.iloc[:0])
    mixed = features(500, 2).astype({"tenure_months": object})
    mixed.loc[mixed.index[::7], "tenure_months"] = "n/a?"
    changed = detect_drift(reference, mixed)
    assert changed.schema.changed == ("tenure_months",)
    assert changed.columns["tenure_months"].test == "type_change"
    assert changed.columns["tenure_months"].drifted
    assert changed.to_json()["columns"]["tenure_months"]["statistic"] is None
    nulls = features(500, 2)
    nulls["age"] = np.nan
    assert detect_drift(reference, nulls).skipped["age"].reason == (
        "only null values in the current data"
    )
    with pytest.raises(ConfigError, match="'no_such_column'"):
        detect_drift(
            reference, features(500, 2), config=DriftConfig(column_tests={"no_such_column": "ks"})
        )
    with pytest.raises(ConfigError, match="needs a numerical column"):
        detect_drift(reference, features(500, 2), config=DriftConfig(column_tests={"region": "ks"}))
    with pytest.raises(ConfigError, match="unknown drift test"):
        DriftConfig(column_tests={"age": "t-test"})  # type: ignore[dict-item]


def _scored(frame: pd.DataFrame, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """``frame`` with scores drawn independently of its features (their drift is ``shift``)."""
    rng = np.random.default_rng(seed)
    scores = 1 / (1 + np.exp(-(rng.normal(-1.1 + shift, 1.0, len(frame)))))
    return add_scores(frame, scores, version="1", batch_id=f"b{seed}", threshold=0.5)


def test_model_outputs_are_reported_apart_and_do_not_dilute_the_drift_share() -> None:
    drifted = dict.fromkeys(NUMERICAL_FEATURES[:7], 1.0)
    reference = _scored(features(3000, 1), seed=1)
    current = _scored(features(1500, 2, drift=drifted), seed=2)
    scored = DriftConfig.for_scored_batches()
    report = detect_drift(reference, current, config=scored)
    # 7 of the 14 data columns (13 features and the label) drifted; score and prediction did not.
    assert set(report.drifted_columns) == set(drifted)
    assert set(report.columns) == set(features(10, 1).columns)
    assert report.dataset_drift
    assert report.drift_share == len(report.drifted_columns) / len(report.columns)
    assert set(report.outputs) == {"score", "prediction"}
    assert report.prediction_drift is False
    for bookkeeping in ("model_version", "batch_id", "scored_at"):
        assert bookkeeping not in report.columns
        assert bookkeeping not in report.outputs
    # Counted as data columns (the old rule), the two clean outputs hid the drift.
    as_data = detect_drift(reference, current, config=replace(scored, outputs=()))
    assert {"score", "prediction"} <= set(as_data.columns)
    assert not as_data.dataset_drift

    moved = detect_drift(reference, _scored(features(1500, 3), seed=3, shift=1.0), config=scored)
    assert moved.prediction_drift is True
    assert "score" in moved.drifted_outputs
    assert not moved.dataset_drift
    document = json.loads(json.dumps(moved.to_json(), allow_nan=False))
    assert document["prediction_drift"] is True
    assert document["outputs"]["score"]["drifted"] is True
    assert "score" not in document["columns"]


def test_outputs_are_judged_on_their_own_after_a_correction() -> None:
    reference, current = _p_value_frames()
    reference = _scored(reference, seed=4)
    current = _scored(current, seed=5, shift=0.5)
    scored = DriftConfig.for_scored_batches()
    plain = detect_drift(reference, current, config=scored)
    bonferroni = detect_drift(reference, current, config=replace(scored, correction="bonferroni"))
    # The correction counts the ten data columns, not the outputs.
    m = len(plain.columns)
    assert m == 10
    for name, column in bonferroni.columns.items():
        assert column.threshold == pytest.approx(0.05 / m), name
    assert bonferroni.outputs["score"].threshold == plain.outputs["score"].threshold == 0.05
    assert bonferroni.outputs["score"].drifted


def test_only_model_outputs_in_common_is_a_clear_error() -> None:
    reference = _scored(features(500, 1), seed=1)[["score", "prediction"]]
    current = _scored(features(500, 2), seed=2)[["score", "prediction"]]
    with pytest.raises(SchemaError, match="no data column can be drift-checked"):
        detect_drift(reference, current, config=DriftConfig.for_scored_batches())
