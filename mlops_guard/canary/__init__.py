"""Canary releases judged statistically against the champion (Kayenta-style), and the rollout.

:func:`judge` compares metric samples of a baseline (the champion) and a canary (the
challenger): Mann-Whitney U with the Hodges-Lehmann shift for continuous metrics, a
two-proportion test for rates, a normed Wasserstein distance for prediction distributions;
a weighted score gives pass, marginal, fail or inconclusive. :func:`run_canary` routes a share
of rows to the challenger step by step, judges each step, and promotes or removes it.

>>> from mlops_guard.canary import judge  # doctest: +SKIP
>>> judge({"latency_seconds": base}, {"latency_seconds": canary}).verdict  # doctest: +SKIP
'pass'
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports

if TYPE_CHECKING:
    from mlops_guard.canary._judge import (
        CanaryVerdict,
        JudgeConfig,
        MetricKind,
        MetricResult,
        MetricSpec,
        Outcome,
        Verdict,
        default_metric_specs,
        judge,
    )
    from mlops_guard.canary._rollout import (
        CanaryReport,
        StepResult,
        route_to_challenger,
        run_canary,
    )
    from mlops_guard.canary._settings import CanarySettings

__all__ = [
    "CanaryReport",
    "CanarySettings",
    "CanaryVerdict",
    "JudgeConfig",
    "MetricKind",
    "MetricResult",
    "MetricSpec",
    "Outcome",
    "StepResult",
    "Verdict",
    "default_metric_specs",
    "judge",
    "route_to_challenger",
    "run_canary",
]

# Every name loads its module on first use: `mlops-guard --help` imports this package.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "CanaryVerdict": "_judge",
        "JudgeConfig": "_judge",
        "MetricKind": "_judge",
        "MetricResult": "_judge",
        "MetricSpec": "_judge",
        "Outcome": "_judge",
        "Verdict": "_judge",
        "default_metric_specs": "_judge",
        "judge": "_judge",
        "CanarySettings": "_settings",
        "CanaryReport": "_rollout",
        "StepResult": "_rollout",
        "route_to_challenger": "_rollout",
        "run_canary": "_rollout",
    },
)
