"""The canary as a Prefect flow (the rollout itself is :func:`mlops_guard.canary.run_canary`)."""

from __future__ import annotations

from typing import Any

from prefect import flow

from mlops_guard.canary import run_canary
from mlops_guard.errors import UsageError

__all__ = ["canary_flow"]


@flow(name="canary", log_prints=False, validate_parameters=False)
def canary_flow(
    model: str | None = None,
    data: Any = None,
    steps: list[float] | None = None,
) -> dict[str, Any]:
    """Prefect flow: canary of the challenger of ``model`` on ``data`` (see :func:`run_canary`).

    ``data``: a CSV/Parquet path, a list of paths (one batch per step attempt) or a DataFrame.
    Returns the report as a dict; the decision is ``promoted``, ``failed`` or ``inconclusive``.
    """
    if data is None:
        raise UsageError("canary_flow needs data", hint="pass data=PATH (or a list of paths)")
    return run_canary(data, model=model, steps=steps).to_dict()
