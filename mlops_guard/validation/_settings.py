"""Settings of the validation concern, read from ``MLOPS_GUARD_VALIDATION_*`` variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlops_guard.settings import SettingsBase

__all__ = ["Engine", "ValidationSettings"]

Engine = Literal["auto", "gx"]


class ValidationSettings(SettingsBase):
    """Where suites live, how results are reported and how suites are inferred.

    Every inference threshold is named here with the reason for its value; the false-alarm test
    in ``tests/validation/test_infer.py`` measures the defaults (at most 1% of fresh batches
    drawn from the reference distribution fail the inferred suite).
    """

    model_config = SettingsConfigDict(env_prefix="MLOPS_GUARD_VALIDATION_", extra="ignore")

    expectations_dir: Path = Field(
        default=Path("expectations"),
        description="Directory searched first for a suite given by name (then the suites "
        "packaged in mlops_guard/suites/).",
    )
    engine: Engine = Field(
        default="auto",
        description="'auto' evaluates the common expectation types in vectorised pandas with "
        "Great Expectations' semantics and hands any other type to Great Expectations; 'gx' "
        "hands every expectation to Great Expectations (slower; no row-level split).",
    )
    max_examples: int = Field(
        default=5,
        ge=0,
        le=100,
        description="Unexpected values (and row positions) reported per failed expectation; "
        "Great Expectations' SUMMARY format keeps 20, five is enough to read on one line.",
    )
    range_margin: float = Field(
        default=1.0,
        ge=0,
        description="Inferred numeric ranges are widened on each side by this share of the "
        "observed range (max - min). 1.0 keeps heavy-tailed columns (log-normal usage, gamma "
        "tenure) under 1% false alarms on fresh 2,000-row batches against a 20,000-row "
        "reference; a lower bound never goes below 0 when the reference has no negatives.",
    )
    null_rate_factor: float = Field(
        default=1.5,
        gt=1.0,
        description="Where the reference has nulls, a batch may have up to this multiple of "
        "the reference null rate (the 'mostly' of expect_column_values_to_not_be_null): "
        "between the sampling noise of a fresh batch and a doubled null rate, which must fail.",
    )
    max_categories: int = Field(
        default=50,
        ge=1,
        description="A text column with at most this many distinct values is categorical and "
        "gets a value set (an unseen category fails); more distinct values: no value set.",
    )
    max_category_share: float = Field(
        default=0.2,
        gt=0,
        le=1,
        description="A text column is categorical only if its distinct values are also at most "
        "this share of its non-null values; above it, the reference is too small to have seen "
        "every category, and a value set would reject new but valid ones.",
    )
    id_unique_share: float = Field(
        default=0.95,
        gt=0,
        le=1,
        description="A text or integer column whose distinct values are at least this share "
        "of its non-null values is id-like: no value set and no range (ids grow); uniqueness "
        "is expected when the reference is fully unique.",
    )
