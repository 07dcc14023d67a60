"""The predictor gives the same predictions whether it copies the features or shares them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from mlops_guard.contract import Predictor, infer_contract


def _frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=rows)
    return pd.DataFrame(
        {
            "id": [f"c{i}" for i in range(rows)],
            "x": x,
            "colour": rng.choice(["red", "blue"], size=rows),
            "y": (x + rng.normal(scale=0.5, size=rows) > 0).astype("int64"),
        }
    )


def _predictor(reads_inputs_only: bool) -> Predictor:
    train = _frame(200, seed=1)
    contract = infer_contract(label="y", task="binary", reference=train, id_column="id")
    model = Pipeline(
        [
            (
                "pre",
                ColumnTransformer(
                    [("num", "passthrough", ["x"]), ("cat", OneHotEncoder(), ["colour"])]
                ),
            ),
            ("clf", LogisticRegression()),
        ]
    ).fit(train[contract.feature_names], train["y"])
    return Predictor(
        "m",
        "1",
        contract,
        model,
        model.predict_proba,
        model.predict,
        tuple(model.classes_),
        reads_inputs_only,
    )


@pytest.mark.parametrize("index", [None, [5, 5, 7, 7, 9, 9]], ids=["range", "duplicates"])
def test_shared_features_give_the_copied_features_predictions(index: Any) -> None:
    batch = _frame(6, seed=2).drop(columns=["y"])
    if index is not None:
        batch.index = pd.Index(index)
    before = batch.copy()
    copied, copied_reasons = _predictor(False).score(batch)
    shared, shared_reasons = _predictor(True).score(batch)
    pd.testing.assert_frame_equal(shared, copied)
    assert shared_reasons == copied_reasons == {}
    assert shared.index.equals(batch.index)
    assert list(shared.columns) == ["prediction", "score"]
    assert shared["prediction"].dtype == np.dtype("int64")
    pd.testing.assert_frame_equal(batch, before)


def test_a_model_that_writes_to_its_input_does_not_change_the_batch() -> None:
    predictor = _predictor(False)
    batch = _frame(6, seed=3).drop(columns=["y"])
    before = batch.copy()

    def predict_proba(frame: pd.DataFrame) -> Any:
        frame.loc[frame.index[0], "x"] = 1e6  # a pyfunc model's code may do this
        return predictor.raw.predict_proba(frame)

    writer = Predictor(
        "m", "1", predictor.contract, predictor.raw, predict_proba, predictor.raw.predict, None
    )
    writer.score(batch)
    pd.testing.assert_frame_equal(batch, before)
