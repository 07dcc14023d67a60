"""Helpers of the drift tests: Evidently's own answers, and small data sets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from mlops_guard.demo import FEATURES, LABEL, make_dataset


def features(rows: int, seed: int, **spec: Any) -> pd.DataFrame:
    """The 13 features and the label of the synthetic churn data."""
    return make_dataset(rows=rows, seed=seed, **spec)[[*FEATURES, LABEL]]


def evidently_drift(
    reference: pd.DataFrame, current: pd.DataFrame, **preset: Any
) -> tuple[dict[str, tuple[str, float, float]], float]:
    """Run Evidently 0.7's DataDriftPreset; per column (method, score, threshold) and the
    share of drifted columns."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset(**preset)]).run(current, reference)
    columns: dict[str, tuple[str, float, float]] = {}
    share = float("nan")
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            columns[config["column"]] = (config["method"], metric["value"], config["threshold"])
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    return columns, share


def textfile_samples(directory: Path, metric: str) -> list[tuple[dict[str, str], float]]:
    """Every sample of ``metric`` in the Prometheus textfiles under ``directory``, with its
    labels: found by parsing, whatever the files are named and whatever labels the sink adds."""
    from prometheus_client.parser import text_string_to_metric_families

    found = []
    for path in sorted(directory.rglob("*.prom")):
        for family in text_string_to_metric_families(path.read_text()):
            found.extend(
                (dict(sample.labels), sample.value)
                for sample in family.samples
                if sample.name == metric
            )
    return found


# Evidently's method names, as its snapshot reports them.
EVIDENTLY_NAMES = {
    "K-S p_value": "ks",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
    "PSI": "psi",
    "Hellinger distance": "hellinger",
    "Absolute text content drift": "abs_text_content_drift",
    "Percentile text content drift": "perc_text_content_drift",
}


def evidently_auto(
    reference: pd.DataFrame, current: pd.DataFrame
) -> tuple[dict[str, tuple[str, float, float, bool]], float, bool]:
    """Evidently 0.7's DataDriftPreset as a user runs it: DataFrames, no data definition.
    Per column (our test name, score, threshold, drifted), the drifted share and the data
    set's verdict, all read from Evidently's own snapshot (its tests give the verdicts)."""
    from evidently import Report
    from evidently.presets import DataDriftPreset

    snapshot = Report([DataDriftPreset()], include_tests=True).run(current, reference)
    document = snapshot.dict()
    columns: dict[str, tuple[str, float, float, bool]] = {}
    verdicts = {
        test["name"].removeprefix("Value Drift for column "): str(test["status"]).endswith("FAIL")
        for test in document["tests"]
        if test["name"].startswith("Value Drift for column ")
    }
    share = float("nan")
    dataset_drift = False
    for metric in document["metrics"]:
        config = metric["config"]
        if config["type"].endswith("ValueDrift"):
            name = config["column"]
            columns[name] = (
                EVIDENTLY_NAMES[config["method"]],
                float(metric["value"]),
                float(config["threshold"]),
                verdicts[name],
            )
        elif config["type"].endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
    for test in document["tests"]:
        if test["name"].startswith("Share of Drifted Columns"):
            dataset_drift = str(test["status"]).endswith("FAIL")
    return columns, share, dataset_drift
