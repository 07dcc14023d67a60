"""Prefect artifacts (tables, markdown, links), published best effort."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["publish_link", "publish_markdown", "publish_table"]

_log = logging.getLogger("mlops_guard.prefect")


def _in_run() -> bool:
    if "prefect.context" not in sys.modules:
        return False
    from prefect.context import FlowRunContext, TaskRunContext

    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def _key(key: str) -> str:
    # Prefect artifact keys allow lowercase letters, digits and dashes only.
    return re.sub(r"[^a-z0-9-]+", "-", key.lower()).strip("-") or "mlops-guard"


def _count_failure(exc: Exception, what: str) -> None:
    from mlops_guard.metrics import get_metrics

    get_metrics().sink_failures_total.labels(sink="prefect_artifacts").inc()
    _log.warning("Prefect %s artifact not published (%s: %s)", what, type(exc).__name__, exc)


def publish_table(
    key: str, rows: Sequence[Mapping[str, Any]], description: str | None = None
) -> bool:
    """A table artifact in the current Prefect run; False when outside a run or it failed."""
    if not _in_run():
        return False
    try:
        from prefect.artifacts import create_table_artifact

        create_table_artifact(table=[dict(r) for r in rows], key=_key(key), description=description)
    except Exception as exc:  # noqa: BLE001 - an artifact is observability, never a failure
        _count_failure(exc, "table")
        return False
    return True


def publish_markdown(key: str, markdown: str, description: str | None = None) -> bool:
    """A markdown artifact in the current Prefect run; False when outside a run or it failed."""
    if not _in_run():
        return False
    try:
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(markdown=markdown, key=_key(key), description=description)
    except Exception as exc:  # noqa: BLE001
        _count_failure(exc, "markdown")
        return False
    return True


def publish_link(key: str, link: str, description: str | None = None) -> bool:
    """A link artifact (e.g. to an HTML report); False when outside a run or it failed."""
    if not _in_run():
        return False
    try:
        from prefect.artifacts import create_link_artifact

        create_link_artifact(link=link, key=_key(key), description=description)
    except Exception as exc:  # noqa: BLE001
        _count_failure(exc, "link")
        return False
    return True
