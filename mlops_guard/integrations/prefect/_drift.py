"""The scheduled drift check as a Prefect flow (imports Prefect: loaded on first use)."""

from __future__ import annotations

from mlops_guard.drift._scheduled import (
    DRIFT_CHECK_FLOW,
    REPORT_ARTIFACT_DIR,
    check_champion_drift,
    report_link,
)
from mlops_guard.integrations.prefect._pipelines import as_prefect_flow

__all__ = ["REPORT_ARTIFACT_DIR", "drift_check_flow", "report_link"]

drift_check_flow = as_prefect_flow(DRIFT_CHECK_FLOW, check_champion_drift)
