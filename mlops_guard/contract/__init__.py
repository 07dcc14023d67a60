"""The model contract: features, label, id and timestamp columns, task and classes of a model,
kept with each version in MLflow and read back by scoring, drift, quality and the canary.

>>> from mlops_guard.contract import ModelContract, load_contract  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.contract._model import (
        PREDICTION_COLUMN,
        PROBABILITY_PREFIX,
        SCORE_COLUMN,
        FeatureKind,
        FeatureSpec,
        ModelContract,
        Task,
        infer_contract,
    )
    from mlops_guard.contract._predictor import (
        DECISION_THRESHOLD,
        Predictor,
        load_predictor,
        score_rows,
    )
    from mlops_guard.contract._store import (
        CONTRACT_ARTIFACT,
        CONTRACT_TAG,
        load_contract,
        save_contract,
    )

__all__ = [
    "DECISION_THRESHOLD",
    "Predictor",
    "load_predictor",
    "score_rows",
    "CONTRACT_ARTIFACT",
    "CONTRACT_TAG",
    "PREDICTION_COLUMN",
    "PROBABILITY_PREFIX",
    "SCORE_COLUMN",
    "FeatureKind",
    "FeatureSpec",
    "ModelContract",
    "Task",
    "infer_contract",
    "load_contract",
    "save_contract",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "PREDICTION_COLUMN": "_model",
        "PROBABILITY_PREFIX": "_model",
        "SCORE_COLUMN": "_model",
        "FeatureKind": "_model",
        "FeatureSpec": "_model",
        "ModelContract": "_model",
        "Task": "_model",
        "infer_contract": "_model",
        "DECISION_THRESHOLD": "_predictor",
        "Predictor": "_predictor",
        "load_predictor": "_predictor",
        "score_rows": "_predictor",
        "CONTRACT_ARTIFACT": "_store",
        "CONTRACT_TAG": "_store",
        "load_contract": "_store",
        "save_contract": "_store",
    },
)
