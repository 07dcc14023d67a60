"""Prefect artifacts (tables, markdown, links), published best effort."""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["attach_to_flow_run", "publish_link", "publish_markdown", "publish_table"]

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


def attach_to_flow_run(
    kind: str, flow_run_id: str, key: str, content: str, description: str | None
) -> None:
    """A markdown or link artifact on the flow run ``flow_run_id``, which need not be in
    progress here (a report written after the run). Raises when the API fails."""
    from uuid import UUID

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import ArtifactCreate

    try:
        run_id = UUID(flow_run_id)
    except ValueError as exc:
        raise ValueError(f"{flow_run_id!r} is not a Prefect flow run id (a UUID)") from exc
    # Through the client rather than create_*_artifact: those take the run from the context
    # and warn (deprecated) outside one.
    with get_client(sync_client=True) as client:
        client.create_artifact(
            ArtifactCreate(
                type=kind, key=_key(key), description=description, flow_run_id=run_id,
                data=content,
            )
        )  # fmt: skip
