"""The signals that mean "roll back", produced by the shipped inference flow itself.

Real Prefect server, real MLflow SQLite store, the real scikit-learn pipeline of the training
flow: rows the champion fails on are quarantined and counted as its error rate, and a labelled
batch compares the champion with the version it replaced on the same rows.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_guard import registry
from mlops_guard.contract import score_rows
from mlops_guard.data import write_table
from mlops_guard.demo import FEATURES, LABEL, make_dataset
from mlops_guard.metrics import GuardMetrics
from mlops_guard.pipelines import inference_flow, training_flow
from mlops_guard.settings import GuardSettings
from mlops_guard.validation import REASON_COLUMN, read_manifest

pytestmark = pytest.mark.usefixtures("prefect_server")


class _FailsOnNegativeAge:
    """A scorer that raises for any frame holding a row with a negative age, as a model's
    input check does (used only to exercise the row isolation without MLflow)."""

    calls = 0

    def __call__(self, frame: pd.DataFrame) -> np.ndarray:
        type(self).calls += 1
        if (frame["age"] < 0).any():
            raise ValueError("age must be >= 0")
        return np.full(len(frame), 0.25)


def test_score_rows_isolates_exactly_the_rows_the_model_fails_on() -> None:
    frame = pd.DataFrame({"age": np.arange(1_000, dtype=float)})
    bad = [3, 417, 418, 999]
    frame.loc[bad, "age"] = -1.0
    scores, reasons = score_rows(_FailsOnNegativeAge(), frame)
    assert sorted(reasons) == bad
    assert all(reason == "ValueError: age must be >= 0" for reason in reasons.values())
    assert np.isnan(scores[bad]).all()
    good = np.setdiff1d(np.arange(1_000), bad)
    assert (scores[good] == 0.25).all()


def test_score_rows_fails_rows_without_a_number() -> None:
    frame = pd.DataFrame({"x": range(4)})
    scores, reasons = score_rows(lambda f: np.array([0.1, np.nan, np.inf, 0.9])[: len(f)], frame)
    assert sorted(reasons) == [1, 2]
    assert "not a number" in reasons[2]
    assert scores[0] == 0.1
    assert scores[3] == 0.9


def test_score_rows_accounts_for_every_row_when_all_fail_within_its_budget() -> None:
    _FailsOnNegativeAge.calls = 0
    frame = pd.DataFrame({"age": np.full(50_000, -1.0)})
    scores, reasons = score_rows(_FailsOnNegativeAge(), frame)
    assert len(reasons) == 50_000
    assert np.isnan(scores).all()
    assert _FailsOnNegativeAge.calls <= 1 + 512  # the whole batch, then the isolation budget


def _columns_only_suite(tmp_path: Path) -> Path:
    """A suite that checks only that the columns exist, so values the model cannot take
    reach the model (a suite written by a user who forgot the ranges)."""
    columns = list(make_dataset(rows=5, seed=0).columns)
    suite = {
        "name": "columns-only",
        "expectations": [
            {"type": "expect_column_to_exist", "kwargs": {"column": c}}
            for c in columns
            if c != LABEL
        ],
        "meta": {},
    }
    path = tmp_path / "columns-only.json"
    path.write_text(json.dumps(suite))
    return path


def test_rows_the_champion_cannot_score_are_quarantined_and_counted(
    settings: GuardSettings, metrics: GuardMetrics, tmp_path: Path
) -> None:
    training_flow(
        str(write_table(make_dataset(rows=4_000, seed=1), tmp_path / "t.parquet")),
        settings=settings,
    )
    batch = make_dataset(rows=1_000, seed=2).drop(columns=[LABEL])
    broken = [5, 250, 251, 777]
    batch.loc[broken, "monthly_charges"] = np.inf  # the imputer refuses infinity
    source = write_table(batch, tmp_path / "batch.parquet")
    loose = settings.model_copy(update={"validation_suite": str(_columns_only_suite(tmp_path))})

    result = inference_flow(str(source), batch_id="inf", settings=loose)

    assert result.rows_failed == 4
    assert result.rows_scored == 996
    assert result.error_rate == pytest.approx(4 / 1_000)
    scored = pd.read_parquet(result.predictions_path)
    assert len(scored) == 996
    assert not scored["customer_id"].isin(batch.loc[broken, "customer_id"]).any()
    assert result.failed_path is not None
    kept = pd.read_parquet(Path(result.failed_path) / "data.parquet")
    assert sorted(kept["customer_id"]) == sorted(batch.loc[broken, "customer_id"])
    assert kept[REASON_COLUMN].str.contains("infinity").all()
    manifest = read_manifest(result.failed_path)
    assert manifest["kind"] == "unscored"
    assert manifest["failed"][0]["expectation"] == "model_scores_row"
    labels = {"model": "churn", "model_version": "1"}
    assert metrics.sample("mlops_guard_model_error_rate", labels) == pytest.approx(0.004)
    assert metrics.sample("mlops_guard_scoring_failures_total", labels) == 4.0


@pytest.fixture
def two_versions(settings: GuardSettings, tmp_path: Path) -> GuardSettings:
    """v1 trained on the usual relation; v2 on a month where the label relation reversed,
    promoted by hand (the mistake a rollback is for)."""
    good = write_table(make_dataset(rows=4_000, seed=1), tmp_path / "good.parquet")
    flipped = write_table(
        make_dataset(rows=4_000, seed=3, concept_drift=1.0), tmp_path / "flipped.parquet"
    )
    training_flow(str(good), settings=settings)
    training_flow(str(flipped), settings=settings)
    registry.promote("churn", "2", reason="looked fine offline", actor="tests", settings=settings)
    return settings


def test_a_labelled_batch_shows_the_champion_worse_than_the_version_it_replaced(
    two_versions: GuardSettings, metrics: GuardMetrics, tmp_path: Path
) -> None:
    batch = write_table(make_dataset(rows=1_500, seed=4), tmp_path / "labelled.parquet")
    result = inference_flow(str(batch), batch_id="labelled", settings=two_versions)
    assert result.model_version == "2"
    assert result.comparison is not None
    assert result.comparison["previous_version"] == "1"
    assert result.comparison["worse"] is True
    assert result.comparison["loss_increase_lower"] > 0.01
    versus = {"model": "churn", "model_version": "2", "previous_version": "1"}
    assert metrics.sample("mlops_guard_model_worse_than_previous", versus) == 1.0
    assert metrics.sample("mlops_guard_model_loss_increase", versus) > 0.01


def test_a_better_or_identical_champion_is_not_worse(
    settings: GuardSettings, metrics: GuardMetrics, tmp_path: Path
) -> None:
    flipped = write_table(
        make_dataset(rows=4_000, seed=3, concept_drift=1.0), tmp_path / "flipped.parquet"
    )
    good = write_table(make_dataset(rows=4_000, seed=1), tmp_path / "good.parquet")
    for data in (flipped, good, good):  # v1 bad, v2 good, v3 the same model as v2
        training_flow(str(data), settings=settings)
    batch = write_table(make_dataset(rows=1_500, seed=6), tmp_path / "labelled.parquet")

    registry.promote("churn", "2", reason="better", actor="tests", settings=settings)
    improved = inference_flow(str(batch), batch_id="improved", settings=settings)
    assert improved.comparison is not None
    assert improved.comparison["worse"] is False
    assert improved.comparison["loss_increase"] < 0  # better, and reported as better

    registry.promote("churn", "3", reason="same recipe", actor="tests", settings=settings)
    same = inference_flow(str(batch), batch_id="same", settings=settings)
    assert same.comparison is not None
    assert same.comparison["previous_version"] == "2"
    assert same.comparison["worse"] is False
    assert same.comparison["loss_increase"] == pytest.approx(0.0, abs=1e-12)
    for version, previous in (("2", "1"), ("3", "2")):
        versus = {"model": "churn", "model_version": version, "previous_version": previous}
        assert metrics.sample("mlops_guard_model_worse_than_previous", versus) == 0.0


def test_a_batch_without_labels_or_a_first_champion_is_not_compared(
    settings: GuardSettings, metrics: GuardMetrics, tmp_path: Path
) -> None:
    training_flow(
        str(write_table(make_dataset(rows=4_000, seed=1), tmp_path / "t.parquet")),
        settings=settings,
    )
    labelled = write_table(make_dataset(rows=600, seed=2), tmp_path / "b.parquet")
    result = inference_flow(str(labelled), settings=settings)
    assert result.comparison is None  # v1 replaced nothing
    assert (
        metrics.sample(
            "mlops_guard_model_worse_than_previous",
            {"model": "churn", "model_version": "1", "previous_version": "0"},
        )
        is None
    )
    assert FEATURES  # the batch had every feature; only the comparison was skipped


def test_a_champion_that_fails_on_every_row_quarantines_the_whole_batch(
    settings: GuardSettings, metrics: GuardMetrics, tmp_path: Path
) -> None:
    training_flow(
        str(write_table(make_dataset(rows=4_000, seed=1), tmp_path / "t.parquet")),
        settings=settings,
    )
    batch = make_dataset(rows=300, seed=2).drop(columns=[LABEL])
    batch["age"] = np.inf  # nothing this model can score
    source = write_table(batch, tmp_path / "all-bad.parquet")
    loose = settings.model_copy(update={"validation_suite": str(_columns_only_suite(tmp_path))})
    result = inference_flow(str(source), batch_id="all-bad", settings=loose)
    assert result.rows_scored == 0
    assert result.rows_failed == 300
    assert result.error_rate == 1.0
    assert result.predictions_path is None
    assert result.failed_path is not None
    assert len(pd.read_parquet(Path(result.failed_path) / "data.parquet")) == 300
    labels = {"model": "churn", "model_version": "1"}
    assert metrics.sample("mlops_guard_model_error_rate", labels) == 1.0
