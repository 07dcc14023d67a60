"""The scheduled trace check as a Prefect flow (imports Prefect: loaded on first use)."""

from __future__ import annotations

from mlops_guard.integrations.prefect._pipelines import as_prefect_flow
from mlops_guard.traces._scheduled import TRACE_CHECK_FLOW, check_recent_spans

__all__ = ["TRACE_CHECK_FLOW", "trace_check_flow"]

trace_check_flow = as_prefect_flow(TRACE_CHECK_FLOW, check_recent_spans)
