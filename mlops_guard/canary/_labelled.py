"""Labelled metrics of all rows (ROC AUC, log loss, macro F1, MAE, RMSE), judged from the
interval of the challenger's change against the champion.

Per-row correctness and absolute error go through the judge's sample tests. These do not: ROC
AUC and macro F1 do not split into one sample per row, and the mean log loss, MAE and RMSE are
decided by their tails (a tenth of the rows confidently wrong multiplies the mean log loss),
which a rank test and its median shift barely see. Each side's value and interval come from
:func:`mlops_guard.quality.measure` (DeLong for ROC AUC, a seeded percentile bootstrap for log
loss, macro F1, MAE and RMSE) at the canary's confidence, and the interval of the change from
:func:`mlops_guard.quality.compare_quality`: Newcombe's MOVER, which combines the intervals of
two independent samples, as the champion's and the challenger's rows are. The verdict then
follows the judge's rule for every metric: a failure needs the interval on the bad side of 0
(significant) and the change beyond the metric's tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_guard.canary._judge import JudgeConfig, MetricResult, MetricSpec, _is_bad, _size

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.contract import ModelContract

__all__ = ["AGGREGATES", "LabelledRows", "judge_labelled"]

#: The aggregate metrics of each task (binary: only for a classifier that gives scores).
AGGREGATES: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "log_loss"),
    "multiclass": ("macro_f1",),
    "regression": ("mae", "rmse"),
}


@dataclass
class LabelledRows:
    """The labelled rows one version scored in a step, accumulated over its repeats."""

    truth: list[pd.Series] = field(default_factory=list)
    predictions: list[pd.DataFrame] = field(default_factory=list)

    def add(self, truth: pd.Series, predictions: pd.DataFrame) -> None:
        if len(truth):
            self.truth.append(truth.reset_index(drop=True))
            self.predictions.append(predictions.reset_index(drop=True))

    def __len__(self) -> int:
        return sum(len(t) for t in self.truth)

    def frames(self) -> tuple[pd.Series, pd.DataFrame]:
        import pandas as pd

        return (
            pd.concat(self.truth, ignore_index=True),
            pd.concat(self.predictions, ignore_index=True),
        )


def _fields(name: str, spec: MetricSpec, n_x: int, n_y: int) -> dict[str, Any]:
    """What every labelled metric's result says of the metric and its samples."""
    return {
        "name": name,
        "kind": spec.kind,
        "test": "mover_interval",
        "critical": spec.critical,
        "weight": spec.weight,
        "bad": spec.bad,
        "tolerance": spec.tolerance,
        "baseline_n": n_x,
        "canary_n": n_y,
    }


def _inconclusive(name: str, spec: MetricSpec, n_x: int, n_y: int, reason: str) -> MetricResult:
    return MetricResult(**_fields(name, spec, n_x, n_y), outcome="inconclusive", reason=reason)


def judge_labelled(
    contract: ModelContract,
    champion: LabelledRows,
    challenger: LabelledRows,
    *,
    config: JudgeConfig,
    scores: bool,
) -> list[MetricResult]:
    """The task's aggregate metrics of the two sides' labelled rows, judged (see the module
    docs). ``scores``: whether both versions give class probabilities (ROC AUC and log loss
    need them).
    Empty when no row was labelled or the task has no aggregate to judge (a binary
    classifier without scores)."""
    from mlops_guard.quality import QualitySettings, compare_quality, measure

    names = AGGREGATES[contract.task] if scores or contract.task != "binary" else ()
    n_x, n_y = len(champion), len(challenger)
    if not names or n_x + n_y == 0:
        # Nothing to judge, or no labels at all: a labels-free canary judges outputs only.
        return []
    s = config.settings
    if min(n_x, n_y) < s.min_samples:
        return [
            _inconclusive(
                name,
                config.spec(name),
                n_x,
                n_y,
                f"{min(n_x, n_y)} labelled rows on a side, fewer than {s.min_samples}",
            )
            for name in names
        ]
    quality = QualitySettings(interval_confidence=s.confidence, bootstrap_seed=s.seed)
    (truth_x, pred_x), (truth_y, pred_y) = champion.frames(), challenger.frames()
    baseline = measure(contract, truth_x, pred_x, confidence=s.confidence, settings=quality)
    canary = measure(contract, truth_y, pred_y, confidence=s.confidence, settings=quality)
    compared = compare_quality(baseline, canary, quality).metrics
    results: list[MetricResult] = []
    for name in names:
        spec = config.spec(name)
        found = compared.get(name)
        if found is None:
            results.append(
                _inconclusive(
                    name,
                    spec,
                    n_x,
                    n_y,
                    "not measurable on both sides (ROC AUC needs both classes among the "
                    "labelled rows)",
                )
            )
            continue
        change = found.change
        significant = found.lower > 0 or found.upper < 0
        relative = change / abs(found.reference) if found.reference else None
        size = _size(change, relative, spec, default_relative=False)
        failed = significant and _is_bad(change, spec.bad) and size > spec.tolerance
        interval = f"{s.confidence:.0%} interval [{found.lower:+.4g}, {found.upper:+.4g}]"
        if failed:
            reason = f"changed {change:+.4g}, {interval}, beyond tolerance {spec.tolerance:g}"
        elif significant and _is_bad(change, spec.bad):
            reason = f"significant change {change:+.4g} within tolerance {spec.tolerance:g}"
        else:
            reason = f"no significant bad change ({change:+.4g}, {interval})"
        results.append(
            MetricResult(
                **_fields(name, spec, n_x, n_y),
                outcome="fail" if failed else "pass",
                reason=reason,
                baseline_center=found.reference,
                canary_center=found.current,
                effect=change,
                effect_low=found.lower,
                effect_high=found.upper,
                relative_effect=relative,
                change=("higher" if change > 0 else "lower") if significant else "same",
            )
        )
    return results
