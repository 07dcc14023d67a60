"""A user's own training code, as it would live in their project: nothing here knows
mlops-guard except the optional ``monitor`` argument."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

FEATURES = ["mean_radius", "mean_texture", "worst_area", "tissue"]


def make_data(rows: int, seed: int) -> pd.DataFrame:
    """Tabular data unlike the demo's: other names, a string label, a categorical feature."""
    rng = np.random.default_rng(seed)
    radius = rng.normal(14, 3, rows)
    texture = rng.normal(19, 4, rows)
    area = radius**2 * 3.1 + rng.normal(0, 40, rows)
    tissue = rng.choice(["dense", "fatty", "mixed"], rows)
    logit = 0.9 * (radius - 14) + 0.2 * (texture - 19) + (tissue == "dense") * 0.8
    label = np.where(rng.random(rows) < 1 / (1 + np.exp(-logit)), "malignant", "benign")
    return pd.DataFrame(
        {
            "sample_id": [f"s{seed}-{i}" for i in range(rows)],
            "mean_radius": radius,
            "mean_texture": texture,
            "worst_area": area,
            "tissue": tissue,
            "diagnosis": label,
        }
    )


def _pipeline() -> Any:
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            ("num", StandardScaler(), FEATURES[:3]),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["tissue"]),
        ]
    )
    return Pipeline([("pre", pre), ("clf", LogisticRegression(max_iter=500))])


def fit(train: pd.DataFrame) -> Any:
    return _pipeline().fit(train[FEATURES], train["diagnosis"])


def fit_in_steps(train: pd.DataFrame, monitor: Any) -> Any:
    """A trainer that reports its steps and checkpoints to the monitor it is given."""
    model = _pipeline()
    for step in range(3):
        monitor.step()
        with monitor.checkpoint(step):
            pass
    return model.fit(train[FEATURES], train["diagnosis"])


def not_a_model(train: pd.DataFrame) -> Any:
    return {"weights": [1, 2, 3]}
