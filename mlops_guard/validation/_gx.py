"""Running expectations through Great Expectations itself (imported here, on first use)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import SuiteError
from mlops_guard.validation._result import ExpectationOutcome
from mlops_guard.validation._suite import ExpectationSpec, Suite

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["run_with_gx"]

_POSITION = "mlops_guard_position"
_lock = threading.Lock()
_state: dict[str, Any] = {}


def _batch_definition() -> Any:
    """One ephemeral GX context with one pandas dataframe asset, made once per process."""
    with _lock:
        if "batch_definition" not in _state:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            # GX draws tqdm bars on stderr for every metric batch; the CLI has its own output.
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            asset = context.data_sources.add_pandas("mlops_guard").add_dataframe_asset("batch")
            _state["batch_definition"] = asset.add_batch_definition_whole_dataframe("whole")
        return _state["batch_definition"]


def _exception_message(info: Any) -> str | None:
    """The first exception message in a result's exception_info (flat, or keyed by metric)."""
    if not isinstance(info, dict):
        return None
    candidates = [info, *(v for v in info.values() if isinstance(v, dict))]
    for candidate in candidates:
        if candidate.get("raised_exception"):
            text = str(candidate.get("exception_message") or "an error")
            return text.splitlines()[0] if text else "an error"
    return None


def run_with_gx(
    df: pd.DataFrame,
    specs: Sequence[ExpectationSpec],
    *,
    max_examples: int,
    source: str | None = None,
) -> list[ExpectationOutcome]:
    """Validate ``df`` against ``specs`` with GX; one outcome per spec, in order. ``source``
    (the suite's file or name) is what errors about the specs name."""
    if not specs:
        return []
    # GX does not keep suite order in its results: tag each expectation with its position.
    tagged = tuple(
        ExpectationSpec(spec.type, spec.kwargs, {**spec.meta, _POSITION: i}, spec.extra)
        for i, spec in enumerate(specs)
    )
    suite = Suite(f"mlops-guard-{uuid.uuid4().hex[:8]}", tagged).to_gx(label=source)
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": df})
    result = batch.validate(
        suite,
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": max_examples},
    )
    if len(result.results) != len(specs):
        raise SuiteError(
            f"Great Expectations returned {len(result.results)} results for {len(specs)} "
            "expectations",
            hint="check the suite for duplicate expectations",
        )
    ordered = sorted(result.results, key=lambda item: int(item.expectation_config.meta[_POSITION]))
    outcomes = []
    for spec, item in zip(specs, ordered, strict=True):
        message = _exception_message(item.exception_info)
        detail = f"Great Expectations raised: {message}" if message else None
        res = item.result or {}
        count = res.get("unexpected_count")
        if count is None:
            count = 0 if item.success else len(df)
        if detail is None and not item.success and "observed_value" in res:
            detail = f"observed {res['observed_value']!r}"
        outcomes.append(
            ExpectationOutcome(
                expectation=spec.type,
                column=spec.column,
                success=bool(item.success),
                unexpected_count=int(count),
                unexpected_examples=list(res.get("partial_unexpected_list") or [])[:max_examples],
                unexpected_rows=[
                    int(i) for i in (res.get("partial_unexpected_index_list") or [])[:max_examples]
                ],
                detail=detail,
                row_level=False,
                kwargs=dict(spec.kwargs),
                engine="gx",
            )
        )
    return outcomes
