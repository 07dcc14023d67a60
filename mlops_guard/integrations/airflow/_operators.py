"""Operators for the checks: each calls mlops-guard's Python API, pushes its typed result to XCom
(the return value, as JSON-ready data) and fails its task the way the CLI's exit code would.

* a check that found a problem (CLI exit 1: validation, drift, degraded quality, a canary that
  did not promote) fails the task with the reason in the message, and its result is still
  pushed, under the XCom key ``mlops_guard_result``;
* bad input (exit 2: a missing file, an unknown suite or model) fails the task without retries
  (``AirflowFailException``): the same input will fail the same way;
* a service that did not answer (exit 3: MLflow down) fails the attempt (``AirflowException``),
  so the task's retries apply.

Settings come from the worker's environment (``MLOPS_GUARD_*``), as for the CLI. Every path,
model, version and reason is a template field (``"{{ params.model }}"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException

if TYPE_CHECKING:
    from mlops_guard.errors import GuardError
    from mlops_guard.settings import GuardSettings

__all__ = [
    "RESULT_KEY",
    "CanaryOperator",
    "DriftCheckOperator",
    "GuardOperator",
    "PromoteOperator",
    "QualityCheckOperator",
    "RollbackOperator",
    "ScoreOperator",
    "TrainOperator",
    "ValidateOperator",
]

#: XCom key of a failed check's result (a task that fails pushes no return value).
RESULT_KEY = "mlops_guard_result"


def _jsonable(value: Any) -> Any:
    from mlops_guard._console import to_jsonable

    return to_jsonable(value)


def _actor(context: Any) -> str:
    ti = context["ti"]
    return f"airflow:{ti.dag_id}.{ti.task_id}"


class GuardOperator(BaseOperator):  # type: ignore[misc]
    """The shared shape: ``check(context)`` returns the JSON result; a :class:`GuardError`
    becomes the task failure its exit code stands for."""

    ui_color = "#e8f4ea"

    def execute(self, context: Any) -> Any:
        from mlops_guard.errors import GuardError

        try:
            return _jsonable(self.check(context))
        except GuardError as exc:
            self._fail(exc)

    def check(self, context: Any) -> Any:
        raise NotImplementedError

    def settings(self) -> GuardSettings:
        from mlops_guard.settings import resolve_settings

        return resolve_settings(None)

    def failed_check(self, context: Any, result: Any, reason: str) -> NoReturn:
        """Push ``result`` under :data:`RESULT_KEY` and fail the task with ``reason`` (the
        check ran and found a problem: exit 1)."""
        context["ti"].xcom_push(key=RESULT_KEY, value=_jsonable(result))
        raise AirflowFailException(reason)

    @staticmethod
    def _fail(exc: GuardError) -> NoReturn:
        if exc.exit_code == 3:  # the service may be back on the next try
            raise AirflowException(str(exc)) from exc
        raise AirflowFailException(str(exc)) from exc


class ValidateOperator(GuardOperator):
    """Validate a data file against an expectation suite; quarantine what fails.

    ``policy="quarantine_rows"`` (default): failing rows go to the quarantine with their
    reasons, the passing rows to ``passed_path`` (when given); the task fails only when no row
    passed. ``policy="fail"``: a failed batch is quarantined whole and the task fails. The
    result is :meth:`GateResult.to_json` plus ``passed_path``.
    """

    template_fields: Sequence[str] = ("data", "suite", "passed_path")

    def __init__(
        self,
        *,
        data: str,
        suite: str,
        policy: str = "quarantine_rows",
        passed_path: str | None = None,
        optional_columns: Sequence[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.suite = suite
        self.policy = policy
        self.passed_path = passed_path
        self.optional_columns = list(optional_columns)

    def check(self, context: Any) -> Any:
        from mlops_guard.data import read_table, write_table
        from mlops_guard.errors import BatchRejected
        from mlops_guard.validation import gate

        df = read_table(self.data)
        try:
            gated = gate(
                df,
                suite=self.suite,
                policy=self.policy,  # type: ignore[arg-type]
                flow=str(context["ti"].dag_id),
                source=str(self.data),
                settings=self.settings(),
                optional_columns=self.optional_columns,
            )
        except BatchRejected as exc:
            self.failed_check(context, exc.result, str(exc))
        body = {**gated.to_json(), "passed_path": None}
        if self.passed_path is not None:
            write_table(gated.passed, self.passed_path)
            body["passed_path"] = str(self.passed_path)
        if gated.rows_passed == 0 and gated.result.rows > 0:
            self.failed_check(
                context,
                body,
                f"no row of {self.data!r} passed suite {gated.result.suite!r}: "
                + ", ".join(o.label for o in gated.result.failed[:3])
                + f"; all {gated.rows_quarantined} rows are in {gated.quarantined}",
            )
        return body


class DriftCheckOperator(GuardOperator):
    """Drift of ``current`` against ``reference`` (a data file or a profile), or, without
    them, the scheduled check: the latest scored batches of ``model`` against its champion's
    reference profile (with ``html``, Evidently's report attached to the champion's MLflow
    run). With ``fail_on_drift`` (default) dataset drift fails the task."""

    template_fields: Sequence[str] = ("reference", "current", "model")

    def __init__(
        self,
        *,
        reference: str | None = None,
        current: str | None = None,
        model: str | None = None,
        batches: int | None = None,
        fail_on_drift: bool = True,
        html: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if (reference is None) != (current is None):
            raise ValueError("pass both reference and current, or neither (the scheduled check)")
        self.reference = reference
        self.current = current
        self.model = model
        self.batches = batches
        self.fail_on_drift = fail_on_drift
        self.html = html

    def check(self, context: Any) -> Any:
        if self.reference is not None and self.current is not None:
            from mlops_guard.data import read_table
            from mlops_guard.drift import load_profile
            from mlops_guard.drift._engine import DriftConfig, detect_drift
            from mlops_guard.drift._settings import DriftSettings

            reference: Any = (
                load_profile(self.reference)
                if self.reference.lower().endswith(".json")
                else read_table(self.reference)
            )
            report = detect_drift(
                reference, read_table(self.current), config=DriftConfig(settings=DriftSettings())
            )
            body, drifted, share = report.to_json(), report.dataset_drift, report
        else:
            from mlops_guard.drift import check_champion_drift

            result = check_champion_drift(
                self.model or None, self.batches, html=self.html, settings=self.settings()
            )
            body, drifted, share = result.to_json(), result.dataset_drift, result.report
        if drifted and self.fail_on_drift:
            self.failed_check(
                context,
                body,
                f"dataset drift: {share.drift_share:.2f} of the columns drifted "
                f"(threshold {share.share_threshold:.2f}): {', '.join(share.drifted_columns)}",
            )
        return body


class QualityCheckOperator(GuardOperator):
    """Labelled quality of ``data`` against the reference quality of ``model`` (its champion,
    or ``version``); with ``fail_on_degradation`` (default) a degradation fails the task."""

    template_fields: Sequence[str] = ("model", "data", "version")

    def __init__(
        self,
        *,
        model: str,
        data: str,
        version: str | None = None,
        fail_on_degradation: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.data = data
        self.version = version
        self.fail_on_degradation = fail_on_degradation

    def check(self, context: Any) -> Any:
        from mlops_guard.quality import check_quality

        check = check_quality(
            self.model, self.data, version=self.version or None, settings=self.settings()
        )
        body = check.to_json()
        if check.degraded and self.fail_on_degradation:
            self.failed_check(
                context,
                body,
                f"quality of {self.model} v{check.version} degraded: "
                + ", ".join(check.comparison.degraded_metrics),
            )
        return body


class ScoreOperator(GuardOperator):
    """Batch inference of ``data`` with the champion (rows that break the contract are
    quarantined); the result is the :class:`ScoringResult`."""

    template_fields: Sequence[str] = ("data", "model", "batch_id")

    def __init__(
        self,
        *,
        data: str,
        model: str | None = None,
        batch_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.model = model
        self.batch_id = batch_id

    def check(self, context: Any) -> Any:
        from mlops_guard.pipelines import run_inference

        return run_inference(
            self.data,
            model=self.model or None,
            batch_id=self.batch_id or None,
            settings=self.settings(),
        )


class TrainOperator(GuardOperator):
    """Train on ``data`` (validated first) and register a version with lineage tags; the
    result is the :class:`TrainingResult`. ``trainer`` (``pkg.mod:fn``) trains your own
    model, described by ``label`` and ``task``."""

    # Kept as label_column and model_task: BaseOperator's own `label` and `task_type` are taken.
    template_fields: Sequence[str] = ("data", "model", "trainer", "label_column")

    def __init__(
        self,
        *,
        data: str,
        model: str | None = None,
        trainer: str | None = None,
        label: str | None = None,
        task: str | None = None,
        id_column: str | None = None,
        timestamp_column: str | None = None,
        features: Sequence[str] | None = None,
        seed: int = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.data = data
        self.model = model
        self.trainer = trainer
        self.label_column = label
        self.model_task = task
        self.id_column = id_column
        self.timestamp_column = timestamp_column
        self.features = None if features is None else list(features)
        self.seed = seed

    def check(self, context: Any) -> Any:
        from mlops_guard.pipelines import run_training

        return run_training(
            self.data,
            model=self.model or None,
            settings=self.settings(),
            trainer=self.trainer,
            label=self.label_column,
            task=self.model_task,
            id_column=self.id_column,
            timestamp_column=self.timestamp_column,
            features=self.features,
            seed=self.seed,
        )


class CanaryOperator(GuardOperator):
    """Canary ``model``'s challenger against its champion on ``data`` (a path, or several, one
    per step attempt); promoted: the task succeeds; failed or inconclusive: it fails with the
    last step's reasons (the aliases as the canary left them)."""

    template_fields: Sequence[str] = ("model", "data")

    def __init__(self, *, model: str, data: str | Sequence[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.data = data

    def check(self, context: Any) -> Any:
        from mlops_guard.canary import run_canary
        from mlops_guard.canary._settings import CanarySettings

        data = self.data if isinstance(self.data, str) else list(self.data)
        report = run_canary(
            data,
            model=self.model,
            settings=self.settings(),
            canary_settings=CanarySettings(),
            actor=_actor(context),
        )
        body = report.to_json()
        if report.decision != "promoted":
            self.failed_check(
                context,
                body,
                f"canary of {self.model} {report.decision}: "
                + ("; ".join(body["reasons"]) or "no step passed"),
            )
        return body


class PromoteOperator(GuardOperator):
    """Move ``model``'s champion alias to ``version`` (recorded with the reason and the task
    as the actor); the result is the alias event."""

    template_fields: Sequence[str] = ("model", "version", "reason")

    def __init__(self, *, model: str, version: str, reason: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.version = version
        self.reason = reason

    def check(self, context: Any) -> Any:
        from mlops_guard.registry import promote

        event = promote(
            self.model,
            str(self.version),
            reason=self.reason,
            actor=_actor(context),
            settings=self.settings(),
        )
        return event.to_dict()


class RollbackOperator(GuardOperator):
    """Roll ``model``'s champion back one promotion (or to ``to_version``); idempotent per
    ``alert_fingerprint``. ``expected_champion`` (the version an alert was about) makes it a
    compare-and-set: when the champion is no longer that version, nothing moves.

    The result is ``{"status": ..., "event": {...}}``, as the Prefect rollback flow's:
    ``rolled_back``, ``duplicate`` (this alert was handled before), ``already_rolled_back``
    or ``skipped`` (the champion moved meanwhile; the event is its latest move).
    """

    template_fields: Sequence[str] = (
        "model",
        "reason",
        "to_version",
        "alert_fingerprint",
        "expected_champion",
    )

    def __init__(
        self,
        *,
        model: str,
        reason: str,
        to_version: str | None = None,
        alert_fingerprint: str | None = None,
        expected_champion: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.model = model
        self.reason = reason
        self.to_version = to_version
        self.alert_fingerprint = alert_fingerprint
        self.expected_champion = expected_champion

    def check(self, context: Any) -> Any:
        from mlops_guard.errors import AliasConflict
        from mlops_guard.registry import history, rollback

        settings = self.settings()
        # Rendered params of a run triggered without them are "" or "None".
        fingerprint = _given(self.alert_fingerprint)
        expected = _given(self.expected_champion)
        handled_before = fingerprint is not None and any(
            event.alert_fingerprint == fingerprint
            for event in history(self.model, settings=settings)
        )
        status = "duplicate" if handled_before else "rolled_back"
        try:
            event = rollback(
                self.model,
                reason=self.reason,
                actor=_actor(context),
                to_version=_given(self.to_version),
                alert_fingerprint=fingerprint,
                settings=settings,
                expected_champion=expected,
            )
        except AliasConflict:
            status = "skipped" if expected else "already_rolled_back"
            moves = [e for e in history(self.model, settings=settings) if e.alias == "champion"]
            if not moves:
                raise
            event = moves[-1]
        return {"status": status, "event": event.to_dict()}


def _given(value: str | None) -> str | None:
    return None if value is None or str(value).strip() in ("", "None") else str(value)
