"""Settings of the canary concern: the judge's statistics and the rollout policy."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from mlops_guard.settings import SettingsBase

__all__ = ["CanarySettings"]


class CanarySettings(SettingsBase):
    """Every field can be set as ``MLOPS_GUARD_CANARY_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_GUARD_CANARY_", extra="ignore")

    confidence: float = Field(
        default=0.98,
        gt=0.5,
        lt=1,
        description="Confidence of the Mann-Whitney and two-proportion tests and of the "
        "Hodges-Lehmann interval. Kayenta's default confidence level: 98%.",
    )
    min_samples: int = Field(
        default=50,
        ge=2,
        description="Fewer samples on either side (after trimming) gives 'inconclusive', never "
        "a pass or a fail. Kayenta advises at least 50 data points per metric and side.",
    )
    outlier_iqr_factor: float = Field(
        default=3.0,
        ge=0,
        description="Tukey fences: values beyond Q1 - k*IQR or Q3 + k*IQR are trimmed before "
        "testing. k = 3 marks 'far out' values (Tukey 1977); Kayenta's outlier strategy uses "
        "the same fences. 0 disables trimming.",
    )
    pass_score: float = Field(
        default=95.0,
        ge=0,
        le=100,
        description="Score (weighted share of passing metrics) at or above which the canary "
        "passes. Kayenta's default pass threshold: 95.",
    )
    marginal_score: float = Field(
        default=75.0,
        ge=0,
        le=100,
        description="Score at or above which (and below pass_score) the canary is marginal. "
        "Kayenta's default marginal threshold: 75.",
    )
    latency_tolerance: float = Field(
        default=0.05,
        ge=0,
        description="Relative Hodges-Lehmann shift of latency tolerated even when significant "
        "(5%: below the run-to-run noise of a shared host).",
    )
    error_rate_tolerance: float = Field(
        default=0.005,
        ge=0,
        description="Absolute rise of the error rate tolerated even when significant "
        "(half a percentage point).",
    )
    accuracy_tolerance: float = Field(
        default=0.01,
        ge=0,
        description="Absolute drop of labelled accuracy tolerated even when significant "
        "(one percentage point).",
    )
    loss_tolerance: float = Field(
        default=0.10,
        ge=0,
        description="Relative rise of an error metric tolerated even when significant: the "
        "Hodges-Lehmann shift of per-row absolute error against the champion's median, and "
        "the change of log loss, MAE and RMSE against the champion's. 10%: the quality "
        "concern's min_relative_error_increase (errors carry the label's units, so only a "
        "relative margin fits every model).",
    )
    roc_auc_tolerance: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Absolute drop of ROC AUC tolerated even when significant (the quality "
        "concern's min_auc_drop: about 2.5 DeLong standard errors of the AUC of a 4,000-row "
        "test set near 0.8).",
    )
    macro_f1_tolerance: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Absolute drop of macro F1 tolerated even when significant (the quality "
        "concern's min_f1_drop).",
    )
    prediction_drift_threshold: float = Field(
        default=0.1,
        gt=0,
        description="Normed Wasserstein distance between champion and challenger scores (or "
        "predicted values) above which prediction drift fails. Evidently default: "
        "Wasserstein 0.1 (normed by the reference's standard deviation) above 1,000 rows.",
    )
    class_drift_threshold: float = Field(
        default=0.1,
        gt=0,
        le=1,
        description="Jensen-Shannon distance between the champion's and the challenger's "
        "predicted-class shares above which prediction drift fails. Evidently default for a "
        "categorical column above 1,000 rows: Jensen-Shannon 0.1.",
    )
    drift_ks_max_rows: int = Field(
        default=1000,
        ge=0,
        description="With this many rows or fewer on a side, prediction drift uses a test "
        "(two-sample K-S for scores and values, chi-square for predicted classes) instead of "
        "a distance, whose sampling noise alone nears its threshold on small samples. "
        "Evidently's rule: statistical tests up to 1,000 rows.",
    )
    drift_ks_p_value: float = Field(
        default=0.05,
        gt=0,
        lt=1,
        description="K-S (or chi-square) p-value below which prediction drift fails. "
        "Evidently default: 0.05.",
    )
    max_pairwise_samples: int = Field(
        default=2000,
        ge=100,
        description="Per side, the Hodges-Lehmann shift and interval use at most this many "
        "values (seeded subsample): all pairwise differences of n x m values cost O(nm).",
    )
    steps: Annotated[list[float], NoDecode] = Field(
        default=[0.10, 0.25, 0.50],
        description="Shares of rows routed to the challenger, one canary step each (Flagger "
        "and Argo Rollouts step weights: 10%, 25%, 50%).",
    )
    max_inconclusive_repeats: int = Field(
        default=2,
        ge=0,
        description="An inconclusive step is repeated this many times before the canary "
        "stops as inconclusive (challenger kept as challenger, champion unchanged).",
    )
    seed: int = Field(
        default=0,
        ge=0,
        description="Seed of the subsampling in the judge and of the bootstrap intervals of "
        "labelled metrics (macro F1, MAE, RMSE), so a canary's verdict can be reproduced.",
    )
    latency_batch_rows: int = Field(
        default=4,
        ge=1,
        description="Rows per timed scoring call during a canary; each call gives one latency "
        "sample (seconds per row). Small, like online requests.",
    )
    latency_calls: int = Field(
        default=100,
        ge=1,
        description="Timed calls per version and step attempt (twice the judge's 50-sample "
        "minimum); the remaining rows are scored in one untimed call, so a step's cost does "
        "not grow with per-call overhead (tens of ms for a ColumnTransformer on a busy host).",
    )

    @field_validator("steps", mode="before")
    @classmethod
    def _parse_steps(cls, value: object) -> object:
        if isinstance(value, str):
            return [float(part) for part in value.split(",") if part.strip()]
        return value

    @field_validator("steps")
    @classmethod
    def _steps_are_shares(cls, value: list[float]) -> list[float]:
        if not value or any(not 0 < share < 1 for share in value):
            raise ValueError("steps must be shares strictly between 0 and 1, e.g. 0.1,0.25,0.5")
        return value
