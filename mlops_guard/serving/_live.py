"""What the server learns from live traffic: the canary's per-version samples and judgement,
and the drift of a sampled window of inputs and predictions.

The live canary collects per request what the batch canary measures per step (latency per
row, errors, the prediction distribution) under the same metric names, so
:func:`mlops_guard.canary.judge` applies the same specs and thresholds; a pass promotes the
challenger, a fail removes it, both through the registry's compare-and-set. The live drift
check compares the newest rows with the serving version's reference profile and sets the
gauges the scheduled drift check sets, so the same alerts and receiver act on it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.canary import CanaryVerdict
    from mlops_guard.contract import Predictor
    from mlops_guard.drift import DriftReport, ReferenceProfile
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.serving._settings import ServingSettings
    from mlops_guard.settings import GuardSettings

__all__ = ["LIVE_CANARY_ACTOR", "LiveCanary", "LiveDrift"]

LIVE_CANARY_ACTOR = "mlops-guard:serve"
_log = logging.getLogger("mlops_guard.serving")
# Samples kept per version and metric: enough for the judge's tests to reach their power,
# bounded so a long canary does not grow without limit.
_SAMPLES_KEPT = 20_000


def _metric_name(predictor: Predictor) -> str:
    contract = predictor.contract
    if contract.task == "binary" and predictor.has_scores:
        return "score"
    return "predicted_class" if contract.is_classifier else "prediction"


@dataclass
class _Side:
    requests: int = 0
    samples: dict[str, deque[float]] = field(default_factory=dict)

    def extend(self, name: str, values: list[float]) -> None:
        self.samples.setdefault(name, deque(maxlen=_SAMPLES_KEPT)).extend(values)


@dataclass
class LiveCanary:
    """Per-version samples of one champion/challenger pair, and the judgement on them."""

    model: str
    champion: str
    challenger: str
    config: ServingSettings
    sides: dict[str, _Side] = field(default_factory=dict)
    since_judged: int = 0
    verdicts: list[CanaryVerdict] = field(default_factory=list)
    decided: str | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        predictor: Predictor,
        *,
        seconds: float,
        rows: int,
        failed: bool,
        numbers: list[float],
        predictions: list[Any],
    ) -> bool:
        """Add one request's samples; True when a judgement is due."""
        name = _metric_name(predictor)
        with self._lock:
            side = self.sides.setdefault(predictor.version, _Side())
            side.requests += 1
            side.extend("latency_seconds", [seconds / max(rows, 1)])
            side.extend("error", [1.0 if failed else 0.0] * max(rows, 1))
            if not failed:
                if name == "predicted_class":
                    classes = list(predictor.contract.classes or ())
                    codes = [float(classes.index(p)) if p in classes else -1.0 for p in predictions]
                    side.extend(name, codes)
                else:
                    side.extend(name, numbers)
            if predictor.version == self.challenger:
                self.since_judged += 1
            return self.decided is None and self._due()

    def _due(self) -> bool:
        champion = self.sides.get(self.champion)
        challenger = self.sides.get(self.challenger)
        return (
            champion is not None
            and challenger is not None
            and champion.requests >= self.config.canary_min_requests
            and challenger.requests >= self.config.canary_min_requests
            and self.since_judged >= self.config.canary_judge_every
        )

    def judge(self) -> CanaryVerdict:
        """The batch canary's judge on the live samples."""
        from mlops_guard.canary import judge

        with self._lock:
            self.since_judged = 0
            baseline = {k: list(v) for k, v in self.sides[self.champion].samples.items()}
            canary = {k: list(v) for k, v in self.sides[self.challenger].samples.items()}
        verdict = judge(baseline, canary)
        self.verdicts.append(verdict)
        return verdict

    def act(self, verdict: CanaryVerdict, settings: GuardSettings, metrics: GuardMetrics) -> str:
        """Promote on a pass, remove the challenger on a fail, keep measuring otherwise;
        returns what was done (``promoted``, ``removed`` or ``continued``)."""
        from mlops_guard.registry import promote, remove_challenger
        from mlops_guard.runlog import log_event

        metrics.canary_score.labels(model=self.model).set(verdict.score or 0.0)
        metrics.canary_judgements_total.labels(model=self.model, verdict=verdict.verdict).inc()
        done = "continued"
        reasons = "; ".join(verdict.reasons) or f"score {verdict.score:.0f}"
        if verdict.verdict == "pass":
            promote(
                self.model,
                self.challenger,
                reason=f"live canary passed ({reasons})",
                actor=LIVE_CANARY_ACTOR,
                settings=settings,
                expected_champion=self.champion,
            )
            done = "promoted"
        elif verdict.verdict == "fail":
            remove_challenger(
                self.model,
                reason=f"live canary failed: {reasons}",
                actor=LIVE_CANARY_ACTOR,
                settings=settings,
                expected_challenger=self.challenger,
            )
            done = "removed"
        if done != "continued":
            self.decided = done
        log_event(
            "serving.canary_judged",
            settings=settings,
            model=self.model,
            model_version=self.challenger,
            champion=self.champion,
            verdict=verdict.verdict,
            score=verdict.score,
            decision=done,
        )
        return done


