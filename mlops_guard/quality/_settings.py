"""Settings of the labelled-quality checks, read from ``MLOPS_GUARD_QUALITY_*`` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mlops_guard.settings import SettingsBase

__all__ = ["QualitySettings"]


class QualitySettings(SettingsBase):
    """Every field can be set as ``MLOPS_GUARD_QUALITY_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_GUARD_QUALITY_", extra="ignore")

    confidence: float = Field(
        default=0.99,
        gt=0.5,
        lt=1,
        description="Confidence of the one-sided paired test that the champion is worse than "
        "the version it replaced. 99%: the verdict can roll a model back, so a false alarm "
        "costs a good version; the canary judge uses 98% for the gentler 'do not promote'.",
    )
    min_loss_increase: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Smallest rise in the mean Brier loss that counts as worse. A constant "
        "guess at a 25% base rate scores 0.19 and useful classifiers 0.10-0.18, so 0.01 is "
        "about a tenth of the gap between useless and useful; retraining the same model on "
        "fresh data of the same relation moves it by less.",
    )
    min_rows: int = Field(
        default=200,
        ge=2,
        description="Fewer labelled rows than this are not compared (the t-interval of a mean "
        "loss difference needs a few hundred rows before its normal approximation holds for "
        "skewed losses; Kayenta asks at least 50 points a side for its gentler tests).",
    )
    compare_previous: bool = Field(
        default=True,
        description="Score a labelled batch with the version the champion replaced as well, "
        "and export whether the champion is worse on the same rows (the signal that makes a "
        "rollback the right answer, where concept drift makes every version worse).",
    )
    interval_confidence: float = Field(
        default=0.95,
        gt=0.5,
        lt=1,
        description="Confidence of every metric's interval and of the interval of its change "
        "between the reference and a batch (95%: scipy.stats.bootstrap's and binomtest's "
        "default confidence_level, and the interval model cards report).",
    )
    bootstrap_resamples: int = Field(
        default=1000,
        ge=100,
        description="Resamples of each bootstrap interval (log loss, macro F1, MAE, RMSE). "
        "Efron & Tibshirani (1993, ch. 13 and 19) advise about 1,000 for percentile "
        "intervals; scipy's 9,999 default costs ten times as long for digits nobody reads.",
    )
    bootstrap_seed: int = Field(
        default=0,
        ge=0,
        description="Seed of the bootstrap (and of the row sample below), so the same data "
        "always gives the same interval and a verdict can be reproduced.",
    )
    bootstrap_max_rows: int = Field(
        default=20_000,
        ge=100,
        description="Above this many rows the bootstrap resamples a seeded sample of this "
        "size and scales the interval's half-widths by sqrt(sample / rows) (the standard "
        "error of these metrics falls as 1/sqrt(n)); point values use every row. 20,000 "
        "rows x 1,000 resamples keeps each interval under a second on 2 cores.",
    )
    min_accuracy_drop: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Smallest fall in accuracy that counts as degraded, however certain "
        "(a non-inferiority margin, Liu et al. 2006, Stat Med 25:1219; the drift concern's "
        "concept_min_drop of 0.02 for the same metric).",
    )
    min_auc_drop: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Smallest fall in ROC AUC that counts as degraded, however certain (the "
        "drift concern's concept_min_drop: 0.02 is about 2.5 DeLong standard errors of the "
        "AUC of a 4,000-row test set near 0.8, what re-measuring alone moves).",
    )
    min_f1_drop: float = Field(
        default=0.02,
        ge=0,
        le=1,
        description="Smallest fall in macro F1 that counts as degraded (the same two points "
        "as accuracy: macro F1 lives on the same 0-1 scale).",
    )
    min_relative_error_increase: float = Field(
        default=0.1,
        ge=0,
        description="Smallest rise of an error metric (log loss, MAE, RMSE) that counts as "
        "degraded, as a share of the reference value (mlops-guard choice, the relative "
        "counterpart of the 0.02 margins on 0-1 metrics near 0.8-0.9: errors carry the "
        "label's units, so only a relative margin fits every model).",
    )
