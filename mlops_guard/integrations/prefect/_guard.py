"""``guard``: turn a pipeline stage into a guarded Prefect task or flow."""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from mlops_guard._stage import StageRecorder, emit_stage_event

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["emit_prefect_event", "guard"]

_log = logging.getLogger("mlops_guard.prefect")

F = TypeVar("F", bound=Callable[..., Any])

#: Kept for code written against earlier releases: the event goes to every orchestrator sink.
emit_prefect_event = emit_stage_event


def guard(
    stage: str | None = None,
    *,
    model: str | None = None,
    kind: Literal["task", "flow"] = "task",
    settings: GuardSettings | None = None,
    **prefect_options: Any,
) -> Callable[[F], Any]:
    """Decorate a function as a guarded Prefect task (or flow).

    Each call records ``stage.started`` / ``stage.completed`` / ``stage.failed`` in the run log
    (with the flow and task run ids and the trace id), observes
    ``mlops_guard_stage_duration_seconds``, counts ``mlops_guard_stage_failures_total`` (labels
    flow, stage, model), flushes the metrics sink and emits the Prefect event
    ``mlops_guard.stage.completed`` or ``.failed``. A broken sink is logged and counted in
    ``mlops_guard_sink_failures_total``; it never fails the stage. The stage's own exception is
    re-raised unchanged.

    Tasks default to ``cache_policy=NO_CACHE``: hashing a million-row DataFrame argument for a
    cache key costs more than most stages.

    >>> from mlops_guard.integrations.prefect import guard
    >>> @guard("fit", model="churn")
    ... def fit(rows: int) -> int:
    ...     return rows * 2
    """

    def decorate(fn: F) -> Any:
        name = stage or fn.__name__

        def recorder() -> StageRecorder:
            return StageRecorder(
                name,
                model=model,
                settings=settings,
                emit=emit_stage_event,
                flow=prefect_options.get("name", name) if kind == "flow" else None,
            )

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with recorder():
                    return await fn(*args, **kwargs)

            wrapped: Callable[..., Any] = async_wrapper
        else:

            @functools.wraps(fn)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                with recorder():
                    return fn(*args, **kwargs)

            wrapped = wrapper

        from prefect import flow, task

        if kind == "flow":
            prefect_options.setdefault("name", name)
            return flow(wrapped, **prefect_options)
        if "cache_policy" not in prefect_options:
            from prefect.cache_policies import NO_CACHE

            prefect_options["cache_policy"] = NO_CACHE
        prefect_options.setdefault("name", name)
        return task(wrapped, **prefect_options)

    return decorate
