"""Quarantine keeps whole batches (or failing rows with reasons); nothing is dropped."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_guard.data import fingerprint, write_table
from mlops_guard.demo import make_dataset
from mlops_guard.errors import ConfigError
from mlops_guard.validation import (
    REASON_COLUMN,
    Suite,
    quarantine_batch,
    read_manifest,
    split_rows,
    validate,
)


def _corrupt(seed: int = 3, rows: int = 2_000) -> pd.DataFrame:
    df = make_dataset(rows=rows, seed=seed)
    df.loc[df.index[[5, 9]], "age"] = np.nan
    df.loc[df.index[9], "region"] = "atlantis"  # row 9 breaks two expectations
    df.loc[df.index[40], "tenure_months"] = -3.0
    return df


def test_failed_batch_is_kept_whole_with_a_manifest(tmp_path: Path, churn_suite: Suite) -> None:
    df = _corrupt()
    source = write_table(df, tmp_path / "batch.parquet")
    result = validate(df, churn_suite, source=str(source))
    entry = quarantine_batch(df, result, tmp_path / "q")
    kept = pd.read_parquet(entry / "data.parquet")
    pd.testing.assert_frame_equal(kept, df, check_dtype=False)
    manifest = read_manifest(entry)
    assert manifest["suite"] == "churn"
    assert manifest["rows"] == len(df) == manifest["batch_rows"]
    assert manifest["source"] == str(source)
    assert manifest["source_sha256"].startswith("sha256:")
    assert manifest["content_hash"] == fingerprint(df)
    assert manifest["quarantined_at"].endswith("Z")
    assert {f["column"] for f in manifest["failed"]} == {"age", "region", "tenure_months"}
    # Nothing half-written is left beside the entry.
    assert [p.name for p in (tmp_path / "q").iterdir()] == [entry.name]


def test_a_batch_arrow_cannot_store_is_kept_as_text(tmp_path: Path, churn_suite: Suite) -> None:
    df = make_dataset(rows=300, seed=1)
    df["support_calls"] = df["support_calls"].astype(object)
    df.loc[df.index[3], "support_calls"] = "n/a?"
    df.loc[df.index[4], "support_calls"] = None
    result = validate(df, churn_suite)
    assert not result.success
    entry = quarantine_batch(df, result, tmp_path)
    kept = pd.read_parquet(entry / "data.parquet")
    assert len(kept) == len(df)
    assert kept["support_calls"].iloc[3] == "n/a?"
    assert kept["support_calls"].iloc[4] is None
    assert kept["support_calls"].iloc[0] == str(df["support_calls"].iloc[0])
    assert read_manifest(entry)["stored_as_text"] == ["support_calls"]


def test_quarantine_dir_that_is_a_file_is_a_config_error(
    tmp_path: Path, churn_suite: Suite
) -> None:
    df = _corrupt(rows=100)
    blocker = tmp_path / "q"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="is a file"):
        quarantine_batch(df, validate(df, churn_suite), blocker)


def test_an_unwritable_quarantine_location_is_a_config_error(
    tmp_path: Path, churn_suite: Suite
) -> None:
    df = _corrupt(rows=100)
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    with pytest.raises(ConfigError, match="cannot create a quarantine entry"):
        quarantine_batch(df, validate(df, churn_suite), blocker / "q")


def test_split_rows_accounts_for_every_row_once(churn_suite: Suite) -> None:
    df = _corrupt()
    passing, failing, result = split_rows(df, churn_suite)
    assert not result.success
    assert len(passing) + len(failing) == len(df)
    assert sorted([*passing["customer_id"], *failing["customer_id"]]) == sorted(df["customer_id"])
    assert failing["customer_id"].tolist() == df["customer_id"].iloc[[5, 9, 40]].tolist()
    reasons = dict(zip(failing["customer_id"], failing[REASON_COLUMN], strict=True))
    assert reasons[df["customer_id"].iloc[9]] == (
        "expect_column_values_to_not_be_null(age); expect_column_values_to_be_in_set(region)"
    )
    assert reasons[df["customer_id"].iloc[40]] == (
        "expect_column_values_to_be_between(tenure_months)"
    )
    # What goes on passes the suite: the split removed exactly the problem.
    assert validate(passing, churn_suite).success
    assert REASON_COLUMN not in passing.columns


def test_rows_unexpected_under_a_passing_mostly_go_on() -> None:
    df = make_dataset(rows=1_000, seed=2)
    df.loc[df.index[:10], "age"] = np.nan  # 1% nulls, allowed by mostly=0.95
    df.loc[df.index[500], "region"] = "atlantis"
    suite = Suite.from_json_dict(
        {
            "name": "lenient",
            "expectations": [
                {
                    "type": "expect_column_values_to_not_be_null",
                    "kwargs": {"column": "age", "mostly": 0.95},
                },
                {
                    "type": "expect_column_values_to_be_in_set",
                    "kwargs": {"column": "region", "value_set": ["north", "south", "east", "west"]},
                },
            ],
        }
    )
    passing, failing, _ = split_rows(df, suite)
    in_set = ~df["region"].isin(["central", "atlantis"])
    assert passing["age"].isna().sum() == (df["age"].isna() & in_set).sum() > 0
    assert set(failing["region"]) == {"atlantis", "central"}
    assert len(passing) + len(failing) == len(df)


def test_a_table_level_failure_fails_every_row(churn_suite: Suite) -> None:
    df = make_dataset(rows=200, seed=4).drop(columns=["discount_pct"])
    passing, failing, _ = split_rows(df, churn_suite)
    assert passing.empty
    assert len(failing) == len(df)
    assert "expect_table_columns_to_match_set" in failing[REASON_COLUMN].iloc[0]
    assert "expect_column_values_to_not_be_null(discount_pct)" in failing[REASON_COLUMN].iloc[0]


def test_a_clean_batch_splits_into_all_passing(churn_suite: Suite) -> None:
    df = make_dataset(rows=500, seed=8)
    passing, failing, result = split_rows(df, churn_suite)
    assert result.success
    assert failing.empty
    pd.testing.assert_frame_equal(passing, df)


def _nested_batch(path: Path, rows: int = 300) -> pd.DataFrame:
    """A churn batch read back from Parquet with list, struct, map, decimal, tz-aware time and
    binary columns beside the suite's own (so it fails the column set)."""
    from decimal import Decimal

    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops_guard.data import read_table

    base = pa.Table.from_pandas(make_dataset(rows=rows, seed=4), preserve_index=False)
    extra = {
        "tags": pa.array(
            [[i, i + 1] if i % 5 else None for i in range(rows)], pa.list_(pa.int64())
        ),
        "meta": pa.array([{"a": i, "b": str(i)} for i in range(rows)]),
        "attrs": pa.array([[("k", i)] for i in range(rows)], pa.map_(pa.string(), pa.int64())),
        "amount": pa.array([Decimal(i) / 4 for i in range(rows)], pa.decimal128(12, 2)),
        "seen": pa.array([0] * rows, pa.timestamp("us", tz="Europe/Paris")),
        "raw": pa.array([bytes([i % 256, 255]) for i in range(rows)], pa.binary()),
    }
    for name, array in extra.items():
        base = base.append_column(name, array)
    pq.write_table(base, path)
    return read_table(path)


