"""Entrypoint for `prefect deploy`: the demo flow (logic in mlops_guard.pipelines)."""

from mlops_guard.demo import demo_flow

__all__ = ["demo_flow"]
