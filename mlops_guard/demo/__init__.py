"""The demo: a seeded synthetic churn data set, a churn model trained by SGD, and the story
``mlops-guard demo`` tells with them (train, score, drift, canary, alert, rollback).

The demo is one user of mlops-guard's API: the concerns know nothing of its columns or its
model. Attributes load lazily, so ``mlops-guard --help`` imports none of numpy, Prefect or
scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.demo._data import (
        CATEGORICAL_FEATURES,
        CATEGORIES,
        FEATURES,
        ID_COLUMN,
        LABEL,
        NUMERICAL_FEATURES,
        TIMESTAMP_COLUMN,
        Corruption,
        SyntheticSpec,
        churn_contract,
        make_dataset,
    )
    from mlops_guard.demo._model import CHURN_TRAINER, TrainingConfig, build_model, train_churn
    from mlops_guard.demo._story import (
        DemoStep,
        DemoSummary,
        prepare_workdir,
        run_demo,
        tell_story,
    )
    from mlops_guard.integrations.prefect._pipelines import demo_flow

__all__ = [
    "CATEGORICAL_FEATURES",
    "CATEGORIES",
    "CHURN_TRAINER",
    "FEATURES",
    "ID_COLUMN",
    "LABEL",
    "NUMERICAL_FEATURES",
    "TIMESTAMP_COLUMN",
    "Corruption",
    "DemoStep",
    "DemoSummary",
    "SyntheticSpec",
    "TrainingConfig",
    "build_model",
    "churn_contract",
    "demo_flow",
    "make_dataset",
    "prepare_workdir",
    "run_demo",
    "tell_story",
    "train_churn",
]

_WHERE = {
    **dict.fromkeys(
        (
            "CATEGORICAL_FEATURES",
            "CATEGORIES",
            "FEATURES",
            "ID_COLUMN",
            "LABEL",
            "NUMERICAL_FEATURES",
            "TIMESTAMP_COLUMN",
            "Corruption",
            "SyntheticSpec",
            "churn_contract",
            "make_dataset",
        ),
        "_data",
    ),
    **dict.fromkeys(("CHURN_TRAINER", "TrainingConfig", "build_model", "train_churn"), "_model"),
    **dict.fromkeys(
        ("DemoStep", "DemoSummary", "prepare_workdir", "run_demo", "tell_story"), "_story"
    ),
    # The story as a Prefect flow, defined by the Prefect integration (imports Prefect).
    "demo_flow": "mlops_guard.integrations.prefect._pipelines",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
