"""Airflow integration: the provider, a listener that records every task of every DAG as a
guarded stage, the event sink, the operators of the checks, and the alert receiver's
``airflow`` rollback mode.

Registered through entry points (``pip install 'mlops-guard[airflow]'``): Airflow finds the
provider (``apache_airflow_provider``) and the plugin carrying the listener
(``airflow.plugins``); mlops-guard finds the event sink and the rollback mode. The operators
load on first use::

    from mlops_guard.integrations.airflow import ValidateOperator
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.integrations.airflow._operators import (
        CanaryOperator,
        DriftCheckOperator,
        PromoteOperator,
        QualityCheckOperator,
        RollbackOperator,
        ScoreOperator,
        TrainOperator,
        ValidateOperator,
    )
    from mlops_guard.integrations.airflow._provider import get_provider_info
    from mlops_guard.integrations.airflow._rollback import (
        AIRFLOW_MODE,
        airflow_rollback_handler,
        dag_run_id,
    )

__all__ = [
    "AIRFLOW_MODE",
    "CanaryOperator",
    "DriftCheckOperator",
    "PromoteOperator",
    "QualityCheckOperator",
    "RollbackOperator",
    "ScoreOperator",
    "TrainOperator",
    "ValidateOperator",
    "airflow_rollback_handler",
    "dag_run_id",
    "get_provider_info",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CanaryOperator": "_operators",
        "DriftCheckOperator": "_operators",
        "PromoteOperator": "_operators",
        "QualityCheckOperator": "_operators",
        "RollbackOperator": "_operators",
        "ScoreOperator": "_operators",
        "TrainOperator": "_operators",
        "ValidateOperator": "_operators",
        "get_provider_info": "_provider",
        "AIRFLOW_MODE": "_rollback",
        "airflow_rollback_handler": "_rollback",
        "dag_run_id": "_rollback",
    },
)
