"""The canary rollout: route a share of rows to the challenger, step by step, judge each step,
then promote the challenger or remove it.

Routing is a deterministic hash of the entity id (salted with the model and the challenger's
version): an entity always meets the same version within a canary, and the rows routed at 10%
stay routed at 25% and 50%. Each step scores its batch with both versions, collects per-version
latency (one sample per timed call of ``latency_batch_rows`` rows), errors, scores and, when the
label is present, correctness, and hands them to :func:`~mlops_guard.canary.judge`.

* pass at every step: the challenger is promoted (compare-and-set on the champion read at the
  start, so a rollback during the canary wins);
* fail at any step: the challenger alias is removed, the champion stays;
* inconclusive or marginal: the step is repeated on the next batch with the samples
  accumulated, up to ``max_inconclusive_repeats`` times; then the canary ends inconclusive and
  both aliases stay as they are.

Every step and the decision go to the run log (``canary.step_judged``, ``canary.decided``), a
Prefect table artifact and tags of the challenger's model version (``mlops_guard.canary.*``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prefect import flow

from mlops_guard.canary._judge import CanaryVerdict, JudgeConfig, judge
from mlops_guard.canary._settings import CanarySettings
from mlops_guard.errors import GuardError, RegistryError, SchemaError, UsageError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    from mlops_guard.registry import AliasEvent
    from mlops_guard.settings import GuardSettings

__all__ = [
    "CANARY_FLOW_ACTOR",
    "CanaryReport",
    "StepResult",
    "canary_flow",
    "route_to_challenger",
    "run_canary",
]

CANARY_FLOW_ACTOR = "prefect:canary_flow"
Decision = Literal["promoted", "failed", "inconclusive"]
_log = logging.getLogger("mlops_guard.canary")
_TAG_PREFIX = "mlops_guard.canary."


def route_to_challenger(
    ids: Sequence[Any] | pd.Series, share: float, *, salt: str
) -> NDArray[np.bool_]:
    """True for the rows whose entity id hashes below ``share`` (deterministic, monotone in share).

    >>> route_to_challenger(["a", "b", "c", "d"], 0.5, salt="churn:v2").tolist()  # doctest: +SKIP
    [False, True, True, False]
    """
    import numpy as np
    import pandas as pd
    from pandas.util import hash_pandas_object

    if not 0 <= share <= 1:
        raise UsageError(f"share {share} is not between 0 and 1", hint="pass e.g. 0.1 for 10%")
    keys = pd.Series(ids).astype(str).radd(f"{salt}:")
    # SipHash with pandas' fixed key: the same id gives the same hash in every process.
    hashed = hash_pandas_object(keys, index=False).to_numpy(dtype=np.uint64)
    routed: NDArray[np.bool_] = (hashed / float(2**64)) < share
    return routed


@dataclass
class _Samples:
    """Per-version samples of one step, accumulated over its repeats."""

    latency_seconds: list[float] = field(default_factory=list)
    error: list[float] = field(default_factory=list)
    correct: list[float] = field(default_factory=list)
    score: list[float] = field(default_factory=list)

    def as_mapping(self) -> dict[str, list[float]]:
        found = {
            "latency_seconds": self.latency_seconds,
            "error": self.error,
            "score": self.score,
        }
        if self.correct:
            found["correct"] = self.correct
        return found


@dataclass(frozen=True)
class StepResult:
    """One judged attempt of a step."""

    step: int
    share: float
    attempt: int
    rows_champion: int
    rows_challenger: int
    verdict: CanaryVerdict


@dataclass(frozen=True)
class CanaryReport:
    """What the canary did: every judged step and the decision with its alias event."""

    model: str
    champion: str
    challenger: str
    decision: Decision
    steps: list[StepResult]
    event: AliasEvent | None = None
    predictions: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from mlops_guard._console import to_jsonable

        body: dict[str, Any] = to_jsonable(self)
        return body


def _load_model(settings: GuardSettings, model: str, version: str) -> Any:
    import mlflow
    import mlflow.sklearn

    uri = settings.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        # Pinned to the version read at the start: an alias moving mid-canary must not swap
        # the model under the measurement.
        return mlflow.sklearn.load_model(f"models:/{model}/{version}")
    except Exception as exc:
        raise RegistryError(
            f"version {version} of {model!r} could not be loaded ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]})",
            hint="the version must hold a scikit-learn model logged under the name 'model'",
        ) from exc


def _batches(data: Any, parts: int) -> Iterator[pd.DataFrame]:
    import pandas as pd

    from mlops_guard.data import read_table

    if isinstance(data, (str, Path)):
        data = read_table(data)
    if isinstance(data, pd.DataFrame):
        # One table: one consecutive slice per step.
        size = -(-len(data) // parts)
        for start in range(0, len(data), size):
            yield data.iloc[start : start + size]
        return
    for item in data:
        yield read_table(item) if isinstance(item, (str, Path)) else item


def _measure(
    parts: dict[str, tuple[Any, pd.DataFrame, _Samples]],
    config: CanarySettings,
    label: str | None,
) -> dict[str, NDArray[np.float64]]:
    """Score each version's rows in timed calls; append samples; return scores (NaN = error).

    Up to ``latency_calls`` calls of ``latency_batch_rows`` rows per version are timed, the
    versions' calls interleaved in proportion to their counts, so load on a shared host (other
    jobs, a garbage collection) falls on both sides alike instead of biasing latency toward
    whichever version was scored second. The remaining rows are scored in one untimed call.
    """
    import numpy as np

    from mlops_guard.data import FEATURES

    size = config.latency_batch_rows
    scores = {version: np.full(len(frame), np.nan) for version, (_m, frame, _s) in parts.items()}
    schedule: list[tuple[float, str, int, int]] = []
    for version, (_model, frame, _samples) in parts.items():
        timed = min(len(frame), size * config.latency_calls)
        starts = range(0, timed, size)
        schedule.extend((i / len(starts), version, start, size) for i, start in enumerate(starts))
        if timed < len(frame):
            # The rest in one untimed call (position 2: after every timed call).
            schedule.append((2.0, version, timed, len(frame) - timed))
    schedule.sort()
    for position, version, start, rows in schedule:
        model, frame, samples = parts[version]
        chunk = frame[list(FEATURES)].iloc[start : start + rows]
        began = time.perf_counter()
        try:
            out = np.asarray(model.predict_proba(chunk)[:, 1], dtype=float)
        except Exception as exc:  # noqa: BLE001 - a model error is a measurement, not a crash
            _log.debug("scoring failed: %s", exc)
            out = np.full(len(chunk), np.nan)
        if position <= 1:
            samples.latency_seconds.append((time.perf_counter() - began) / len(chunk))
        scores[version][start : start + len(chunk)] = out
    for version, (_model, frame, samples) in parts.items():
        got = scores[version]
        ok = np.isfinite(got)
        samples.error.extend((~ok).astype(float).tolist())
        samples.score.extend(got[ok].tolist())
        if label is not None:
            truth = frame[label].to_numpy()
            predicted = (got >= config.decision_threshold).astype(int)
            known = ok & ~frame[label].isna().to_numpy()
            samples.correct.extend((predicted[known] == truth[known]).astype(float).tolist())
    return scores


def _observe_scores(model: str, scores: dict[str, NDArray[np.float64]]) -> None:
    """Per-version prediction metrics of one batch; best-effort."""
    import numpy as np

    try:
        from mlops_guard.metrics import get_metrics

        metrics = get_metrics()
        for version, got in scores.items():
            if not got.size:
                continue
            labels = {"model": model, "model_version": version}
            ok = np.isfinite(got)
            metrics.predictions_total.labels(**labels).inc(int(ok.sum()))
            metrics.model_error_rate.labels(**labels).set(float(1 - ok.mean()))
            if ok.any():
                metrics.prediction_mean_score.labels(**labels).set(float(got[ok].mean()))
    except Exception as exc:  # noqa: BLE001 - observability never breaks the canary
        _log.warning("canary prediction metrics not updated (%s)", exc)


def _step_rows(step: StepResult) -> list[dict[str, Any]]:
    rows = []
    for m in step.verdict.metrics:
        rows.append(
            {
                "step": step.step,
                "share": step.share,
                "attempt": step.attempt,
                "verdict": step.verdict.verdict,
                "score": step.verdict.score,
                "metric": m.name,
                "outcome": m.outcome,
                "test": m.test,
                "champion": m.baseline_center,
                "challenger": m.canary_center,
                "effect": m.effect,
                "effect_low": m.effect_low,
                "effect_high": m.effect_high,
                "p_value": m.p_value,
                "statistic": m.statistic,
                "n_champion": m.baseline_n,
                "n_challenger": m.canary_n,
                "reason": m.reason,
            }
        )
    return rows


class _Recorder:
    """Run log, metrics, Prefect artifacts and version tags for each decision; best-effort."""

    def __init__(
        self, model: str, challenger: str, settings: GuardSettings, canary_id: str
    ) -> None:
        from mlops_guard.registry._client import RegistryClient

        self.model = model
        self.challenger = challenger
        self.settings = settings
        self.canary_id = canary_id
        self.client = RegistryClient(settings)

    def _tag(self, key: str, value: dict[str, Any]) -> None:
        try:
            self.client.set_version_tag(
                self.model,
                self.challenger,
                _TAG_PREFIX + key,
                json.dumps(value, separators=(",", ":"), default=str),
            )
        except GuardError as exc:
            from mlops_guard.metrics import get_metrics

            get_metrics().sink_failures_total.labels(sink="mlflow_tags").inc()
            _log.warning("canary tag %s not written (%s)", key, exc)

    def step(self, step: StepResult) -> None:
        from mlops_guard.metrics import get_metrics
        from mlops_guard.registry._flows import artifact_key, publish_table
        from mlops_guard.runlog import log_event

        verdict = step.verdict
        metrics = get_metrics()
        metrics.canary_judgements_total.labels(model=self.model, verdict=verdict.verdict).inc()
        if verdict.score is not None:
            metrics.canary_score.labels(model=self.model).set(verdict.score)
        summary = {
            "canary_id": self.canary_id,
            "step": step.step,
            "share": step.share,
            "attempt": step.attempt,
            "verdict": verdict.verdict,
            "score": verdict.score,
            "rows_champion": step.rows_champion,
            "rows_challenger": step.rows_challenger,
            "metrics": {m.name: m.outcome for m in verdict.metrics},
            "reasons": verdict.reasons,
        }
        log_event(
            "canary.step_judged",
            level="INFO" if verdict.verdict == "pass" else "WARNING",
            settings=self.settings,
            model=self.model,
            model_version=self.challenger,
            **summary,
        )
        publish_table(
            artifact_key(f"canary-step-{step.step}", self.model),
            _step_rows(step),
            f"Canary of {self.model} v{self.challenger}, step {step.step} "
            f"({step.share:.0%}, attempt {step.attempt}): {verdict.verdict}",
        )
        self._tag(f"step_{step.step}", summary)

    def decision(self, report: CanaryReport) -> None:
        from mlops_guard.metrics import MetricsSink, get_metrics
        from mlops_guard.registry._flows import artifact_key, publish_table
        from mlops_guard.runlog import log_event

        body = {
            "canary_id": self.canary_id,
            "decision": report.decision,
            "champion": report.champion,
            "challenger": report.challenger,
            "steps": [
                {"step": s.step, "attempt": s.attempt, "verdict": s.verdict.verdict}
                for s in report.steps
            ],
        }
        log_event(
            "canary.decided",
            level="INFO" if report.decision == "promoted" else "WARNING",
            settings=self.settings,
            model=self.model,
            model_version=self.challenger,
            **body,
        )
        rows = [row for step in report.steps for row in _step_rows(step)]
        publish_table(
            artifact_key("canary", self.model),
            rows or [{"decision": report.decision}],
            f"Canary of {self.model} v{self.challenger} against v{report.champion}: "
            f"{report.decision}",
        )
        self._tag("decision", body)
        # The judgements reach the textfile or Pushgateway only here: a canary alert rule
        # reads them there. The sink never raises.
        MetricsSink(self.settings, get_metrics()).flush(flow="canary")


@dataclass
class _Run:
    """The state one canary carries from step to step."""

    model: str
    champion: str
    challenger: str
    models: dict[str, Any]
    settings: GuardSettings
    config: CanarySettings
    judge_config: JudgeConfig
    recorder: _Recorder
    canary_id: str
    write_predictions: bool
    results: list[StepResult] = field(default_factory=list)
    written: list[str] = field(default_factory=list)

    def step(self, index: int, share: float, batches: Iterator[pd.DataFrame]) -> str:
        """Run one step (repeating it while inconclusive); returns its last verdict."""
        from mlops_guard.data import ID_COLUMN, LABEL

        per_version = {self.champion: _Samples(), self.challenger: _Samples()}
        rows = {self.champion: 0, self.challenger: 0}
        outcome = "inconclusive"
        for attempt in range(1, self.config.max_inconclusive_repeats + 2):
            batch = next(batches, None)
            if batch is None:
                break
            if ID_COLUMN not in batch.columns:
                raise SchemaError(
                    f"canary data lacks the entity id column {ID_COLUMN!r}",
                    hint="routing hashes the entity id; add the column",
                )
            routed = route_to_challenger(
                batch[ID_COLUMN], share, salt=f"{self.model}:{self.challenger}"
            )
            label = LABEL if LABEL in batch.columns else None
            parts = {
                self.champion: (
                    self.models[self.champion],
                    batch.loc[~routed],
                    per_version[self.champion],
                ),
                self.challenger: (
                    self.models[self.challenger],
                    batch.loc[routed],
                    per_version[self.challenger],
                ),
            }
            scores = _measure(parts, self.config, label)
            _observe_scores(self.model, scores)
            for version, (_model, part, _samples) in parts.items():
                rows[version] += len(part)
                if self.write_predictions and len(part):
                    self.written.append(
                        _write(
                            part,
                            scores[version],
                            model=self.model,
                            version=version,
                            batch_id=f"canary-{self.canary_id}-s{index}a{attempt}",
                            settings=self.settings,
                            config=self.config,
                        )
                    )
            verdict = judge(
                per_version[self.champion].as_mapping(),
                per_version[self.challenger].as_mapping(),
                config=self.judge_config,
            )
            result = StepResult(
                index, share, attempt, rows[self.champion], rows[self.challenger], verdict
            )
            self.results.append(result)
            self.recorder.step(result)
            outcome = verdict.verdict
            if outcome in {"pass", "fail"}:
                break
        return outcome


def run_canary(
    data: Any,
    *,
    model: str | None = None,
    steps: Sequence[float] | None = None,
    settings: GuardSettings | None = None,
    canary_settings: CanarySettings | None = None,
    judge_config: JudgeConfig | None = None,
    actor: str = CANARY_FLOW_ACTOR,
    write_predictions: bool = True,
) -> CanaryReport:
    """Run a canary of ``model``'s challenger against its champion on ``data``.

    ``data`` is a table (DataFrame or CSV/Parquet path), split into one slice per step, or a
    sequence of batches (DataFrames or paths) consumed in order, one per step attempt. Rows
    need the entity id column and the features; the label column, when present, adds
    labelled accuracy to the judgement. Returns the :class:`CanaryReport`; the alias move
    (promotion or challenger removal) has happened when it returns.

    Raises :class:`UsageError` when the model lacks a champion or challenger, registry errors
    as :func:`~mlops_guard.registry.promote` does.
    """
    from mlops_guard.registry import aliases, promote, remove_challenger
    from mlops_guard.runlog import bind
    from mlops_guard.settings import load_settings

    settings = settings or load_settings()
    config = canary_settings or (judge_config.settings if judge_config else CanarySettings())
    model = model or settings.model_name
    shares = list(steps) if steps is not None else list(config.steps)
    if not shares or any(not 0 < share < 1 for share in shares):
        raise UsageError(
            f"canary steps {shares} must be shares between 0 and 1",
            hint="pass e.g. steps=[0.1, 0.25, 0.5]",
        )
    found = aliases(model, settings)
    champion, challenger = found.get("champion"), found.get("challenger")
    if champion is None or challenger is None:
        missing = "champion" if champion is None else "challenger"
        raise UsageError(
            f"model {model!r} has no {missing}; a canary needs both aliases",
            hint="promote a champion and register a challenger (set_challenger) first",
        )
    canary_id = uuid.uuid4().hex[:12]
    run = _Run(
        model=model,
        champion=champion,
        challenger=challenger,
        models={
            champion: _load_model(settings, model, champion),
            challenger: _load_model(settings, model, challenger),
        },
        settings=settings,
        config=config,
        judge_config=judge_config or JudgeConfig(settings=config),
        recorder=_Recorder(model, challenger, settings, canary_id),
        canary_id=canary_id,
        write_predictions=write_predictions,
    )
    batches = _batches(data, len(shares))
    decision: Decision = "promoted"
    with bind(model=model, stage="canary"):
        for index, share in enumerate(shares, start=1):
            outcome = run.step(index, share, batches)
            if outcome != "pass":
                decision = "failed" if outcome == "fail" else "inconclusive"
                break
    event: AliasEvent | None = None
    if decision == "promoted":
        event = promote(
            model,
            challenger,
            reason=f"canary {canary_id} passed {len(shares)} steps",
            actor=actor,
            settings=settings,
            expected_champion=champion,
        )
    elif decision == "failed":
        last = run.results[-1]
        event = remove_challenger(
            model,
            reason=f"canary {canary_id} failed at step {last.step}: "
            f"{'; '.join(last.verdict.reasons) or 'score too low'}",
            actor=actor,
            settings=settings,
            expected_challenger=challenger,
        )
    report = CanaryReport(model, champion, challenger, decision, run.results, event, run.written)
    run.recorder.decision(report)
    return report


def _write(
    part: pd.DataFrame,
    scores: NDArray[np.float64],
    *,
    model: str,
    version: str,
    batch_id: str,
    settings: GuardSettings,
    config: CanarySettings,
) -> str:
    """Scored rows in the inference pipeline's format, as a canary split of their version: a
    place of their own, so the drift check never takes them for that version's batches."""
    from mlops_guard.data import add_scores, scored_batch_path, write_table

    out = add_scores(
        part, scores, version=version, batch_id=batch_id, threshold=config.decision_threshold
    )
    path = scored_batch_path(settings, model, version, batch_id, "canary")
    return str(write_table(out, path))


@flow(name="canary", log_prints=False, validate_parameters=False)
def canary_flow(
    model: str | None = None,
    data: Any = None,
    steps: list[float] | None = None,
) -> dict[str, Any]:
    """Prefect flow: canary of the challenger of ``model`` on ``data`` (see :func:`run_canary`).

    ``data``: a CSV/Parquet path, a list of paths (one batch per step attempt) or a DataFrame.
    Returns the report as a dict; the decision is ``promoted``, ``failed`` or ``inconclusive``.
    """
    if data is None:
        raise UsageError("canary_flow needs data", hint="pass data=PATH (or a list of paths)")
    return run_canary(data, model=model, steps=steps).to_dict()
