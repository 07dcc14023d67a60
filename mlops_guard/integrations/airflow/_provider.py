"""What Airflow's providers manager reads through the ``apache_airflow_provider`` entry point
(``airflow providers list`` shows it). Imports nothing: Airflow calls it at start-up."""

from __future__ import annotations

from typing import Any

__all__ = ["get_provider_info"]


def get_provider_info() -> dict[str, Any]:
    """The provider's description, in the shape of Airflow's ``provider_info.schema.json``."""
    from mlops_guard import __version__

    return {
        # Must be the distribution's name: Airflow refuses a provider whose names differ.
        "package-name": "mlops-guard",
        "name": "mlops-guard",
        "description": "Reliability guards for ML pipelines: validation with quarantine, drift, "
        "labelled quality, canary releases, promotion and rollback in the MLflow registry, "
        "and every task recorded as a guarded stage (run log and Prometheus metrics).",
        "versions": [__version__],
        # The plugin carrying the listener registers through the airflow.plugins entry point
        # (listing it here too would load it twice).
        "integrations": [
            {"integration-name": "mlops-guard", "tags": ["software"]},
        ],
        "operators": [
            {
                "integration-name": "mlops-guard",
                "python-modules": ["mlops_guard.integrations.airflow._operators"],
            }
        ],
    }
