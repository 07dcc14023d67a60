"""Inferred suites: what a careful engineer would write, with a measured false-alarm rate."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_guard.demo import CATEGORIES, NUMERICAL_FEATURES, Corruption, SyntheticSpec, make_dataset
from mlops_guard.errors import EmptyData, UsageError
from mlops_guard.validation import Suite, infer_suite, validate

FRESH_BATCHES = 300
FRESH_ROWS = 2_000
MAX_FALSE_ALARM_RATE = 0.01  # the bar


@pytest.fixture(scope="module")
def inferred(reference: pd.DataFrame) -> Suite:
    return infer_suite(reference, "churn")


def _by(suite: Suite, kind: str) -> dict[str | None, dict[str, Any]]:
    return {s.column: dict(s.kwargs) for s in suite.expectations if s.type == kind}


def test_the_shipped_suite_is_what_inference_gives(inferred: Suite, churn_suite: Suite) -> None:
    assert [(s.type, dict(s.kwargs)) for s in inferred.expectations] == [
        (s.type, dict(s.kwargs)) for s in churn_suite.expectations
    ]


def test_columns_types_and_not_null(inferred: Suite, reference: pd.DataFrame) -> None:
    column_set = _by(inferred, "expect_table_columns_to_match_set")[None]
    assert column_set == {"column_set": list(reference.columns), "exact_match": True}
    types = _by(inferred, "expect_column_values_to_be_in_type_list")
    assert types["customer_id"]["type_list"] == ["str"]
    assert "float64" in types["age"]["type_list"]
    assert "int64" in types["age"]["type_list"]
    # No nulls in the reference: every column must be non-null, without 'mostly'.
    not_null = _by(inferred, "expect_column_values_to_not_be_null")
    assert set(not_null) == set(reference.columns)
    assert all("mostly" not in kwargs for kwargs in not_null.values())


def test_ranges_have_a_margin_and_respect_sign(inferred: Suite, reference: pd.DataFrame) -> None:
    ranges = _by(inferred, "expect_column_values_to_be_between")
    assert set(ranges) == set(NUMERICAL_FEATURES)
    for column, kwargs in ranges.items():
        low, high = reference[column].min(), reference[column].max()
        assert kwargs["min_value"] <= low
        assert kwargs["max_value"] > high
        assert kwargs["min_value"] >= 0  # no negatives seen
    # Integer-valued columns get integer bounds.
    assert isinstance(ranges["support_calls"]["max_value"], int)


def test_value_sets_for_categoricals_and_binary_labels_only(inferred: Suite) -> None:
    sets = _by(inferred, "expect_column_values_to_be_in_set")
    for column, values in CATEGORIES.items():
        assert sets[column]["value_set"] == sorted(values)
    assert sets["churned"]["value_set"] == [0, 1]
    assert "customer_id" not in sets  # id-like: no value set...
    unique = _by(inferred, "expect_column_values_to_be_unique")
    assert set(unique) == {"customer_id"}  # ...but unique, as in the reference
    # No ranges or sets on the timestamp: later batches are later in time.
    assert not any(s.column == "event_time" and "between" in s.type for s in inferred.expectations)


def test_false_alarm_rate_on_fresh_batches_is_at_most_one_percent(inferred: Suite) -> None:
    failures: Counter[str] = Counter()
    failed_batches = 0
    for seed in range(1, FRESH_BATCHES + 1):
        result = validate(make_dataset(rows=FRESH_ROWS, seed=seed), inferred)
        if not result.success:
            failed_batches += 1
            failures.update(o.label for o in result.failed)
    rate = failed_batches / FRESH_BATCHES
    assert rate <= MAX_FALSE_ALARM_RATE, (rate, failures)


def test_null_rate_bound_passes_fresh_batches_and_fails_doubled_rate() -> None:
    def with_nulls(rate: float, seed: int, rows: int) -> pd.DataFrame:
        return make_dataset(
            SyntheticSpec(
                rows=rows,
                seed=seed,
                corruption=Corruption(null_rate=rate, null_columns=("age", "contract")),
            )
        )

    suite = infer_suite(with_nulls(0.05, 0, 20_000), "nulls")
    bounds = _by(suite, "expect_column_values_to_not_be_null")
    assert 0.9 < bounds["age"]["mostly"] < 0.95
    assert "mostly" not in bounds["tenure_months"]
    fresh = [validate(with_nulls(0.05, seed, 5_000), suite).success for seed in range(1, 21)]
    assert all(fresh)
    doubled = validate(with_nulls(0.10, 99, 5_000), suite)
    assert not doubled.success
    assert {o.label for o in doubled.failed} == {
        "expect_column_values_to_not_be_null(age)",
        "expect_column_values_to_not_be_null(contract)",
    }


def test_unseen_category_fails(inferred: Suite) -> None:
    batch = make_dataset(rows=FRESH_ROWS, seed=5)
    batch.loc[batch.index[17], "payment_method"] = "crypto"
    result = validate(batch, inferred)
    assert [o.label for o in result.failed] == ["expect_column_values_to_be_in_set(payment_method)"]
    assert result.failed[0].unexpected_examples == ["crypto"]
    assert result.failed[0].unexpected_rows == [17]


def test_high_cardinality_text_gets_no_value_set() -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "city": rng.choice([f"city-{i}" for i in range(400)], 2_000),
            "note": [f"free text {i % 1500}" for i in range(2_000)],
            "order_no": np.arange(2_000) + 10_000,
        }
    )
    suite = infer_suite(df, "wide")
    kinds = {(s.type, s.column) for s in suite.expectations}
    assert ("expect_column_values_to_be_in_set", "city") not in kinds
    assert ("expect_column_values_to_be_in_set", "note") not in kinds
    # An integer id: unique, never a range (ids grow).
    assert ("expect_column_values_to_be_unique", "order_no") in kinds
    assert ("expect_column_values_to_be_between", "order_no") not in kinds


def test_reference_with_negatives_keeps_a_margin_below() -> None:
    df = pd.DataFrame({"delta": np.linspace(-10.0, 30.0, 500)})
    bounds = _by(infer_suite(df, "neg"), "expect_column_values_to_be_between")["delta"]
    assert bounds["min_value"] < -10
    assert bounds["max_value"] > 30


def test_empty_reference_and_bad_names_are_refused() -> None:
    with pytest.raises(EmptyData):
        infer_suite(pd.DataFrame({"a": []}), "x")
    with pytest.raises(UsageError):
        infer_suite(make_dataset(rows=10, seed=1), "../x")
