"""The judge's statistics with fixed seeds: power, false failures, small and degenerate samples."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlops_guard.canary import CanarySettings, JudgeConfig, MetricResult, MetricSpec, judge
from mlops_guard.canary._labelled import LabelledRows, judge_labelled
from mlops_guard.canary._stats import hodges_lehmann, tukey_trim
from mlops_guard.cli import main
from mlops_guard.contract import FeatureSpec, ModelContract
from mlops_guard.errors import DataError, UsageError

TRIALS = 400


def _latency(rng: np.random.Generator, n: int, factor: float = 1.0) -> np.ndarray:
    # Lognormal service times around 50 ms, sigma 0.25: a typical right-skewed latency.
    return rng.lognormal(np.log(0.05), 0.25, n) * factor


def test_catches_a_20_percent_latency_increase_at_least_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(20261123)
    caught = sum(
        judge(
            {"latency_seconds": _latency(rng, 100)},
            {"latency_seconds": _latency(rng, 100, 1.2)},
        ).verdict
        == "fail"
        for _ in range(TRIALS)
    )
    assert caught / TRIALS >= 0.95


def test_fails_identical_distributions_at_most_2_percent_of_the_time() -> None:
    rng = np.random.default_rng(7)
    false_fails = sum(
        judge(
            {"latency_seconds": _latency(rng, 100), "error": rng.random(100) < 0.05},
            {"latency_seconds": _latency(rng, 100), "error": rng.random(100) < 0.05},
        ).verdict
        == "fail"
        for _ in range(TRIALS)
    )
    assert false_fails / TRIALS <= 0.02


def test_a_latency_decrease_is_not_a_failure() -> None:
    rng = np.random.default_rng(1)
    verdict = judge(
        {"latency_seconds": _latency(rng, 200)}, {"latency_seconds": _latency(rng, 200, 0.5)}
    )
    assert verdict.verdict == "pass"
    result = verdict.metric("latency_seconds")
    assert result.change == "lower"
    assert result.effect is not None
    assert result.effect < 0


def test_hodges_lehmann_interval_covers_the_true_shift() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(10, 1, 300)
    y = rng.normal(11, 1, 300)
    shift, low, high = hodges_lehmann(x, y, 0.98, max_samples=2000, seed=0)
    assert low < 1.0 < high
    assert abs(shift - 1.0) < 0.3
    assert low < shift < high


def test_fewer_than_the_minimum_samples_is_inconclusive_never_pass_or_fail() -> None:
    rng = np.random.default_rng(2)
    verdict = judge(
        {"latency_seconds": _latency(rng, 49)}, {"latency_seconds": _latency(rng, 49, 3.0)}
    )
    assert verdict.verdict == "inconclusive"
    assert verdict.score is None
    assert verdict.metric("latency_seconds").outcome == "inconclusive"
    # A critical metric short of samples makes the whole canary inconclusive.
    verdict = judge(
        {"latency_seconds": _latency(rng, 100), "error": [0.0] * 10},
        {"latency_seconds": _latency(rng, 100), "error": [1.0] * 10},
    )
    assert verdict.verdict == "inconclusive"
    assert verdict.metric("error").outcome == "inconclusive"


def test_all_zero_samples_pass_and_a_rise_from_zero_fails() -> None:
    zeros = {"latency_seconds": np.zeros(80), "error": np.zeros(80)}
    verdict = judge(zeros, dict(zeros))
    assert verdict.verdict == "pass"
    assert verdict.score == 100.0
    assert verdict.metric("latency_seconds").relative_effect is None
    errors = np.zeros(80)
    errors[:20] = 1
    verdict = judge(zeros, {"latency_seconds": np.zeros(80), "error": errors})
    assert verdict.verdict == "fail"
    assert verdict.reasons == ["critical metric failed: error"]


def test_score_weights_and_thresholds() -> None:
    rng = np.random.default_rng(4)
    base = {name: _latency(rng, 200) for name in ("a", "b", "c", "d")}
    worse = {**{k: v.copy() for k, v in base.items()}, "d": base["d"] * 2}
    config = JudgeConfig(
        metrics={name: MetricSpec(bad="increase") for name in "abcd"},
    )
    verdict = judge(base, worse, config=config)
    assert verdict.score == 75.0
    assert verdict.verdict == "marginal"
    heavy = JudgeConfig(
        metrics={**config.metrics, "d": MetricSpec(bad="increase", weight=3.0)},
    )
    assert judge(base, worse, config=heavy).verdict == "fail"
    critical = JudgeConfig(
        metrics={**config.metrics, "d": MetricSpec(bad="increase", critical=True)}
    )
    assert judge(base, worse, config=critical).verdict == "fail"
    lenient = JudgeConfig(
        metrics=config.metrics, settings=CanarySettings(pass_score=70, marginal_score=60)
    )
    assert judge(base, worse, config=lenient).verdict == "pass"


def test_outliers_are_trimmed_with_tukey_fences() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([_latency(rng, 200), [50.0, 80.0]])
    assert tukey_trim(values, 3.0).size == 200
    assert tukey_trim(np.zeros(10), 3.0).size == 10  # zero IQR trims nothing
    base = _latency(rng, 200)
    spiky = np.concatenate([_latency(rng, 198), [40.0, 60.0]])
    result = judge({"latency_seconds": base}, {"latency_seconds": spiky}).metric("latency_seconds")
    assert result.canary_trimmed == 2
    assert result.outcome == "pass"


def test_rate_metrics_reject_values_other_than_0_and_1() -> None:
    with pytest.raises(DataError, match="other than 0 and 1"):
        judge({"error": [0.5] * 60}, {"error": [0.0] * 60})


def test_prediction_drift_uses_ks_on_small_and_wasserstein_on_large_samples() -> None:
    rng = np.random.default_rng(6)
    small = judge({"score": rng.beta(2, 5, 500)}, {"score": rng.beta(5, 2, 500)}).metric("score")
    assert (small.test, small.outcome) == ("kolmogorov_smirnov", "fail")
    large = judge({"score": rng.beta(2, 5, 5000)}, {"score": rng.beta(2, 5, 5000)}).metric("score")
    assert (large.test, large.outcome) == ("wasserstein_normed", "pass")
    assert large.statistic is not None
    assert large.statistic < 0.1


def _classes(rng: np.random.Generator, n: int, shares: list[float]) -> np.ndarray:
    return rng.choice(len(shares), size=n, p=shares).astype(float)


def test_predicted_classes_use_chi_square_on_small_and_jensen_shannon_on_large_samples() -> None:
    rng = np.random.default_rng(9)
    shares, shifted = [0.5, 0.3, 0.2], [0.3, 0.3, 0.4]
    caught = sum(
        judge(
            {"predicted_class": _classes(rng, 300, shares)},
            {"predicted_class": _classes(rng, 300, shifted)},
        )
        .metric("predicted_class")
        .outcome
        == "fail"
        for _ in range(100)
    )
    assert caught >= 95
    false_fails = sum(
        judge(
            {"predicted_class": _classes(rng, 300, shares)},
            {"predicted_class": _classes(rng, 300, shares)},
        )
        .metric("predicted_class")
        .outcome
        == "fail"
        for _ in range(TRIALS)
    )
    # The test's own level (Evidently's p < 0.05) plus sampling noise over 400 trials.
    assert false_fails / TRIALS <= 0.08
    small = judge({"predicted_class": [0.0] * 60}, {"predicted_class": [0.0] * 60})
    assert small.metric("predicted_class").test == "chi_square"
    assert small.verdict == "pass"  # one class on both sides: nothing differs
    large = judge(
        {"predicted_class": _classes(rng, 3000, shares)},
        {"predicted_class": _classes(rng, 3000, shifted)},
    ).metric("predicted_class")
    assert (large.test, large.outcome) == ("jensen_shannon", "fail")


@pytest.mark.slow  # Evidently's import alone takes seconds
def test_jensen_shannon_matches_evidently() -> None:
    import pandas as pd
    from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
    from evidently.legacy.core import ColumnType

    rng = np.random.default_rng(10)
    for shares in ([0.5, 0.3, 0.2], [0.45, 0.3, 0.25], [0.2, 0.2, 0.6]):
        x = _classes(rng, 2000, [0.5, 0.3, 0.2])
        y = _classes(rng, 2000, shares)
        ours = judge({"predicted_class": x}, {"predicted_class": y}).metric("predicted_class")
        theirs, drifted = _jensenshannon(
            pd.Series(x), pd.Series(y), ColumnType.Categorical, threshold=0.1
        )
        assert ours.statistic == pytest.approx(theirs, abs=1e-12)
        assert (ours.outcome == "fail") == drifted


def _labelled(truth: np.ndarray, predictions: dict[str, np.ndarray]) -> LabelledRows:
    import pandas as pd

    rows = LabelledRows()
    rows.add(pd.Series(truth), pd.DataFrame(predictions))
    return rows


def test_per_row_errors_are_not_trimmed_and_their_tail_is_judged_by_the_aggregates() -> None:
    contract = ModelContract(
        features=(FeatureSpec(name="x", kind="numerical"),), label="y", task="regression"
    )
    rng = np.random.default_rng(11)
    truth_x, truth_y = rng.normal(10, 3, 400), rng.normal(10, 3, 400)
    champion = truth_x + rng.normal(0, 1, 400)
    # As good on nine rows in ten, and far off on the tenth: the tail is the point.
    far = rng.random(400) < 0.1
    challenger = truth_y + np.where(far, rng.uniform(8, 30, 400), rng.normal(0, 1, 400))
    errors_x, errors_y = np.abs(truth_x - champion), np.abs(truth_y - challenger)
    result = judge({"abs_error": errors_x}, {"abs_error": errors_y}).metric("abs_error")
    assert (result.canary_trimmed, result.critical) == (0, True)
    as_latency = JudgeConfig(metrics={"abs_error": MetricSpec(bad="increase")})
    trimmed = judge({"abs_error": errors_x}, {"abs_error": errors_y}, config=as_latency)
    assert trimmed.metric("abs_error").canary_trimmed > 0
    found = judge_labelled(
        contract,
        _labelled(truth_x, {"prediction": champion}),
        _labelled(truth_y, {"prediction": challenger}),
        config=JudgeConfig(),
        scores=True,
    )
    by_name = {m.name: m for m in found}
    assert set(by_name) == {"mae", "rmse"}
    for metric in by_name.values():
        assert metric.outcome == "fail", metric.reason
        assert metric.effect_low is not None
        assert metric.effect_low > 0  # the whole interval of the rise is above 0
    same = judge_labelled(
        contract,
        _labelled(truth_x, {"prediction": champion}),
        _labelled(truth_y, {"prediction": truth_y + rng.normal(0, 1, 400)}),
        config=JudgeConfig(),
        scores=True,
    )
    assert [m.outcome for m in same] == ["pass", "pass"]


def test_labelled_aggregates_need_enough_rows_and_both_classes() -> None:
    contract = ModelContract(
        features=(FeatureSpec(name="x", kind="numerical"),),
        label="y",
        task="binary",
        classes=(0, 1),
    )
    rng = np.random.default_rng(13)
    scores = rng.random(200)
    ones = {"prediction": (scores >= 0.5).astype(int), "score": scores}
    rows = _labelled(np.ones(200, dtype=int), ones)
    found = {
        m.name: m for m in judge_labelled(contract, rows, rows, config=JudgeConfig(), scores=True)
    }
    assert found["roc_auc"].outcome == "inconclusive"
    assert "both classes" in found["roc_auc"].reason
    assert found["log_loss"].outcome == "pass"
    few = _labelled(np.ones(20, dtype=int), {k: v[:20] for k, v in ones.items()})
    short = judge_labelled(contract, rows, few, config=JudgeConfig(), scores=True)
    assert [m.outcome for m in short] == ["inconclusive", "inconclusive"]
    assert (
        judge_labelled(contract, LabelledRows(), LabelledRows(), config=JudgeConfig(), scores=True)
        == []
    )
    assert judge_labelled(contract, rows, rows, config=JudgeConfig(), scores=False) == []


def test_metrics_judged_elsewhere_count_in_the_verdict() -> None:
    failed = MetricResult(
        name="roc_auc",
        kind="aggregate",
        test="mover_interval",
        outcome="fail",
        reason="worse",
        critical=True,
        weight=1.0,
        bad="decrease",
        tolerance=0.02,
        baseline_n=100,
        canary_n=100,
    )
    rng = np.random.default_rng(12)
    same = {"latency_seconds": _latency(rng, 100)}
    verdict = judge(same, {"latency_seconds": _latency(rng, 100)}, judged=[failed])
    assert verdict.verdict == "fail"
    assert verdict.reasons == ["critical metric failed: roc_auc"]
    assert judge({}, {}, judged=[failed]).verdict == "fail"
    with pytest.raises(UsageError, match="aggregate"):
        judge({"roc_auc": [0.8] * 60}, {"roc_auc": [0.7] * 60})


def _cli() -> list[str]:
    found = shutil.which("mlops-guard") or str(Path(sys.executable).with_name("mlops-guard"))
    return [found] if Path(found).exists() else [sys.executable, "-m", "mlops_guard.cli"]


def test_cli_judge_json_and_csv(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rng = np.random.default_rng(8)
    base = {"latency_seconds": _latency(rng, 120).tolist(), "error": [0] * 120}
    same = {"latency_seconds": _latency(rng, 120).tolist(), "error": [0] * 120}
    slow = {"latency_seconds": _latency(rng, 120, 1.6).tolist(), "error": [0] * 120}
    for name, body in {"base": base, "same": same, "slow": slow}.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(body))
    assert (
        main(
            ["canary", "judge", str(tmp_path / "base.json"), str(tmp_path / "same.json"), "--json"]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "pass"
    assert {m["name"] for m in out["metrics"]} == {"latency_seconds", "error"}
    assert (
        main(
            ["canary", "judge", str(tmp_path / "base.json"), str(tmp_path / "slow.json"), "--json"]
        )
        == 1
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["verdict"] == "fail"
    assert captured.err.count("\n") == 1

    import pandas as pd

    pd.DataFrame(slow).to_csv(tmp_path / "slow.csv", index=False)
    assert main(["canary", "judge", str(tmp_path / "base.json"), str(tmp_path / "slow.csv")]) == 1
    assert "latency_seconds" in capsys.readouterr().out


def test_cli_judge_bad_input_exits_2_in_a_subprocess(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("[1, 2, 3]")
    done = subprocess.run(
        [*_cli(), "canary", "judge", str(tmp_path / "bad.json"), str(tmp_path / "bad.json")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "JSON object of lists" in done.stderr
