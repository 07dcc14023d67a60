"""Prefect integration: the guard for tasks and flows, events, and artifacts."""

from mlops_guard.integrations.prefect._artifacts import (
    publish_link,
    publish_markdown,
    publish_table,
)
from mlops_guard.integrations.prefect._guard import emit_prefect_event, guard

__all__ = ["emit_prefect_event", "guard", "publish_link", "publish_markdown", "publish_table"]
