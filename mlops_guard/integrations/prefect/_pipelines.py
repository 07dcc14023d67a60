"""The core pipelines as Prefect flows, and their stages as Prefect tasks.

The training and inference pipelines (and the demo's story) are plain functions of the core
(:func:`mlops_guard.pipelines.run_training`, :func:`~mlops_guard.pipelines.run_inference`);
here they become the flows users deploy, and each stage called inside such a flow run becomes
a task run. Each function is wrapped once, so every caller gets the same flow or task object.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from mlops_guard.demo._story import DEMO_FLOW, tell_story
from mlops_guard.pipelines._inference import INFERENCE_FLOW, run_inference
from mlops_guard.pipelines._training import TRAINING_FLOW, run_training

__all__ = ["as_prefect_flow", "as_prefect_task", "demo_flow", "inference_flow", "training_flow"]


@functools.cache
def as_prefect_task(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` as a Prefect task named ``name``.

    No cache policy: hashing a million-row DataFrame argument for a cache key costs more than
    most stages.
    """
    from prefect import task
    from prefect.cache_policies import NO_CACHE

    wrapped: Callable[..., Any] = task(name=name, cache_policy=NO_CACHE)(fn)
    return wrapped


@functools.cache
def as_prefect_flow(name: str, fn: Callable[..., Any]) -> Any:  # a prefect.Flow
    """``fn`` as a Prefect flow named ``name``. Parameters are not validated: they are the
    core function's own, checked there with errors that name the fix."""
    from prefect import flow

    return flow(name=name, log_prints=False, validate_parameters=False)(fn)


training_flow = as_prefect_flow(TRAINING_FLOW, run_training)
inference_flow = as_prefect_flow(INFERENCE_FLOW, run_inference)
demo_flow = as_prefect_flow(DEMO_FLOW, tell_story)
