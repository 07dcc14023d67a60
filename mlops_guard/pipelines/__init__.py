"""The pipelines users run: training, batch inference and the demo, as Prefect flows.

Attributes load lazily: importing this package (as the CLI does for ``--help``) does not import
Prefect, MLflow or scikit-learn.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.pipelines._demo import DemoStep, DemoSummary, demo_flow, run_demo
    from mlops_guard.pipelines._inference import ScoringResult, inference_flow, score_frame
    from mlops_guard.pipelines._training import (
        TrainingConfig,
        TrainingResult,
        build_model,
        training_flow,
    )

__all__ = [
    "DemoStep",
    "DemoSummary",
    "ScoringResult",
    "TrainingConfig",
    "TrainingResult",
    "build_model",
    "demo_flow",
    "inference_flow",
    "run_demo",
    "score_frame",
    "training_flow",
]

_WHERE = {
    "DemoStep": "_demo",
    "DemoSummary": "_demo",
    "demo_flow": "_demo",
    "run_demo": "_demo",
    "ScoringResult": "_inference",
    "inference_flow": "_inference",
    "score_frame": "_inference",
    "TrainingConfig": "_training",
    "TrainingResult": "_training",
    "build_model": "_training",
    "training_flow": "_training",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