def test_a_batch_with_nested_columns_is_kept_whole(tmp_path: Path, churn_suite: Suite) -> None:
    df = _nested_batch(tmp_path / "nested.parquet")
    result = validate(df, churn_suite)
    assert not result.success
    entry = quarantine_batch(df, result, tmp_path / "q")
    manifest = read_manifest(entry)
    assert manifest["rows"] == len(df)
    assert manifest["content_hash"] == fingerprint(df)
    assert entry.name.endswith(fingerprint(df).split(":")[1][:12])
    # Maps come back from pandas as lists of pairs, which Arrow cannot infer: kept as text.
    assert manifest["stored_as_text"] == ["attrs"]
    kept = pd.read_parquet(entry / "data.parquet")
    assert len(kept) == len(df)
    assert list(kept["tags"].iloc[1]) == [1, 2]
    assert kept["meta"].iloc[3] == {"a": 3, "b": "3"}
    assert kept["attrs"].iloc[7] == '[["k", 7]]'
    assert kept["raw"].iloc[2] == bytes([2, 255])
    assert [p.name for p in (tmp_path / "q").iterdir()] == [entry.name]


def test_a_long_array_kept_as_text_is_not_abbreviated(tmp_path: Path, churn_suite: Suite) -> None:
    df = make_dataset(rows=10, seed=1)
    values = np.arange(5_000)
    df["mixed"] = pd.Series([values, *["x"] * (len(df) - 1)], dtype=object)
    entry = quarantine_batch(df, validate(df, churn_suite), tmp_path)
    kept = pd.read_parquet(entry / "data.parquet")
    assert read_manifest(entry)["stored_as_text"] == ["mixed"]
    assert json.loads(kept["mixed"].iloc[0]) == values.tolist()


def test_split_rows_fails_every_row_whose_suite_column_holds_structs(churn_suite: Suite) -> None:
    df = make_dataset(rows=200, seed=2)
    df["region"] = pd.Series([{"x": i % 3} for i in range(len(df))], dtype=object)
    df.loc[df.index[:50], "region"] = "north"
    passing, failing, result = split_rows(df, churn_suite)
    assert len(passing) + len(failing) == len(df)
    assert len(failing) == 150
    failed = {o.expectation for o in result.failed if o.column == "region"}
    assert "expect_column_values_to_be_in_type_list" in failed
    region = next(o for o in result.failed if o.column == "region")
    assert json.loads(region.to_json()["unexpected_examples"][0]) == {"x": 2}
