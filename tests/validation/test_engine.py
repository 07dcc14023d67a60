"""The vectorised engine agrees with real Great Expectations, expectation by expectation.

Both engines run the same suite on the same batches (no mocks: GX 1.24's own pandas engine);
success must agree everywhere, and the unexpected count wherever GX reports one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_guard.demo import Corruption, SyntheticSpec, make_dataset
from mlops_guard.errors import SchemaError, SuiteError
from mlops_guard.validation import (
    NATIVE_TYPES,
    ExpectationSpec,
    Suite,
    ValidationSettings,
    validate,
)
from mlops_guard.validation._infer import NUMERIC_TYPES


def _e(kind: str, **kwargs: Any) -> ExpectationSpec:
    return ExpectationSpec(kind, kwargs)


def _batch(corrupt: bool) -> pd.DataFrame:
    corruption = (
        Corruption(
            null_rate=0.04,
            null_columns=("age", "contract"),
            out_of_range_rate=0.01,
            out_of_range_columns=("tenure_months",),
            unseen_category_rate=0.02,
            unseen_category_columns=("region",),
            wrong_type_rate=0.01,
            wrong_type_columns=("support_calls",),
        )
        if corrupt
        else Corruption()
    )
    df = make_dataset(SyntheticSpec(rows=3000, seed=11, corruption=corruption))
    df["flag"] = df["churned"].astype(bool)
    df["visits"] = pd.array(df["churned"].to_numpy() * 3, dtype="Int64")
    if corrupt:
        df.loc[df.index[:7], "data_usage_gb"] = np.inf
        df.loc[df.index[7:9], "data_usage_gb"] = -np.inf
        df.loc[df.index[10:14], "customer_id"] = "C-dup"
        df.loc[df.index[20:23], "visits"] = pd.NA
    return df


SPECS = (
    _e("expect_table_columns_to_match_set", column_set=[*make_dataset(rows=1).columns]),
    _e(
        "expect_table_columns_to_match_set",
        column_set=["age", "region", "flag"],
        exact_match=False,
    ),
    _e("expect_table_columns_to_match_set", column_set=["age", "nope"], exact_match=False),
    _e("expect_table_columns_to_match_ordered_list", column_list=["customer_id", "event_time"]),
    _e("expect_column_to_exist", column="age"),
    _e("expect_column_to_exist", column="age", column_index=2),
    _e("expect_column_to_exist", column="age", column_index=3),
    _e("expect_column_to_exist", column="missing_column"),
    _e("expect_table_row_count_to_be_between", min_value=1, max_value=10_000),
    _e("expect_table_row_count_to_be_between", min_value=5_000),
    _e("expect_column_values_to_not_be_null", column="age"),
    _e("expect_column_values_to_not_be_null", column="age", mostly=0.9),
    _e("expect_column_values_to_not_be_null", column="contract", mostly=0.97),
    _e("expect_column_values_to_not_be_null", column="visits"),
    _e("expect_column_values_to_be_null", column="age", mostly=0.01),
    _e("expect_column_values_to_be_between", column="tenure_months", min_value=0, max_value=240),
    _e(
        "expect_column_values_to_be_between",
        column="tenure_months",
        min_value=0,
        max_value=240,
        mostly=0.95,
    ),
    _e(
        "expect_column_values_to_be_between",
        column="age",
        min_value=18,
        max_value=90,
        strict_min=True,
    ),
    _e("expect_column_values_to_be_between", column="age", min_value=18, strict_max=True),
    _e("expect_column_values_to_be_between", column="data_usage_gb", max_value=500),
    _e("expect_column_values_to_be_between", column="data_usage_gb", min_value=0),
    _e("expect_column_values_to_be_between", column="churned", min_value=0, max_value=1),
    _e("expect_column_values_to_be_between", column="visits", min_value=0, max_value=2),
    _e(
        "expect_column_values_to_be_in_set",
        column="region",
        value_set=["north", "south", "east", "west", "central"],
    ),
    _e(
        "expect_column_values_to_be_in_set",
        column="region",
        value_set=["north", "south", "east", "west", "central"],
        mostly=0.9,
    ),
    _e("expect_column_values_to_be_in_set", column="churned", value_set=[0, 1]),
    _e("expect_column_values_to_be_in_set", column="discount_pct", value_set=[0, 5, 10]),
    _e("expect_column_values_to_be_in_set", column="contract", value_set=["one-year"]),
    _e("expect_column_values_to_be_unique", column="customer_id"),
    _e("expect_column_values_to_be_unique", column="region"),
    _e("expect_column_values_to_be_in_type_list", column="customer_id", type_list=["str"]),
    _e("expect_column_values_to_be_in_type_list", column="age", type_list=list(NUMERIC_TYPES)),
    _e("expect_column_values_to_be_in_type_list", column="age", type_list=["int64"]),
    _e("expect_column_values_to_be_in_type_list", column="churned", type_list=["int64"]),
    _e("expect_column_values_to_be_in_type_list", column="flag", type_list=["bool", "boolean"]),
    _e("expect_column_values_to_be_in_type_list", column="visits", type_list=["Int64"]),
    _e("expect_column_values_to_be_in_type_list", column="visits", type_list=["int64"]),
    _e(
        "expect_column_values_to_be_in_type_list",
        column="support_calls",
        type_list=list(NUMERIC_TYPES),
    ),
    _e("expect_column_values_to_be_in_type_list", column="region", type_list=["int", "float"]),
)


@pytest.fixture(scope="module", params=[False, True], ids=["clean", "corrupted"])
def both(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    df = _batch(request.param)
    suite = Suite("equivalence", SPECS)
    cfg = ValidationSettings(max_examples=3)
    return validate(df, suite, settings=cfg), validate(df, suite, settings=cfg, engine="gx")


def test_every_native_type_is_exercised() -> None:
    assert {s.type for s in SPECS} == NATIVE_TYPES


def test_native_engine_ran_natively(both: tuple[Any, Any]) -> None:
    native, gx = both
    assert all(o.engine == "native" for o in native.outcomes)
    assert all(o.engine == "gx" for o in gx.outcomes)


@pytest.mark.parametrize("index", range(len(SPECS)), ids=[s.label for s in SPECS])
def test_success_and_counts_agree_with_gx(both: tuple[Any, Any], index: int) -> None:
    native, gx = both
    ours, theirs = native.outcomes[index], gx.outcomes[index]
    assert ours.success == theirs.success, (ours, theirs)
    if ours.row_level and theirs.detail is None:
        assert ours.unexpected_count == theirs.unexpected_count, (ours, theirs)
        # GX lists the first unexpected values in row order, as we do.
        assert [str(v) for v in ours.unexpected_examples] == [
            str(v) for v in theirs.unexpected_examples
        ]


def test_the_comparison_covers_failures_and_passes() -> None:
    # Agreement is only meaningful if both outcomes occur, for map and table expectations.
    suite = Suite("equivalence", SPECS)
    clean, corrupted = validate(_batch(False), suite), validate(_batch(True), suite)
    failed = {o.label for o in corrupted.failed}
    assert {
        "expect_column_values_to_be_between(tenure_months)",
        "expect_column_values_to_be_in_set(region)",
        "expect_column_values_to_be_unique(customer_id)",
        "expect_column_values_to_not_be_null(visits)",
        "expect_column_values_to_be_between(data_usage_gb)",
    } <= failed
    assert "expect_column_values_to_be_between(tenure_months)" not in {
        o.label for o in clean.failed
    }
    assert any(o.success and o.row_level and o.unexpected_count for o in corrupted.outcomes)
    assert any(not o.success and not o.row_level for o in clean.outcomes)


def test_range_on_text_column_fails_in_both_engines() -> None:
    df = _batch(True)
    suite = Suite(
        "text-range",
        (
            _e(
                "expect_column_values_to_be_between",
                column="support_calls",
                min_value=0,
                max_value=20,
            ),
        ),
    )
    ours = validate(df, suite).outcomes[0]
    theirs = validate(df, suite, engine="gx").outcomes[0]
    assert not ours.success
    assert not theirs.success
    # Ours counts exactly the words; GX raised inside the expectation.
    assert ours.unexpected_count == int((df["support_calls"] == "n/a?").sum())
    assert theirs.detail is not None
    assert "raised" in theirs.detail


def test_types_gx_has_and_we_do_not_are_run_by_gx() -> None:
    df = make_dataset(rows=500, seed=2)
    suite = Suite(
        "mixed",
        (
            _e("expect_column_mean_to_be_between", column="age", min_value=0, max_value=10),
            _e("expect_column_values_to_not_be_null", column="age"),
        ),
    )
    result = validate(df, suite)
    assert [o.engine for o in result.outcomes] == ["gx", "native"]
    assert [o.success for o in result.outcomes] == [False, True]
    assert "observed" in (result.outcomes[0].detail or "")


def test_duplicate_column_names_are_a_schema_error() -> None:
    df = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(SchemaError, match="duplicate"):
        validate(df, Suite("s", (_e("expect_column_to_exist", column="a"),)))


@pytest.mark.parametrize(
    "spec",
    [
        _e("expect_column_values_to_be_between", column="age"),
        _e("expect_column_values_to_be_between", column="age", min_value=5, max_value=1),
        _e("expect_column_values_to_not_be_null", column="age", mostly=2),
        _e("expect_column_values_to_be_in_set", column="region", value_set="north"),
        _e("expect_column_values_to_be_in_type_list", column="region", type_list=["nonsense"]),
    ],
)
def test_malformed_kwargs_are_suite_errors(spec: ExpectationSpec) -> None:
    with pytest.raises(SuiteError):
        validate(make_dataset(rows=50, seed=1), Suite("bad", (spec,)))


def test_non_range_index_reports_positions() -> None:
    df = make_dataset(rows=100, seed=5)
    df.index = df.index + 1000
    df.loc[1003, "age"] = np.nan
    result = validate(df, Suite("s", (_e("expect_column_values_to_not_be_null", column="age"),)))
    assert result.failed[0].unexpected_rows == [3]


def test_uniqueness_on_mixed_objects_matches_gx_exactly() -> None:
    # 1 and "1" hash alike as text; the exact check must still tell them apart.
    df = pd.DataFrame({"key": [1, "1", "a", "a", None, None, 2.5, "2.5", "b"]})
    suite = Suite("u", (_e("expect_column_values_to_be_unique", column="key"),))
    ours = validate(df, suite).outcomes[0]
    theirs = validate(df, suite, engine="gx").outcomes[0]
    assert ours.unexpected_rows == [2, 3]
    assert (ours.success, ours.unexpected_count) == (theirs.success, theirs.unexpected_count)


def test_text_columns_with_value_sets_agree_with_gx_on_nulls_and_types() -> None:
    df = pd.DataFrame({"c": ["x", None, "y", np.nan, "z", "x"] * 50})
    suite = Suite(
        "t",
        (
            _e("expect_column_values_to_be_in_set", column="c", value_set=["x", "y"]),
            _e("expect_column_values_to_not_be_null", column="c", mostly=0.5),
            _e("expect_column_values_to_be_in_type_list", column="c", type_list=["str"]),
            _e("expect_column_values_to_be_unique", column="c"),
        ),
    )
    ours, theirs = validate(df, suite), validate(df, suite, engine="gx")
    for a, b in zip(ours.outcomes, theirs.outcomes, strict=True):
        assert (a.success, a.unexpected_count) == (b.success, b.unexpected_count), (a, b)
