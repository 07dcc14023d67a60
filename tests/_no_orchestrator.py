"""Python code that makes a fresh interpreter behave as an environment without Prefect or
Airflow: importing either fails, as it does where neither is installed."""

from __future__ import annotations

BLOCK_ORCHESTRATORS = """
import importlib.abc, sys

class _Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("prefect", "prefect_dask", "airflow"):
            raise ImportError(f"{name} is not installed here")
        return None

sys.meta_path.insert(0, _Blocked())
"""
