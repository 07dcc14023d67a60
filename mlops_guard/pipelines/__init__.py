"""The pipelines users run: training and batch inference, as Prefect flows.

Attributes load lazily: importing this package (as the CLI does for ``--help``) does not import
Prefect, MLflow or scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.pipelines._inference import ScoringResult, inference_flow, score_frame
    from mlops_guard.pipelines._trainer import Trainer, load_trainer
    from mlops_guard.pipelines._training import TrainingResult, training_flow

__all__ = [
    "ScoringResult",
    "Trainer",
    "TrainingResult",
    "inference_flow",
    "load_trainer",
    "score_frame",
    "training_flow",
]

_WHERE = {
    "ScoringResult": "_inference",
    "Trainer": "_trainer",
    "load_trainer": "_trainer",
    "inference_flow": "_inference",
    "score_frame": "_inference",
    "TrainingResult": "_training",
    "training_flow": "_training",
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
