"""Prefect entrypoint ``flows/canary.py:canary_flow`` (the logic lives in mlops_guard)."""

from mlops_guard.canary import canary_flow

__all__ = ["canary_flow"]
