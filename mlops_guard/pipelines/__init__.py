"""The pipelines users run: training and batch inference.

:func:`run_training` and :func:`run_inference` are plain functions of guarded stages;
``training_flow`` and ``inference_flow`` are the same functions as Prefect flows (they need the
``prefect`` extra).

Attributes load lazily: importing this package (as the CLI does for ``--help``) does not import
Prefect, MLflow or scikit-learn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.integrations.prefect._pipelines import inference_flow, training_flow
    from mlops_guard.pipelines._inference import ScoringResult, run_inference, score_frame
    from mlops_guard.pipelines._trainer import Trainer, load_trainer
    from mlops_guard.pipelines._training import TrainingResult, run_training

__all__ = [
    "ScoringResult",
    "Trainer",
    "TrainingResult",
    "inference_flow",
    "load_trainer",
    "run_inference",
    "run_training",
    "score_frame",
    "training_flow",
]

# The Prefect flows are defined, once, by the Prefect integration.
_PREFECT = "mlops_guard.integrations.prefect._pipelines"

_WHERE = {
    "ScoringResult": "_inference",
    "Trainer": "_trainer",
    "load_trainer": "_trainer",
    "run_inference": "_inference",
    "score_frame": "_inference",
    "TrainingResult": "_training",
    "run_training": "_training",
    "inference_flow": _PREFECT,
    "training_flow": _PREFECT,
}


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)
