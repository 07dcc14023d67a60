"""The Prefect event sink: mlops-guard's events as Prefect events, for automations and the UI."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard._events import GuardEvent

__all__ = ["PrefectEvents"]


class PrefectEvents:
    """Sends events with ``prefect.events.emit_event``; the flow run, when known, becomes a
    related resource so the event shows on the run's page."""

    name = "prefect_events"
    orchestrator = "prefect"

    def __init__(self) -> None:
        # The entry point loads this class; without Prefect installed it is left out. Found,
        # not imported: importing Prefect costs seconds a job that sends nothing never pays.
        from importlib.util import find_spec

        if find_spec("prefect") is None:
            raise ImportError("prefect is not installed")

    def ready(self, payload: Mapping[str, Any]) -> bool:
        # Without an API URL, emit_event would start an ephemeral server (tens of seconds) to
        # send to; inside a flow or task run that server is already up, so send there.
        return self.api_url() is not None or bool(payload.get("flow_run_id"))

    def send(self, event: GuardEvent) -> bool:
        from prefect.events import emit_event

        related = [{f"prefect.resource.{k}": v for k, v in r.items()} for r in event.related]
        flow_run_id = event.payload.get("flow_run_id")
        if flow_run_id:
            related.append(
                {
                    "prefect.resource.id": f"prefect.flow-run.{flow_run_id}",
                    "prefect.resource.role": "flow-run",
                }
            )
        sent = emit_event(
            event=event.event,
            resource={
                "prefect.resource.id": event.resource_id,
                "prefect.resource.name": event.resource_name,
            },
            related=related or None,
            payload={k: v for k, v in event.payload.items() if v is not None},
        )
        if sent is None:
            raise RuntimeError("prefect.events.emit_event returned no event")
        return True

    def run_context(self) -> dict[str, Any]:
        """Run ids from Prefect's context, without importing Prefect when nothing loaded it."""
        if "prefect.context" not in sys.modules:
            return {}
        from prefect.context import FlowRunContext, TaskRunContext

        found: dict[str, Any] = {}
        flow_ctx = FlowRunContext.get()
        if flow_ctx is not None and flow_ctx.flow_run is not None:
            found["flow_run_id"] = str(flow_ctx.flow_run.id)
            found["flow"] = flow_ctx.flow.name if flow_ctx.flow is not None else None
        task_ctx = TaskRunContext.get()
        if task_ctx is not None:
            found["task_run_id"] = str(task_ctx.task_run.id)
            if task_ctx.task_run.flow_run_id is not None:
                found.setdefault("flow_run_id", str(task_ctx.task_run.flow_run_id))
        return found

    def log(self, level: int, line: str) -> None:
        if "prefect.context" not in sys.modules:
            return
        from prefect.context import FlowRunContext, TaskRunContext
        from prefect.logging import get_run_logger
        from prefect.logging.loggers import PrefectLogAdapter

        if FlowRunContext.get() is None and TaskRunContext.get() is None:
            return
        # The run logger's metadata (flow and task run ids, names) on a logger that sends to
        # Prefect's API only: the lines show in the run's logs in the UI, while the console is
        # spared a copy of each (rich's console handler costs milliseconds a line and the run
        # log file already has them).
        run_extra = getattr(get_run_logger(), "extra", None) or {}
        PrefectLogAdapter(_api_logger(), extra=dict(run_extra)).log(level, line)

    def api_url(self) -> str | None:
        """The Prefect API this process talks to, without importing Prefect when nothing
        loaded it (profiles and test harnesses set it without the environment variable)."""
        url = os.environ.get("PREFECT_API_URL")
        if url:
            return url
        if "prefect.settings" in sys.modules:
            from prefect.settings import PREFECT_API_URL

            value = PREFECT_API_URL.value()
            return str(value) if value else None
        return None

    @contextmanager
    def lock(self, name: str, *, timeout_seconds: float, lease_seconds: float) -> Iterator[None]:
        """A global concurrency limit of one slot named ``name``, kept by the Prefect server;
        :class:`RegistryUnavailable` when it cannot be had (nothing was moved)."""
        from prefect.client.orchestration import get_client
        from prefect.concurrency.sync import concurrency

        from mlops_guard.errors import RegistryUnavailable

        try:
            with get_client(sync_client=True) as client:
                # A limit that does not exist would make `concurrency` a silent no-op.
                client.upsert_global_concurrency_limit_by_name(name, limit=1)
        except Exception as exc:  # httpx, Prefect API errors: no lock
            raise RegistryUnavailable(
                f"Prefect API at {self.api_url()} could not create the alias lock {name!r} "
                f"({type(exc).__name__})",
                hint="start the Prefect server or unset PREFECT_API_URL to use the file lock; "
                "nothing was changed",
            ) from exc
        try:
            cm = concurrency(
                name,
                occupy=1,
                timeout_seconds=timeout_seconds,
                lease_duration=lease_seconds,
                strict=True,
            )
            cm.__enter__()
        except TimeoutError as exc:
            raise RegistryUnavailable(
                f"Prefect concurrency limit {name!r} still held after {timeout_seconds:g} s",
                hint="another process is moving aliases of this model; retry later",
            ) from exc
        except Exception as exc:  # acquisition failed: nothing moved
            raise RegistryUnavailable(
                f"Prefect concurrency limit {name!r} could not be acquired ({type(exc).__name__})",
                hint="check the Prefect server, or set MLOPS_GUARD_REGISTRY_LOCK_BACKEND=file",
            ) from exc
        try:
            yield
        finally:
            cm.__exit__(None, None, None)

    def task(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any] | None:
        """``fn`` as a Prefect task inside a flow run; None elsewhere (nothing to attach to)."""
        if "prefect.context" not in sys.modules:
            return None
        from prefect.context import FlowRunContext

        if FlowRunContext.get() is None:
            return None
        from mlops_guard.integrations.prefect._pipelines import as_prefect_task

        return as_prefect_task(name, fn)

    def flow(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        from mlops_guard.integrations.prefect._pipelines import as_prefect_flow

        flow: Callable[..., Any] = as_prefect_flow(name, fn)
        return flow

    def quiet_console(self) -> None:
        """Silence Prefect's console handler: it prints every run log line and, when a task
        raises (bad input included), the traceback that a command reports in one line."""
        from prefect.logging.configuration import setup_logging

        setup_logging()
        for name in ("", "prefect", "prefect.flow_runs", "prefect.task_runs"):
            for handler in logging.getLogger(name).handlers:
                if type(handler).__name__ == "PrefectConsoleHandler":
                    handler.setLevel(logging.CRITICAL + 1)

    def artifact(self, kind: str, key: str, content: Any, description: str | None) -> bool:
        from mlops_guard.integrations.prefect import _artifacts

        if kind == "table":
            return _artifacts.publish_table(key, content, description)
        if kind == "markdown":
            return _artifacts.publish_markdown(key, content, description)
        return _artifacts.publish_link(key, content, description)

    def run_artifact(
        self, kind: str, run_id: str, key: str, content: Any, description: str | None
    ) -> bool:
        """Attach a markdown or link artifact to flow run ``run_id`` through the configured
        API; False without one (sending would start an ephemeral server that knows no run)."""
        if self.api_url() is None:
            return False
        from mlops_guard.integrations.prefect import _artifacts

        _artifacts.attach_to_flow_run(kind, run_id, key, str(content), description)
        return True


_logger: logging.Logger | None = None


def _api_logger() -> logging.Logger:
    global _logger
    if _logger is None:
        from prefect.logging.handlers import APILogHandler

        logger = logging.getLogger("mlops_guard.runlog.prefect_api")
        logger.propagate = False
        logger.setLevel(logging.DEBUG)
        if not any(isinstance(h, APILogHandler) for h in logger.handlers):
            logger.addHandler(APILogHandler())
        _logger = logger
    return _logger
