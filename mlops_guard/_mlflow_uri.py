"""Pointing MLflow's fluent API at a store without changing the process's environment.

``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI`` (for subprocesses), and
mlops-guard honours that variable when ``MLOPS_GUARD_TRACKING_URI`` is not set: a helper that
left it behind would send every later settings object of the process, whatever its working
directory, to the first store it saw. The fluent API keeps its own module-level URI, so the
variables are put back as they were.
"""

from __future__ import annotations

import os

__all__ = ["point_fluent_mlflow"]

_VARIABLES = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")


def point_fluent_mlflow(uri: str) -> None:
    """Make ``uri`` the tracking and registry URI of ``mlflow.*`` calls in this process."""
    import mlflow

    before = {name: os.environ.get(name) for name in _VARIABLES}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
