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
