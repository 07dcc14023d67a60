"""Thresholds of the trace causality checks, read from ``MLOPS_GUARD_TRACES_*`` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlops_guard.settings import SettingsBase

__all__ = ["TraceSettings"]


class TraceSettings(SettingsBase):
    """Every threshold ``trace check`` and ``trace adjust`` use.

    >>> TraceSettings().max_drift_ppm
    500.0
    """

    model_config = SettingsConfigDict(
        env_prefix="MLOPS_GUARD_TRACES_", extra="ignore", validate_assignment=True
    )

    max_drift_ppm: float = Field(
        default=500.0,
        gt=0,
        description="Largest clock frequency error the fit allows. Source: RFC 5905 (NTPv4), "
        "MAXFREQ = 500 ppm, the most a clock discipline corrects.",
    )
    min_drift_span_seconds: float = Field(
        default=1.0,
        gt=0,
        description="A host's drift is fitted only when its samples span at least this long; "
        "below it the fit is offset-only (a drift of 100 ppm moves the clock 0.1 ms in 1 s, "
        "under the delay noise of a loopback hop).",
    )
    min_drift_samples: int = Field(
        default=8,
        ge=2,
        description="Fewer cross-host samples than this give an offset-only fit (two points "
        "per direction are the least that pin a slope; the rest guards against one outlier).",
    )
    max_delta_ms: float = Field(
        default=1000.0,
        ge=0,
        description="Largest shift ``trace adjust`` applies to a span (0 disables adjusting "
        "but still reports). Source: Jaeger's clock-skew adjuster tests use 1 s; its query "
        "service defaults to 0 (off).",
    )
    warn_share_of_min_delay: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A host's offset is a warning above this share of the minimum one-way "
        "delay observed on its links: violations start when the offset reaches the delay "
        "itself, so half of it leaves time to act.",
    )
