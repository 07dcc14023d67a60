"""Scored batches: one format, one layout, and listings that never mix versions or kinds."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_guard.data import (
    SCORED_COLUMNS,
    add_scores,
    read_table,
    scored_batch_path,
    scored_batches,
    with_predictions,
    write_table,
)
from mlops_guard.demo import make_dataset
from mlops_guard.errors import UsageError
from mlops_guard.settings import GuardSettings

_EPOCH_NS = 1_700_000_000_000_000_000


def _write(path: Path, age_seconds: int) -> Path:
    """A small scored file at ``path`` whose modification time is ``age_seconds`` old."""
    frame = add_scores(
        make_dataset(rows=20, seed=1),
        np.linspace(0, 1, 20),
        version="1",
        batch_id="b",
        threshold=0.5,
    )
    write_table(frame, path)
    stamp = _EPOCH_NS - age_seconds * 10**9
    os.utime(path, ns=(stamp, stamp))
    return path


def test_add_scores_adds_the_documented_columns(tmp_path: Path) -> None:
    rows = make_dataset(rows=4, seed=2)
    scores = np.array([0.1, 0.5, np.nan, 0.9])
    out = add_scores(rows, scores, version="7", batch_id="b-1", threshold=0.5)
    assert list(out.columns) == [*rows.columns, *SCORED_COLUMNS]
    assert out["prediction"].tolist() == [0, 1, 0, 1]  # a failed score predicts nothing
    assert set(out["model_version"]) == {"7"}
    assert set(out["batch_id"]) == {"b-1"}
    assert out["scored_at"].dt.tz is not None
    assert list(rows.columns) == list(make_dataset(rows=4, seed=2).columns)  # input untouched
    back = read_table(write_table(out, tmp_path / "scored.parquet"))
    assert back["model_version"].tolist() == ["7"] * 4
    with pytest.raises(UsageError, match="3 scores for 4 rows"):
        add_scores(rows, [0.1, 0.2, 0.3], version="7", batch_id="b", threshold=0.5)


def test_batch_and_canary_files_of_each_version_have_their_own_place(
    settings: GuardSettings,
) -> None:
    batch = scored_batch_path(settings, "churn", "3", "20260101T000000-abc123")
    canary = scored_batch_path(settings, "churn", "3", "canary-1f2e-s1a1", "canary")
    other = scored_batch_path(settings, "churn", "4", "20260101T000000-abc123")
    assert batch == settings.predictions_dir / "churn" / "v3" / "batch" / (
        "20260101T000000-abc123.parquet"
    )
    assert canary.parent == settings.predictions_dir / "churn" / "v3" / "canary"
    assert len({batch.parent, canary.parent, other.parent}) == 3


def test_listing_returns_one_model_version_and_kind_newest_first(
    settings: GuardSettings,
) -> None:
    newest = _write(scored_batch_path(settings, "churn", "1", "b3"), age_seconds=10)
    older = _write(scored_batch_path(settings, "churn", "1", "b2"), age_seconds=20)
    # Same modification time: the name decides, so the order is stable.
    tie_a = _write(scored_batch_path(settings, "churn", "1", "a-tie"), age_seconds=30)
    tie_b = _write(scored_batch_path(settings, "churn", "1", "b-tie"), age_seconds=30)
    flat = settings.predictions_dir
    legacy = _write(flat / "churn-v1-20250101T000000-aaaaaa.parquet", age_seconds=40)
    # Not version 1's batches: the challenger's, canary splits (new and flat), another model.
    _write(scored_batch_path(settings, "churn", "2", "b9"), age_seconds=1)
    _write(scored_batch_path(settings, "churn", "1", "canary-x-s1a1", "canary"), age_seconds=1)
    legacy_canary = _write(flat / "churn-v1-canary-x-s1a1.parquet", age_seconds=2)
    _write(flat / "churn-v2-20250101T000000-bbbbbb.parquet", age_seconds=1)
    _write(flat / "churn-v10-20250101T000000-cccccc.parquet", age_seconds=1)
    _write(scored_batch_path(settings, "churn2", "1", "b9"), age_seconds=1)
    _write(flat / "churn2-v1-20250101T000000-dddddd.parquet", age_seconds=1)

    assert scored_batches(settings, "churn", "1") == [newest, older, tie_b, tie_a, legacy]
    assert scored_batches(settings, "churn", "1", "canary") == [
        scored_batch_path(settings, "churn", "1", "canary-x-s1a1", "canary"),
        legacy_canary,
    ]
    assert scored_batches(settings, "churn", "5") == []
    assert scored_batches(settings, "other", "1") == []


def test_names_that_would_escape_the_layout_are_refused(settings: GuardSettings) -> None:
    for model, version, batch_id in [
        ("../churn", "1", "b"),
        ("churn", "", "b"),
        ("churn", "1", "a/b"),
        ("churn", "1", ".."),
        ("churn", "1", "a\\b"),
    ]:
        with pytest.raises(UsageError, match="cannot name a scored-batch file"):
            scored_batch_path(settings, model, version, batch_id)
    with pytest.raises(UsageError, match="kind 'shadow'"):
        scored_batches(settings, "churn", "1", "shadow")  # type: ignore[arg-type]


def test_frame_with_an_index_keeps_its_rows() -> None:
    rows = pd.DataFrame({"x": [1.0, 2.0, 3.0]}, index=[10, 20, 30])
    out = add_scores(rows, [0.9, 0.1, 0.6], version="1", batch_id="b", threshold=0.5)
    assert out.index.tolist() == [10, 20, 30]
    assert out["score"].tolist() == [0.9, 0.1, 0.6]


def test_predictions_without_a_copy_match_the_copy_and_leave_the_batch_alone() -> None:
    batch = make_dataset(rows=30, seed=4)
    batch["prediction"] = -1  # a column the predictions replace
    before = batch.copy()
    predictions = pd.DataFrame(
        {"prediction": np.arange(30) % 2, "score": np.linspace(0.0, 1.0, 30)}, index=batch.index
    )
    when = pd.Timestamp("2026-01-01", tz="UTC").to_pydatetime()
    copied = with_predictions(batch, predictions, version="2", batch_id="b", scored_at=when)
    shared = with_predictions(
        batch, predictions, version="2", batch_id="b", scored_at=when, copy=False
    )
    pd.testing.assert_frame_equal(shared, copied)
    pd.testing.assert_frame_equal(batch, before)
    shared.loc[shared.index[0], "prediction"] = 7
    pd.testing.assert_frame_equal(batch, before)
