"""The canary rollout: route a share of rows to the challenger, step by step, judge each step,
then promote the challenger or remove it. Works for any registered model with a contract.

Both versions are loaded through their contracts (:func:`~mlops_guard.contract.load_predictor`);
the champion's contract names the features, the label and the id column, and a challenger whose
contract has another task, label or classes is refused (:class:`ContractError`): its outputs
could not be compared.

Routing is a deterministic hash of the contract's id column (salted with the model and the
challenger's version): an entity always meets the same version within a canary, and the rows
routed at 10% stay routed at 25% and 50%. A contract without an id column routes by the row's
position in the data instead (the report says so: an entity may then meet both versions). Each
step scores its batch with both versions and judges, with :func:`~mlops_guard.canary.judge`,
latency, errors and the prediction distribution, and on labelled rows the task's metrics
(:mod:`mlops_guard.canary._measure`, :mod:`mlops_guard.canary._labelled`). Without labels the
canary still judges outputs, latency and errors, and the report says labels were absent.

* pass at every step: the challenger is promoted (compare-and-set on the champion read at the
  start, so a rollback during the canary wins);
* fail at any step: the challenger alias is removed, the champion stays;
* inconclusive or marginal: the step is repeated on the next batch with the samples
  accumulated, up to ``max_inconclusive_repeats`` times; then the canary ends inconclusive and
  both aliases stay as they are.

Every step and the decision go to the run log (``canary.step_judged``, ``canary.decided``), a
Prefect table artifact and tags of the challenger's model version (``mlops_guard.canary.*``);
the judgements are flushed to the metrics sink at the decision.
"""

from __future__ import annotations

import json
import logging
import math
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_guard.canary._judge import CanaryVerdict, JudgeConfig, judge
from mlops_guard.canary._settings import CanarySettings
from mlops_guard.errors import (
    ContractError,
    DataNotFound,
    GuardError,
    RegistryError,
    SchemaError,
    UsageError,
)
from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    from mlops_guard.canary._measure import Scored, Side
    from mlops_guard.contract import ModelContract, Predictor
    from mlops_guard.registry import AliasEvent
    from mlops_guard.settings import GuardSettings

__all__ = [
    "CANARY_FLOW_ACTOR",
    "CanaryReport",
    "StepResult",
    "route_to_challenger",
    "run_canary",
]

CANARY_FLOW_ACTOR = "prefect:canary_flow"
Decision = Literal["promoted", "failed", "inconclusive"]
_log = logging.getLogger("mlops_guard.canary")
_TAG_PREFIX = "mlops_guard.canary."
_NO_LABELS = "labels absent: judged on the prediction distribution, latency and error rate only"
_ROW_ORDER = (
    "the contract names no id column: rows were routed by their position in the data, so an "
    "entity may meet both versions"
)


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


@dataclass(frozen=True)
class StepResult:
    """One judged attempt of a step."""

    step: int
    share: float
    attempt: int
    rows_champion: int
    rows_challenger: int
    verdict: CanaryVerdict


