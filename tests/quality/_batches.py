"""Labelled batches of a known quality for each task, generated with numpy."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_guard.contract import FeatureSpec, ModelContract

FEATURES = (FeatureSpec(name="x", kind="numerical"),)
CLASSES = ("a", "b", "c")
CONTRACTS = {
    "binary": ModelContract(features=FEATURES, label="y", task="binary", classes=(0, 1)),
    "multiclass": ModelContract(features=FEATURES, label="y", task="multiclass", classes=CLASSES),
    "regression": ModelContract(features=FEATURES, label="y", task="regression"),
}
# The skill of each task's model: the separation of a binary model's logits, the share of rows
# a multiclass model gets right (the rest are guessed), the error sd of a regressor.
REFERENCE_SKILL = {"binary": 1.5, "multiclass": 0.8, "regression": 1.0}
WORSE_SKILL = {"binary": 0.7, "multiclass": 0.6, "regression": 1.5}
BETTER_SKILL = {"binary": 2.5, "multiclass": 0.92, "regression": 0.6}


def batch(task: str, rng: np.random.Generator, rows: int, skill: float) -> tuple[Any, pd.DataFrame]:
    """Labels and the contract's prediction columns of a model of ``skill`` on ``rows`` rows."""
    if task == "binary":
        y = (rng.random(rows) < 0.4).astype(int)
        score = 1 / (1 + np.exp(-(skill * (2 * y - 1) + rng.normal(0, 1, rows))))
        return y, pd.DataFrame({"prediction": (score >= 0.5).astype(int), "score": score})
    if task == "multiclass":
        y = rng.choice(CLASSES, rows, p=[0.5, 0.3, 0.2])
        predicted = np.where(rng.random(rows) < skill, y, rng.choice(CLASSES, rows))
        return y, pd.DataFrame({"prediction": predicted})
    y = rng.normal(10, 3, rows)
    return y, pd.DataFrame({"prediction": y + rng.normal(0, skill, rows)})
