"""Scheduled drift check; ``prefect deploy`` entrypoint ``flows/drift_check.py:drift_check_flow``.

The logic lives in :mod:`mlops_guard.drift`, so it also runs from an installed package.
"""

from mlops_guard.integrations.prefect import drift_check_flow

__all__ = ["drift_check_flow"]

if __name__ == "__main__":
    drift_check_flow()