def _finite(value: Any) -> Any:
    """A number JSON can carry: NaN and infinities become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True)
class CanaryReport:
    """What the canary did: every judged step and the decision with its alias event.

    ``champion`` and ``challenger`` are the versions at the start; ``labels`` says whether any
    labelled row was judged; ``routed_by`` is the id column rows were routed by (None: by row
    order); ``notes`` say what the judgement could not use.
    """

    model: str
    champion: str
    challenger: str
    decision: Decision
    steps: list[StepResult]
    event: AliasEvent | None = None
    predictions: list[str] = field(default_factory=list)
    task: str = "binary"
    labels: bool = False
    routed_by: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def champion_after(self) -> str:
        """The champion once the decision was applied."""
        return self.challenger if self.decision == "promoted" else self.champion

    @property
    def challenger_after(self) -> str | None:
        """The challenger once the decision was applied (None: promoted or removed)."""
        return self.challenger if self.decision == "inconclusive" else None

    def to_dict(self) -> dict[str, Any]:
        """Everything, as JSON-ready data (the flow's return value)."""
        from mlops_guard._console import to_jsonable

        body: dict[str, Any] = to_jsonable(self)
        return body

    def to_json(self) -> dict[str, Any]:
        """The compact summary ``mlops-guard canary run --json`` prints."""
        last = self.steps[-1].verdict.reasons if self.steps else ["no step could be judged"]
        return {
            "model": self.model,
            "task": self.task,
            "verdict": self.decision,
            "champion": {"before": self.champion, "after": self.champion_after},
            "challenger": {"before": self.challenger, "after": self.challenger_after},
            "labels": self.labels,
            "routing": {
                "by": "row_order" if self.routed_by is None else "id_column",
                "column": self.routed_by,
            },
            "steps": [_step_json(step) for step in self.steps],
            "reasons": list(last),
            "notes": list(self.notes),
            "event": None
            if self.event is None
            else {
                "action": self.event.action,
                "from_version": self.event.from_version,
                "to_version": self.event.to_version,
            },
            "predictions": list(self.predictions),
        }


def _step_json(step: StepResult) -> dict[str, Any]:
    verdict = step.verdict
    return {
        "step": step.step,
        "share": step.share,
        "attempt": step.attempt,
        "verdict": verdict.verdict,
        "score": verdict.score,
        "rows_champion": step.rows_champion,
        "rows_challenger": step.rows_challenger,
        "reasons": list(verdict.reasons),
        "metrics": {
            m.name: {
                "outcome": m.outcome,
                "test": m.test,
                "critical": m.critical,
                "champion": _finite(m.baseline_center),
                "challenger": _finite(m.canary_center),
                "effect": _finite(m.effect),
                "effect_low": _finite(m.effect_low),
                "effect_high": _finite(m.effect_high),
                "p_value": _finite(m.p_value),
                "n_champion": m.baseline_n,
                "n_challenger": m.canary_n,
                "reason": m.reason,
            }
            for m in verdict.metrics
        },
    }


def _load(settings: GuardSettings, model: str, version: str) -> Predictor:
    from mlops_guard.contract import load_predictor

    try:
        # Pinned to the version read at the start: an alias moving mid-canary must not swap
        # the model under the measurement.
        return load_predictor(settings, model, version)
    except GuardError:
        raise
    except Exception as exc:
        raise RegistryError(
            f"version {version} of {model!r} could not be loaded ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]})",
            hint="the version must hold an MLflow model logged under the name 'model'",
        ) from exc


def _comparable(model: str, champion: Predictor, challenger: Predictor) -> None:
    """:class:`ContractError` unless both contracts have the same task, label and classes."""
    a, b = champion.contract, challenger.contract
    checks: list[tuple[str, object, object]] = [
        ("task", a.task, b.task),
        ("label", a.label, b.label),
        ("classes", sorted(a.classes or (), key=str), sorted(b.classes or (), key=str)),
        ("positive class", a.positive_class, b.positive_class),
    ]
    for what, ours, theirs in checks:
        if ours != theirs:
            raise ContractError(
                f"challenger v{challenger.version} of {model!r} has {what} {theirs!r} but "
                f"champion v{champion.version} has {ours!r}, so their outputs cannot be "
                "compared",
                hint="set as challenger a version trained for the champion's task, label and "
                "classes",
            )


def _check_paths(data: Any) -> None:
    """Every path given exists, before any step runs (a missing later batch would otherwise
    end the canary half-way)."""
    # A list or tuple is checked whole; another iterable is left unconsumed for the steps.
    items = list(data) if isinstance(data, (list, tuple)) else [data]
    for item in items:
        if isinstance(item, (str, Path)) and not Path(item).is_file():
            raise DataNotFound(
                f"canary data {str(item)!r} does not exist or is not a file",
                hint="pass a CSV or Parquet file (or a list of them, one per step attempt)",
            )


def _batches(data: Any, parts: int) -> Iterator[tuple[str, pd.DataFrame]]:
    """(source, rows) of each batch, each with a fresh index (rows are matched to their
    predictions by index)."""
    import pandas as pd

    from mlops_guard.data import read_table

    source = str(data) if isinstance(data, (str, Path)) else "the canary data"
    if isinstance(data, (str, Path)):
        data = read_table(data)
    if isinstance(data, pd.DataFrame):
        # One table: one consecutive slice per step.
        size = max(1, -(-len(data) // parts))
        for start in range(0, len(data), size):
            yield source, data.iloc[start : start + size].reset_index(drop=True)
        return
    for number, item in enumerate(data, start=1):
        if isinstance(item, (str, Path)):
            yield str(item), read_table(item).reset_index(drop=True)
        else:
            yield f"batch {number}", item.reset_index(drop=True)


def _observe(model: str, contract: ModelContract, scored: dict[str, Scored]) -> None:
    """Per-version prediction metrics of one batch; best-effort."""
    from mlops_guard.contract import SCORE_COLUMN

    try:
        from mlops_guard.metrics import get_metrics

        metrics = get_metrics()
        for version, found in scored.items():
            if not found.ok.size:
                continue
            labels = {"model": model, "model_version": version}
            metrics.predictions_total.labels(**labels).inc(int(found.ok.sum()))
            metrics.model_error_rate.labels(**labels).set(float(1 - found.ok.mean()))
            if contract.task == "binary" and SCORE_COLUMN in found.predictions and found.ok.any():
                values = found.predictions[SCORE_COLUMN][found.ok]
                if values.notna().any():
                    metrics.prediction_mean_score.labels(**labels).set(float(values.mean()))
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
        from mlops_guard._events import publish_table
        from mlops_guard.metrics import get_metrics
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
            f"canary-step-{step.step}-{self.model}",
            _step_rows(step),
            f"Canary of {self.model} v{self.challenger}, step {step.step} "
            f"({step.share:.0%}, attempt {step.attempt}): {verdict.verdict}",
        )
        self._tag(f"step_{step.step}", summary)

    def decision(self, report: CanaryReport) -> None:
        from mlops_guard._events import publish_table
        from mlops_guard.metrics import MetricsSink, get_metrics
        from mlops_guard.runlog import log_event

        body = {
            "canary_id": self.canary_id,
            "decision": report.decision,
            "champion": report.champion,
            "challenger": report.challenger,
            "task": report.task,
            "labels": report.labels,
            "routed_by": report.routed_by,
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
            f"canary-{self.model}",
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
    champion: Predictor
    challenger: Predictor
    settings: GuardSettings
    config: CanarySettings
    judge_config: JudgeConfig
    recorder: _Recorder
    canary_id: str
    write_predictions: bool
    results: list[StepResult] = field(default_factory=list)
    written: list[str] = field(default_factory=list)
    labelled_rows: int = 0
    # Rows seen so far: the routing key of a contract without an id column.
    position: int = 0

    @property
    def contract(self) -> ModelContract:
        return self.champion.contract

    def _check(self, batch: pd.DataFrame, source: str) -> None:
        """:class:`SchemaError` for a batch without the features (of either version) or the
        id column; :class:`ContractError` for labels outside the contract's classes."""
        self.contract.require_columns(batch, source=source, label=False)
        missing = [c for c in self.challenger.contract.feature_names if c not in batch.columns]
        if missing:
            raise SchemaError(
                f"{source!r} lacks column(s) {', '.join(map(repr, missing))} of challenger "
                f"v{self.challenger.version}'s contract",
                hint="pass data with the features of both versions",
            )
        label = self.contract.label
        if label in batch.columns and batch[label].notna().any():
            self.contract.check_labels(batch[label], source=source)

    def _route(self, batch: pd.DataFrame, share: float) -> NDArray[np.bool_]:
        import numpy as np

        column = self.contract.id_column
        keys: Any = (
            batch[column]
            if column is not None
            else np.arange(self.position, self.position + len(batch))
        )
        self.position += len(batch)
        return route_to_challenger(keys, share, salt=f"{self.model}:{self.challenger.version}")

    def step(self, index: int, share: float, batches: Iterator[tuple[str, pd.DataFrame]]) -> str:
        """Run one step (repeating it while inconclusive); returns its last verdict."""
        from mlops_guard.canary._labelled import judge_labelled
        from mlops_guard.canary._measure import Side, measure_step

        champion, challenger = self.champion.version, self.challenger.version
        sides = {champion: Side(self.champion), challenger: Side(self.challenger)}
        outcome = "inconclusive"
        for attempt in range(1, self.config.max_inconclusive_repeats + 2):
            found = next(batches, None)
            if found is None:
                break
            source, batch = found
            self._check(batch, source)
            routed = self._route(batch, share)
            parts = {
                champion: (sides[champion], batch.loc[~routed]),
                challenger: (sides[challenger], batch.loc[routed]),
            }
            before = len(sides[champion].labelled) + len(sides[challenger].labelled)
            scored = measure_step(parts, self.contract, self.config)
            after = len(sides[champion].labelled) + len(sides[challenger].labelled)
            self.labelled_rows += after - before
            _observe(self.model, self.contract, scored)
            if self.write_predictions:
                self._write(parts, scored, f"canary-{self.canary_id}-s{index}a{attempt}")
            verdict = judge(
                sides[champion].samples,
                sides[challenger].samples,
                config=self.judge_config,
                judged=judge_labelled(
                    self.contract,
                    sides[champion].labelled,
                    sides[challenger].labelled,
                    config=self.judge_config,
                    scores=self.champion.has_scores and self.challenger.has_scores,
                ),
            )
            result = StepResult(
                index, share, attempt, sides[champion].rows, sides[challenger].rows, verdict
            )
            self.results.append(result)
            self.recorder.step(result)
            outcome = verdict.verdict
            if outcome in {"pass", "fail"}:
                break
        return outcome

    def _write(
        self, parts: dict[str, tuple[Side, pd.DataFrame]], scored: dict[str, Scored], batch_id: str
    ) -> None:
        for version, (_side, part) in parts.items():
            if len(part):
                self.written.append(
                    _write(
                        part,
                        scored[version],
                        model=self.model,
                        version=version,
                        batch_id=batch_id,
                        settings=self.settings,
                    )
                )


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
    need the features of both versions' contracts and the champion contract's id column (when
    it names one); the label column, when present, adds the task's labelled metrics to the
    judgement. Returns the :class:`CanaryReport`; the alias move (promotion or challenger
    removal) has happened when it returns.

    Raises :class:`UsageError` when the model lacks a champion or challenger,
    :class:`ContractError` when a version has no contract or the two contracts differ in task,
    label or classes, :class:`DataNotFound` / :class:`SchemaError` for missing files or
    columns (before any alias moves), registry errors as
    :func:`~mlops_guard.registry.promote` does.
    """
    from mlops_guard.registry import aliases, promote, remove_challenger
    from mlops_guard.runlog import bind

    settings = resolve_settings(settings)
    config = canary_settings or (judge_config.settings if judge_config else CanarySettings())
    model = model or settings.model_name
    shares = list(steps) if steps is not None else list(config.steps)
    if not shares or any(not 0 < share < 1 for share in shares):
        raise UsageError(
            f"canary steps {shares} must be shares between 0 and 1",
            hint="pass e.g. steps=[0.1, 0.25, 0.5]",
        )
    _check_paths(data)
    found = aliases(model, settings)
    champion, challenger = found.get("champion"), found.get("challenger")
    if champion is None or challenger is None:
        missing = "champion" if champion is None else "challenger"
        raise UsageError(
            f"model {model!r} has no {missing}; a canary needs both aliases",
            hint="promote a champion and register a challenger (set_challenger) first",
        )
    champion_predictor = _load(settings, model, champion)
    challenger_predictor = _load(settings, model, challenger)
    _comparable(model, champion_predictor, challenger_predictor)
    canary_id = uuid.uuid4().hex[:12]
    run = _Run(
        model=model,
        champion=champion_predictor,
        challenger=challenger_predictor,
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
    contract = run.contract
    notes = ([] if run.labelled_rows else [_NO_LABELS]) + (
        [] if contract.id_column else [_ROW_ORDER]
    )
    report = CanaryReport(
        model,
        champion,
        challenger,
        decision,
        run.results,
        event,
        run.written,
        task=contract.task,
        labels=run.labelled_rows > 0,
        routed_by=contract.id_column,
        notes=notes,
    )
    run.recorder.decision(report)
    return report


def _write(
    part: pd.DataFrame,
    scored: Scored,
    *,
    model: str,
    version: str,
    batch_id: str,
    settings: GuardSettings,
) -> str:
    """The rows with the contract's prediction columns (empty where a row failed to score)
    and the bookkeeping columns, as a canary split of their version: a place of their own, so
    the drift check never takes them for that version's batches."""
    from mlops_guard.data import scored_batch_path, with_predictions, write_table

    out = with_predictions(part, scored.predictions, version=version, batch_id=batch_id)
    path = scored_batch_path(settings, model, version, batch_id, "canary")
    return str(write_table(out, path))
