"""Prefect entrypoint ``flows/canary.py:canary_flow`` (the logic lives in mlops_guard)."""

from mlops_guard.integrations.prefect import canary_flow

__all__ = ["canary_flow"]