def load_version_profile(
    model: str, version: str, settings: GuardSettings
) -> ReferenceProfile | None:
    """The drift profile stored with the version's training run, or None when it has none."""
    import tempfile

    from mlops_guard.drift import PROFILE_ARTIFACT_PATH, load_profile
    from mlops_guard.registry._client import RegistryClient

    client = RegistryClient(settings)
    found = client.model_version(model, version)
    if not found.run_id:
        return None
    run_id = str(found.run_id)
    with tempfile.TemporaryDirectory(prefix="mlops-guard-serve-profile-") as tmp:
        try:
            local = client.mlflow.download_artifacts(run_id, PROFILE_ARTIFACT_PATH, tmp)
        except Exception as exc:  # noqa: BLE001 - no profile: no live drift for this version
            _log.warning("%s v%s has no drift profile (%s): live drift is off", model, version, exc)
            return None
        return load_profile(local)


@dataclass
class LiveDrift:
    """The newest rows served by one version, checked against its reference profile."""

    model: str
    version: str
    profile: ReferenceProfile
    output: str
    config: ServingSettings
    exclude: tuple[str, ...] = ()
    columns: dict[str, deque[Any]] = field(default_factory=dict)
    since_checked: int = 0
    last_checked: float = 0.0
    checks: int = 0
    last_report: DriftReport | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, columns: dict[str, list[Any]], numbers: list[float], now: float) -> bool:
        """Add one request's rows and outputs; True when a check is due."""
        size = self.config.drift_window_rows
        with self._lock:
            for name, values in columns.items():
                if name in self.exclude:
                    continue
                self.columns.setdefault(name, deque(maxlen=size)).extend(values)
            self.columns.setdefault(self.output, deque(maxlen=size)).extend(numbers)
            self.since_checked += 1
            if self.last_checked == 0.0:
                self.last_checked = now
            rows = len(self.columns[self.output])
            return rows >= self.config.drift_min_rows and (
                self.since_checked >= self.config.drift_every_requests
                or now - self.last_checked >= self.config.drift_every_seconds
            )

    def check(self, metrics: GuardMetrics, now: float) -> DriftReport:
        """Run the drift check on the window and export it (the scheduled check's gauges)."""
        import pandas as pd

        from mlops_guard.drift import DriftConfig, detect_drift

        with self._lock:
            self.since_checked = 0
            self.last_checked = now
            window = pd.DataFrame({name: list(values) for name, values in self.columns.items()})
        # The model's output is tested as prediction drift, outside the data set's share:
        # counted as a column it would inflate the share and leave prediction drift unseen.
        config = DriftConfig(exclude=list(self.exclude), outputs=(self.output,))
        report = detect_drift(self.profile, window, config=config)
        metrics.dataset_drift.labels(model=self.model).set(1.0 if report.dataset_drift else 0.0)
        metrics.drift_share.labels(model=self.model).set(report.drift_share)
        for name, column in {**report.columns, **report.outputs}.items():
            metrics.drift_column_statistic.labels(
                model=self.model, column=name, test=column.test
            ).set(column.statistic)
        metrics.serving_prediction_drift.labels(model=self.model, model_version=self.version).set(
            1.0 if report.prediction_drift else 0.0
        )
        self.checks += 1
        self.last_report = report
        return report
