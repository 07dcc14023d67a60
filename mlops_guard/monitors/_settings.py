"""Thresholds of the training monitors, read from ``MLOPS_GUARD_MONITORS_*`` variables."""

from __future__ import annotations

from typing import Any

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlops_guard.errors import MonitorError
from mlops_guard.settings import SettingsBase

__all__ = ["MonitorSettings", "load_monitor_settings"]


class MonitorSettings(SettingsBase):
    """Every threshold the checkpoint monitor and the straggler detector use.

    Each field can be set as ``MLOPS_GUARD_MONITORS_<FIELD>`` or passed to
    :class:`~mlops_guard.monitors.CheckpointMonitor` as a keyword argument.

    >>> MonitorSettings().stall_factor
    5.0
    """

    model_config = SettingsConfigDict(
        env_prefix="MLOPS_GUARD_MONITORS_", extra="ignore", validate_assignment=True
    )

    stall_factor: float = Field(
        default=5.0,
        gt=0,
        description="A stall is declared when no heartbeat arrives within this factor times the "
        "median step interval. Source: NVIDIA Resiliency Extension, FaultToleranceConfig."
        "safety_factor=5.0 for timeouts computed from observed intervals.",
    )
    stall_timeout_seconds: float = Field(
        default=600.0,
        gt=0,
        description="Hard ceiling on the heartbeat gap, whatever the median; also the only limit "
        "during warm-up. Source: torch.distributed's default NCCL timeout (10 minutes).",
    )
    first_step_timeout_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="Allowed time from start to the first heartbeat (data loading, compilation). "
        "Source: NVIDIA Resiliency Extension initial_rank_heartbeat_timeout=3600.",
    )
    checkpoint_stall_factor: float = Field(
        default=5.0,
        gt=0,
        description="Checkpoints have stopped when none completes within this factor times the "
        "median checkpoint interval. Source: same safety factor as stall_factor (NVIDIA).",
    )
    checkpoint_timeout_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Hard ceiling on the time since the last checkpoint; default none (only "
        "the factor applies), because intervals range from seconds to hours between jobs.",
    )
    slow_save_factor: float = Field(
        default=3.0,
        gt=0,
        description="A save is slow when it takes more than this factor times the median save. "
        "mlops-guard choice: three medians sit above ordinary storage jitter yet flag a "
        "10x slower store within a third of that save.",
    )
    save_stall_factor: float = Field(
        default=20.0,
        gt=0,
        description="A save still running after this factor times the median save counts as a "
        "stall (storage hung), not merely slow. mlops-guard choice: far beyond slow_save_factor "
        "so a slow but progressing store is not called hung.",
    )
    min_limit_seconds: float = Field(
        default=1.0,
        ge=0,
        description="A limit computed from a median (stall, slow save, checkpoint) never goes "
        "below this: with sub-millisecond steps, five medians are shorter than a garbage-"
        "collection pause or a scheduling hiccup, which are not stalls. mlops-guard choice: one "
        "second, the default watchdog period.",
    )
    warmup_steps: int = Field(
        default=5,
        ge=0,
        description="Step intervals ignored at the start (compilation, data-loader start, "
        "autotuning). Source: NVIDIA Resiliency Extension num_warmup_iterations=5.",
    )
    warmup_saves: int = Field(
        default=1,
        ge=0,
        description="Saves ignored for the save median (the first one creates directories and "
        "warms caches). mlops-guard choice.",
    )
    min_samples: int = Field(
        default=3,
        ge=1,
        description="Intervals (or saves) needed after warm-up before a median-based limit "
        "applies; until then only the hard timeouts do. mlops-guard choice: a median of fewer "
        "than three values is one outlier away from wrong.",
    )
    window: int = Field(
        default=256,
        ge=8,
        description="Recent intervals kept for medians and percentiles: bounded memory, and the "
        "limits follow slow trends. mlops-guard choice.",
    )
    watchdog_period_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the watchdog thread checks; detection takes at most the limit "
        "plus one period. mlops-guard choice: seconds, not NCCL's minutes.",
    )
    max_alerts: int = Field(
        default=100,
        ge=1,
        description="Most recent alerts kept in status() (bounded memory on long runs).",
    )
    straggler_threshold: float = Field(
        default=0.75,
        gt=0,
        le=1,
        description="A worker whose score (median step time of all workers / its own) is below "
        "this is a straggler. Source: NVIDIA's straggler-detection default.",
    )
    straggler_reports: int = Field(
        default=2,
        ge=1,
        description="Consecutive reports below the threshold before a worker is flagged: one "
        "slow period is a hiccup (a preempted core), two are a pattern. mlops-guard choice.",
    )
    straggler_min_workers: int = Field(
        default=2,
        ge=2,
        description="Scores need at least this many fresh workers (one worker has no peers).",
    )
    straggler_stale_seconds: float = Field(
        default=30.0,
        gt=0,
        description="A worker report older than this is left out of the median: a worker that "
        "stopped reporting must not skew its peers' scores. mlops-guard choice.",
    )
    straggler_max_workers: int = Field(
        default=4096,
        ge=2,
        description="Most workers one detector tracks: bounds memory and the worker label of "
        "mlops_guard_straggler_score against stray senders. mlops-guard choice.",
    )
    straggler_address: str | None = Field(
        default=None,
        description="host:port of a StragglerDetector; when set, each monitor's watchdog reports "
        "its step times there (UDP on loopback by default).",
    )
    worker: str | None = Field(
        default=None,
        description="This process's worker name for straggler reports; default the RANK "
        "variable torchrun sets, else the process id.",
    )
    prefect_events: bool = Field(
        default=True,
        description="Emit mlops_guard.training.stalled/.recovered Prefect events when a Prefect "
        "API is configured (never starts an ephemeral server).",
    )
    flush_metrics: bool = Field(
        default=True,
        description="Write or push metrics on every stall, recovery and slow save, so alert "
        "rules see them within a scrape interval.",
    )


def load_monitor_settings(base: MonitorSettings | None = None, **overrides: Any) -> MonitorSettings:
    """Settings from the environment (or ``base``) plus explicit overrides.

    A rejected value (zero or negative threshold, say) is a
    :class:`~mlops_guard.errors.ConfigError` naming the variable and the fix; an unknown
    name, a :class:`~mlops_guard.errors.MonitorError`.
    """
    unknown = sorted(set(overrides) - set(MonitorSettings.model_fields))
    if unknown:
        raise MonitorError(
            f"unknown monitor setting(s): {', '.join(unknown)}",
            hint=f"use one of: {', '.join(sorted(MonitorSettings.model_fields))}",
        )
    given = {key: value for key, value in overrides.items() if value is not None}
    if base is None:
        return MonitorSettings(**given)
    return MonitorSettings(**{**base.model_dump(), **given})
