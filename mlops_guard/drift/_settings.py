"""Settings of the drift concern, read from ``MLOPS_GUARD_DRIFT_*`` environment variables.

Every default mirrors Evidently 0.7's ``DataDriftPreset`` unless its description says otherwise,
so that switching from Evidently keeps the verdicts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlops_guard.settings import SettingsBase

__all__ = ["Correction", "DriftSettings"]

Correction = Literal["none", "bonferroni", "benjamini_hochberg"]


class DriftSettings(SettingsBase):
    """Thresholds and limits of drift detection (``MLOPS_GUARD_DRIFT_<FIELD>``)."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_GUARD_DRIFT_", extra="ignore")

    drift_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="The data set drifts when at least this share of checked columns drifts "
        "(Evidently DataDriftPreset default drift_share=0.5).",
    )
    small_reference_rows: int = Field(
        default=1000,
        ge=1,
        description="At most this many non-null reference values: p-value tests (KS, "
        "chi-square, Z); above: distances (Wasserstein, Jensen-Shannon) "
        "(Evidently _get_default_stattest: reference_data.shape[0] <= 1000).",
    )
    few_values: int = Field(
        default=5,
        ge=1,
        description="A numerical column with at most this many distinct values (reference and "
        "current together) is tested like a categorical one "
        "(Evidently _get_default_stattest: n_values <= 5).",
    )
    p_value_threshold: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="Significance level of KS, chi-square and Z tests (Evidently StatTest "
        "default_threshold=0.05).",
    )
    distance_threshold: float = Field(
        default=0.1,
        gt=0,
        description="Threshold of Wasserstein (normed), Jensen-Shannon, PSI and Hellinger "
        "distances (Evidently default_threshold=0.1 for each).",
    )
    wasserstein_min_std: float = Field(
        default=0.001,
        gt=0,
        description="Floor of the reference standard deviation that normalises the Wasserstein "
        "distance (Evidently _wasserstein_distance_norm: max(std, 0.001)).",
    )
    n_bins: int = Field(
        default=30,
        ge=2,
        description="Bins for Jensen-Shannon and PSI on numerical columns with many values; "
        "Evidently passes n_bins=30 but bins with numpy's 'sturges' rule, which we follow.",
    )
    binned_min_values: int = Field(
        default=20,
        ge=1,
        description="Above this many distinct reference values a numerical column is binned "
        "for Jensen-Shannon and PSI, else counted per value (Evidently get_binned_data: "
        "n_vals > 20).",
    )
    integer_categorical_limit: int = Field(
        default=10,
        ge=1,
        description="An integer column with at most this many distinct values is categorical "
        "(Evidently INTEGER_CARDINALITY_LIMIT=10).",
    )
    text_unique_share: float = Field(
        default=0.5,
        gt=0,
        le=1,
        description="A string column with more distinct values than this share of its "
        "non-null values is text, not categorical, and is tested with the domain classifier "
        "(Evidently infer_column_type: nunique > count * 0.5 means Text).",
    )
    correction: Correction = Field(
        default="none",
        description="Multiple-testing correction over the p-value tests of one check "
        "(Evidently applies none; Bonferroni and Benjamini-Hochberg are opt-in).",
    )
    exclude_columns: tuple[str, ...] = Field(
        default=(),
        description="Columns never drift-checked, e.g. ids and timestamps (Evidently 0.7 "
        "without a data definition excludes nothing by name, so neither does the default).",
    )
    output_columns: tuple[str, ...] = Field(
        default=(),
        description="Model outputs: tested for prediction drift and reported apart, never "
        "counted in the data set's drift share. Empty by default, as Evidently counts every "
        "column; the scheduled check on scored batches names score and prediction here "
        "(DriftConfig.for_scored_batches).",
    )
    bookkeeping_columns: tuple[str, ...] = Field(
        default=(),
        description="More columns never drift-checked, kept apart from exclude_columns so "
        "that changing one keeps the other; the scheduled check adds the columns the "
        "pipelines write into a scored batch (model_version, batch_id, scored_at).",
    )
    text_drift: bool = Field(
        default=True,
        description="Test text columns with Evidently's domain classifier (TF-IDF and an SGD "
        "classifier, ROC AUC above 0.55 with more than 1,000 reference texts, else above the "
        "95th percentile of random classifiers); False reports them as skipped.",
    )
    profile_exact_values: int = Field(
        default=20_000,
        ge=1,
        description="A profile keeps every distinct value of a numerical column, exactly, up "
        "to this many; above, values are rounded to profile_mantissa_bits (mlops-guard choice: "
        "20,000 values are about 0.5 MB of JSON).",
    )
    profile_mantissa_bits: int = Field(
        default=12,
        ge=4,
        le=52,
        description="Mantissa bits kept when a profile rounds values: relative error at most "
        "2**-(bits+1), 1.2e-4 for 12 bits; integers below 2**13 stay exact (mlops-guard choice).",
    )
    profile_max_categories: int = Field(
        default=100_000,
        ge=1,
        description="A profile counts at most this many distinct strings in a column; a text "
        "column with more cannot be tested from the profile and is reported as skipped.",
    )
    profile_chunk_rows: int = Field(
        default=1_000_000,
        ge=1,
        description="Rows read at a time when profiling a file: bounds memory to about "
        "chunk_rows x columns x 8 bytes (mlops-guard choice).",
    )
    html_sample_rows: int = Field(
        default=20_000,
        ge=1001,
        description="Rows of each side given to Evidently's HTML report (seeded sample): "
        "Evidently needs about 72 s for 1,000,000 rows; above 1,000 rows it picks the same "
        "tests as the full check.",
    )
    sample_seed: int = Field(default=0, description="Seed of every sample and bootstrap.")
    concept_confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description="Confidence level of the quality intervals for concept drift; a drop is "
        "significant when its z statistic exceeds this two-sided level's normal quantile "
        "(1.96 at 0.95: a one-sided false-alarm rate of at most 2.5% at the minimum effect; "
        "the conventional 95%).",
    )
    concept_min_drop: float = Field(
        default=0.02,
        ge=0,
        description="Smallest drop of ROC AUC or accuracy that is concept drift, however "
        "certain (mlops-guard choice, a margin in the sense of a non-inferiority test, Liu et "
        "al. 2006, Stat Med 25:1219): 0.02 is about 2.5 standard errors of the AUC of a "
        "4,000-row test set near 0.8 (DeLong SE 0.0073 on the synthetic churn data, whose test "
        "AUC moved with sd 0.008 over 20 retrainings on fresh samples), so smaller drops are "
        "what re-measuring alone moves; 0 flags any drop beyond chance.",
    )
    concept_min_error_increase: float = Field(
        default=0.0,
        ge=0,
        description="Smallest increase of MAE or RMSE that is concept drift: these are in the "
        "target's units, so no default fits every target; 0 flags any increase beyond chance "
        "(mlops-guard choice).",
    )
    concept_bootstrap: int = Field(
        default=1000,
        ge=100,
        description="Bootstrap resamples for metrics without a closed-form interval (MAE, RMSE).",
    )
    workers: int = Field(
        default=0,
        ge=0,
        description="Threads that summarise columns in parallel (numpy's sort releases the "
        "GIL); 0: the number of CPUs, at most 8 (mlops-guard choice).",
    )
    check_batches: int = Field(
        default=5,
        ge=1,
        description="The scheduled check compares this many latest scored batches.",
    )
