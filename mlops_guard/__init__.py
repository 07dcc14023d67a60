"""mlops-guard: reliability guards for ML pipelines orchestrated with Prefect or Airflow.

The public API, loaded lazily so that ``import mlops_guard`` (and ``mlops-guard --help``) does not
pull in Prefect, MLflow, Great Expectations or Evidently::

    from mlops_guard import stage, log_event, GuardSettings

    @stage("fit", model="churn")
    def fit(rows: int) -> int: ...

The names of flows (``training_flow``, ``rollback_flow`` ...) and ``guard`` need the
``prefect`` extra; everything else runs with no orchestrator installed.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import (
    AlertError,
    AliasConflict,
    BatchRejected,
    CanaryFailed,
    CheckFailed,
    ConfigError,
    DataError,
    DataNotFound,
    DriftDetected,
    EmptyData,
    GuardError,
    ModelNotFound,
    MonitorError,
    NothingToRollBack,
    ProfileError,
    RegistryError,
    RegistryUnavailable,
    SchemaError,
    ServiceUnavailable,
    SuiteError,
    UnreadableData,
    UsageError,
    ValidationFailed,
    VersionNotFound,
)

if TYPE_CHECKING:
    from mlops_guard._stage import StageRecorder, stage
    from mlops_guard.canary import judge, run_canary
    from mlops_guard.data import read_table, write_table
    from mlops_guard.demo import Corruption, SyntheticSpec, demo_flow, make_dataset
    from mlops_guard.drift import build_profile, detect_drift, load_profile
    from mlops_guard.integrations.prefect import (
        canary_flow,
        drift_check_flow,
        guard,
        rollback_flow,
    )
    from mlops_guard.metrics import GuardMetrics, get_metrics
    from mlops_guard.monitors import CheckpointMonitor
    from mlops_guard.pipelines import inference_flow, run_inference, run_training, training_flow
    from mlops_guard.registry import history, promote, rollback
    from mlops_guard.runlog import bind, log_event
    from mlops_guard.settings import GuardSettings
    from mlops_guard.validation import gate, infer_suite, load_suite, validate

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # settings and errors
    "GuardSettings",
    "GuardError",
    "ConfigError",
    "UsageError",
    "DataError",
    "DataNotFound",
    "UnreadableData",
    "EmptyData",
    "SchemaError",
    "SuiteError",
    "ProfileError",
    "RegistryError",
    "RegistryUnavailable",
    "ServiceUnavailable",
    "ModelNotFound",
    "VersionNotFound",
    "NothingToRollBack",
    "AliasConflict",
    "AlertError",
    "MonitorError",
    "CheckFailed",
    "ValidationFailed",
    "BatchRejected",
    "DriftDetected",
    "CanaryFailed",
    # observability
    "stage",
    "guard",
    "StageRecorder",
    "log_event",
    "bind",
    "GuardMetrics",
    "get_metrics",
    # data
    "make_dataset",
    "SyntheticSpec",
    "Corruption",
    "read_table",
    "write_table",
    # validation
    "validate",
    "gate",
    "load_suite",
    "infer_suite",
    # drift
    "detect_drift",
    "build_profile",
    "load_profile",
    # registry and canary
    "promote",
    "rollback",
    "history",
    "judge",
    "run_canary",
    # training monitors
    "CheckpointMonitor",
    # pipelines, and their Prefect flows
    "run_training",
    "run_inference",
    "training_flow",
    "inference_flow",
    "drift_check_flow",
    "canary_flow",
    "rollback_flow",
    "demo_flow",
]

_LAZY = {
    "GuardSettings": "mlops_guard.settings",
    "guard": "mlops_guard.integrations.prefect",
    "StageRecorder": "mlops_guard._stage",
    "stage": "mlops_guard._stage",
    "run_training": "mlops_guard.pipelines",
    "run_inference": "mlops_guard.pipelines",
    "log_event": "mlops_guard.runlog",
    "bind": "mlops_guard.runlog",
    "GuardMetrics": "mlops_guard.metrics",
    "get_metrics": "mlops_guard.metrics",
    "make_dataset": "mlops_guard.demo",
    "SyntheticSpec": "mlops_guard.demo",
    "Corruption": "mlops_guard.demo",
    "read_table": "mlops_guard.data",
    "write_table": "mlops_guard.data",
    "training_flow": "mlops_guard.pipelines",
    "inference_flow": "mlops_guard.pipelines",
    "demo_flow": "mlops_guard.demo",
    "validate": "mlops_guard.validation",
    "gate": "mlops_guard.validation",
    "load_suite": "mlops_guard.validation",
    "infer_suite": "mlops_guard.validation",
    "detect_drift": "mlops_guard.drift",
    "build_profile": "mlops_guard.drift",
    "load_profile": "mlops_guard.drift",
    "drift_check_flow": "mlops_guard.integrations.prefect",
    "promote": "mlops_guard.registry",
    "rollback": "mlops_guard.registry",
    "history": "mlops_guard.registry",
    "rollback_flow": "mlops_guard.integrations.prefect",
    "judge": "mlops_guard.canary",
    "run_canary": "mlops_guard.canary",
    "canary_flow": "mlops_guard.integrations.prefect",
    "CheckpointMonitor": "mlops_guard.monitors",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'mlops_guard' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
