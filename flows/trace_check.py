"""Scheduled trace check; ``prefect deploy`` entrypoint ``flows/trace_check.py:trace_check_flow``.

The logic lives in :mod:`mlops_guard.traces`, so it also runs from an installed package.
"""

from mlops_guard.integrations.prefect import trace_check_flow

__all__ = ["trace_check_flow"]

if __name__ == "__main__":
    trace_check_flow()
