"""The validation gate as the pipelines run it: gate, publish the result, keep rejections."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TYPE_CHECKING, Any

from mlops_guard._events import publish_markdown

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.errors import BatchRejected
    from mlops_guard.settings import GuardSettings, ValidationPolicy

__all__ = ["run_gate"]


def run_gate(
    df: pd.DataFrame,
    *,
    source: str,
    settings: GuardSettings,
    flow: str,
    policy: ValidationPolicy,
    artifact_key: str,
    optional_columns: Collection[str] = (),
    on_rejected: Callable[[BatchRejected], None] | None = None,
) -> Any:
    """Validate ``df`` against the settings' suite under ``policy``; the result becomes a
    Prefect markdown artifact whether the batch passed or not. A rejected batch (policy
    ``fail``) is handed to ``on_rejected`` before :class:`BatchRejected` propagates."""
    from mlops_guard.errors import BatchRejected
    from mlops_guard.validation import gate

    try:
        gated = gate(
            df,
            suite=settings.validation_suite,
            policy=policy,
            flow=flow,
            source=source,
            settings=settings,
            optional_columns=optional_columns,
        )
    except BatchRejected as rejected:
        _publish(rejected.result, artifact_key)
        if on_rejected is not None:
            on_rejected(rejected)
        raise
    _publish(gated.result, artifact_key)
    return gated


def _publish(result: Any, key: str) -> None:
    publish_markdown(
        key,
        result.to_markdown(),
        description=f"suite {result.suite}: {'passed' if result.success else 'failed'}",
    )
