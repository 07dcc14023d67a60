"""The Airflow plugin (entry point group ``airflow.plugins``) that carries the listener."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mlops_guard.integrations.airflow import _listener

__all__ = ["MlopsGuardPlugin"]


class MlopsGuardPlugin(AirflowPlugin):  # type: ignore[misc]
    """Records every task of every DAG as a guarded stage (see :mod:`._listener`)."""

    name = "mlops_guard"
    listeners = [_listener]  # noqa: RUF012 - Airflow reads the class attribute
