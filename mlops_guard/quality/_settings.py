"""Settings of the labelled-quality checks, read from ``MLOPS_GUARD_QUALITY_*`` variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["QualitySettings"]


class QualitySettings(BaseSettings):
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
