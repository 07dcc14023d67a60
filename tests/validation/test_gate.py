"""The pipeline gate: validates, quarantines, counts, logs; raises or passes rows on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_guard.demo import LABEL, make_dataset
from mlops_guard.errors import UsageError, ValidationFailed
from mlops_guard.metrics import GuardMetrics
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings
from mlops_guard.validation import REASON_COLUMN, BatchRejected, gate, read_manifest


def _bad(rows: int = 1_000) -> pd.DataFrame:
    df = make_dataset(rows=rows, seed=21)
    df.loc[df.index[[1, 2, 3]], "contract"] = "lifetime"
    df.loc[df.index[7], "age"] = np.inf
    return df


def _sample(metrics: GuardMetrics, name: str, **labels: str) -> float | None:
    return metrics.sample(name, labels)


def test_fail_policy_raises_quarantines_counts_and_logs(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    df = _bad()
    with pytest.raises(ValidationFailed) as info:
        gate(
            df,
            suite="churn",
            policy="fail",
            flow="training",
            source="s3://b/k.csv",
            settings=settings,
        )
    error = info.value
    assert isinstance(error, BatchRejected)
    assert error.exit_code == 1
    assert not error.result.success
    assert error.quarantined is not None
    assert error.result.quarantined == str(error.quarantined)
    manifest = read_manifest(error.quarantined)
    assert manifest["rows"] == len(df)
    assert manifest["kind"] == "batch"
    assert error.quarantined.parent == settings.quarantine_dir
    labels = {"flow": "training", "suite": "churn"}
    assert _sample(metrics, "mlops_guard_validation_failed_expectations", **labels) == 2
    assert _sample(metrics, "mlops_guard_rows_quarantined_total", **labels) == len(df)
    assert _sample(metrics, "mlops_guard_validation_runs_total", status="failed", **labels) == 1
    events = [e for e in read_runlog(settings.runlog_path) if e["event"].startswith("validation")]
    assert [e["event"] for e in events] == ["validation.failed"]
    assert events[0]["level"] == "WARNING"
    assert events[0]["rows_quarantined"] == len(df)
    assert events[0]["quarantined"] == str(error.quarantined)


def test_quarantine_rows_policy_passes_good_rows_on(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    df = _bad()
    out = gate(
        df,
        suite="churn",
        policy="quarantine_rows",
        flow="inference",
        source="batch-7",
        settings=settings,
    )
    assert out.rows_quarantined == 4
    assert out.rows_passed == len(df) - 4
    assert len(out.passed) == out.rows_passed
    assert not out.result.success
    assert out.quarantined is not None
    kept = pd.read_parquet(out.quarantined / "data.parquet")
    assert len(kept) == 4
    assert kept[REASON_COLUMN].notna().all()
    labels = {"flow": "inference", "suite": "churn"}
    assert _sample(metrics, "mlops_guard_rows_quarantined_total", **labels) == 4
    assert _sample(metrics, "mlops_guard_validation_runs_total", status="failed", **labels) == 1
    # Every row is either passed on or quarantined.
    ids = sorted([*out.passed["customer_id"], *kept["customer_id"]])
    assert ids == sorted(df["customer_id"])
    assert out.to_json()["rows_passed"] == out.rows_passed


def test_clean_batch_passes_and_is_recorded(settings: GuardSettings, metrics: GuardMetrics) -> None:
    df = make_dataset(rows=800, seed=22)
    out = gate(df, suite="churn", policy="fail", flow="training", source="ok", settings=settings)
    assert out.result.success
    assert out.rows_passed == len(df)
    assert out.quarantined is None
    assert out.passed is df
    labels = {"flow": "training", "suite": "churn"}
    assert _sample(metrics, "mlops_guard_validation_runs_total", status="passed", **labels) == 1
    assert _sample(metrics, "mlops_guard_validation_failed_expectations", **labels) == 0
    assert not settings.quarantine_dir.exists()
    events = [e["event"] for e in read_runlog(settings.runlog_path)]
    assert events == ["validation.completed"]


def test_optional_label_may_be_absent_at_scoring(settings: GuardSettings) -> None:
    unlabelled = make_dataset(rows=300, seed=23).drop(columns=[LABEL])
    with pytest.raises(ValidationFailed):
        gate(
            unlabelled,
            suite="churn",
            policy="fail",
            flow="inference",
            source="x",
            settings=settings,
        )
    out = gate(
        unlabelled,
        suite="churn",
        policy="fail",
        flow="inference",
        source="x",
        settings=settings,
        optional_columns=[LABEL],
    )
    assert out.result.success


def test_unknown_policy_is_a_usage_error(settings: GuardSettings) -> None:
    with pytest.raises(UsageError, match="policy"):
        gate(
            make_dataset(rows=5, seed=1),
            suite="churn",
            policy="drop",  # type: ignore[arg-type]
            flow="f",
            source="x",
            settings=settings,
        )


def test_markdown_report_names_failures(settings: GuardSettings) -> None:
    out = gate(
        _bad(),
        suite="churn",
        policy="quarantine_rows",
        flow="inference",
        source="b",
        settings=settings,
    )
    text = out.result.to_markdown()
    assert "| expect_column_values_to_be_in_set | contract | 3 | 'lifetime'" in text
    assert "'inf'" in text


def test_fail_policy_keeps_a_batch_whose_checked_column_holds_structs(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    """Cells no expectation can hash (a struct where the suite expects a region) fail the
    batch, which is kept whole, instead of crashing before anything is written."""
    df = make_dataset(rows=200, seed=3)
    df["region"] = df["region"].astype(object)
    df.loc[:4, "region"] = [{"x": i} for i in range(5)]
    with pytest.raises(BatchRejected) as info:
        gate(
            df, suite="churn", policy="fail", flow="training", source="s.parquet", settings=settings
        )
    assert info.value.quarantined is not None
    kept = pd.read_parquet(info.value.quarantined / "data.parquet")
    assert len(kept) == 200
