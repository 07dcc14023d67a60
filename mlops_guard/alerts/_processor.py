"""Acting on stored alerts: a worker thread drains the inbox, with retries and backoff.

The processor claims one due ``pending`` row at a time, calls the action handler and records
the outcome. A handler signals:

* success by returning an :class:`ActionOutcome` (``done`` or ``skipped``);
* a transient failure by raising :class:`~mlops_guard.errors.RegistryUnavailable` or any
  non-mlops-guard exception: the row goes back
  to ``pending`` with an exponential backoff, and is marked ``failed`` after
  ``max_attempts`` (counted in ``mlops_guard_alert_actions_total{outcome="failed"}``);
* a permanent failure by raising any other :class:`~mlops_guard.errors.GuardError`
  (``ModelNotFound``, ``NothingToRollBack``, ...): ``failed`` at once.

Every alert is acted on at most once per incident even across crashes: the handlers pass an
incident key (fingerprint and start time) to the registry, whose rollback is idempotent per key,
so an action repeated after a crash between "acted" and "marked done" moves nothing.

Before draining, the worker runs the receiver's warm-up (imports, MLflow client, one registry
read), and repeats it after ``keepalive_seconds`` of quiet, so the first alert after a start or
after hours of silence costs what any other does. Each outcome is one line on the
``mlops_guard.alerts`` logger (``mlops-guard alerts serve`` prints them on stderr) and one
run-log event, both naming the rollback mode.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlops_guard.errors import AliasConflict, GuardError, RegistryUnavailable

if TYPE_CHECKING:
    from mlops_guard.alerts._settings import AlertsSettings
    from mlops_guard.alerts._store import AlertStore, StoredAlert, StoreResult
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.registry import AliasEvent
    from mlops_guard.settings import GuardSettings

__all__ = [
    "ActionHandler",
    "ActionOutcome",
    "AlertProcessor",
    "alert_reason",
    "incident_key",
    "registry_outcome",
    "registry_rollback_handler",
]

_log = logging.getLogger("mlops_guard.alerts")

# When nothing is due the worker still looks at the inbox this often, so a row written by
# another tool (or a clock jump) is not left waiting for the next webhook.
_IDLE_POLL_SECONDS = 1.0
_RETRYABLE: tuple[type[BaseException], ...] = (RegistryUnavailable,)


@dataclass(frozen=True)
class ActionOutcome:
    """What a handler did: ``done`` (acted) or ``skipped`` (acting would have been wrong)."""

    state: Literal["done", "skipped"]
    result: dict[str, Any] = field(default_factory=dict)
    note: str | None = None


ActionHandler = Callable[["StoredAlert"], ActionOutcome]
Warmup = Callable[[], object]
#: Called with an alert acted on and its stored outcome (the scoring server's reload hook).
AfterAction = Callable[["StoredAlert", ActionOutcome], None]


def incident_key(alert: StoredAlert) -> str:
    """The key the registry de-duplicates on: Alertmanager's fingerprint plus the start time.

    The fingerprint alone names a label set, which fires again in a later incident (the same
    version re-promoted after a fix); the start time tells the incidents apart.
    """
    return f"{alert.fingerprint}@{alert.starts_at}"


def alert_reason(alert: StoredAlert) -> str:
    """The reason recorded with an alert's rollback: the alert's name, start and summary."""
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    text = f"alert {alert.alertname or '?'} firing since {alert.starts_at}"
    return f"{text}: {summary}" if summary else text


class AlertProcessor:
    """Drains an :class:`AlertStore` on a daemon thread (or step by step with :meth:`run_once`)."""

    def __init__(
        self,
        store: AlertStore,
        handler: ActionHandler,
        *,
        settings: AlertsSettings,
        guard_settings: GuardSettings | None = None,
        metrics: GuardMetrics | None = None,
        warmup: Warmup | None = None,
        mode: str | None = None,
        after_action: AfterAction | None = None,
    ) -> None:
        """``warmup`` runs on the worker thread before the first alert and again after
        ``keepalive_seconds`` of quiet; ``mode`` (default: the settings' rollback mode) names
        the handler in log lines and run-log events; ``after_action`` is called with each
        alert acted on and its outcome once the outcome is stored (the scoring server's
        reload), and whatever it raises is counted, never the alert's failure."""
        from mlops_guard.metrics import get_metrics

        self.store = store
        self.handler = handler
        self.settings = settings
        self.guard_settings = guard_settings
        self.metrics = metrics or get_metrics()
        self.warmup = warmup
        self.mode = mode or settings.rollback_mode
        self.after_action = after_action
        self._warm = threading.Event()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # Lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Requeue what a crash left in flight, then start the worker thread."""
        requeued = self.store.requeue_in_flight()
        if requeued:
            self._log("alert.requeued", count=requeued)
        self.refresh_gauge()
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._run, name="mlops-guard-alert-processor", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Tell the worker new rows are in (called after each stored webhook)."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> bool:
        """Stop the worker; returns False if an action was still running after ``timeout``."""
        self._stopping.set()
        self._wake.set()
        if self._thread is None:
            return True
        self._thread.join(self.settings.shutdown_grace_seconds if timeout is None else timeout)
        alive = self._thread.is_alive()
        if not alive:
            self._thread = None
        return not alive

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Block until the first warm-up finished (True) or ``timeout`` passed (False)."""
        return self._warm.wait(timeout)

    def _run(self) -> None:
        # Warm before the first claim: an alert stored meanwhile waits for the imports either
        # way, and afterwards finds everything loaded.
        self._warm_up()
        self._warm.set()
        keepalive = self.settings.keepalive_seconds if self.warmup is not None else 0.0
        quiet_since = time.monotonic()
        while not self._stopping.is_set():
            try:
                if self.run_once() is not None:
                    quiet_since = time.monotonic()
                    continue
                due = self.store.next_due()
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one failure
                # The store failed (AlertError) or a bug: keep the thread, try again later;
                # the row stays in the inbox and /healthz still reports the processor alive.
                _log.error("alert processor: %s: %s", type(exc).__name__, exc)
                due = None
            wait = _IDLE_POLL_SECONDS if due is None else max(0.0, due - time.time())
            if keepalive > 0:
                if time.monotonic() - quiet_since >= keepalive:
                    self._warm_up()
                    quiet_since = time.monotonic()
                wait = min(wait, max(0.0, quiet_since + keepalive - time.monotonic()))
            self._wake.wait(min(wait, _IDLE_POLL_SECONDS))
            self._wake.clear()

    def _warm_up(self) -> None:
        if self.warmup is None:
            return
        try:
            self.warmup()
        except Exception as exc:  # noqa: BLE001 - a cold receiver is slower, not broken
            self.metrics.sink_failures_total.labels(sink="warmup").inc()
            _log.warning(
                "warm-up failed (%s: %s); alerts are still acted on", type(exc).__name__, exc
            )

    # One step -------------------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> StoredAlert | None:
        """Claim and act on one due alert; returns the row as it ended, or None if none was due."""
        alert = self.store.claim_next(now)
        if alert is None:
            return None
        self.refresh_gauge()
        try:
            with self._span(alert):
                outcome = self.handler(alert)
        except BaseException as exc:  # the outcome of every failure is recorded
            self._failed_attempt(alert, exc)
            if not isinstance(exc, Exception):
                raise
        else:
            if outcome.state == "done":
                self.store.mark_done(alert.id, outcome.result, outcome.note)
            else:
                self.store.mark_skipped(alert.id, outcome.note or "skipped by the handler")
            self._count(alert, outcome.state)
            self._say(logging.INFO, alert, outcome.state, outcome.result, note=outcome.note)
            self._log(
                f"alert.action.{outcome.state}",
                alert=alert,
                result=outcome.result,
                note=outcome.note,
            )
            self._after(alert, outcome)
        self.refresh_gauge()
        return self.store.get(alert.id)

    def _span(self, alert: StoredAlert) -> AbstractContextManager[None]:
        """A span around one attempt at an alert's action; the registry move it makes is a
        child span, so a trace shows the alert, the move and the host that made them."""
        from mlops_guard.traces._spans import guard_span

        return guard_span(
            "alert.action",
            settings=self.guard_settings,
            attributes={
                "mlops_guard.alertname": alert.alertname,
                "mlops_guard.alert_fingerprint": alert.fingerprint,
                "mlops_guard.alert_action": alert.action or "",
                "mlops_guard.model": alert.model or "",
                "mlops_guard.rollback_mode": self.mode,
                "mlops_guard.attempt": str(alert.attempts),
            },
        )

    def _failed_attempt(self, alert: StoredAlert, exc: BaseException) -> None:
        error = f"{type(exc).__name__}: {exc}"
        retryable = isinstance(exc, _RETRYABLE) or not isinstance(exc, GuardError)
        if retryable and alert.attempts < self.settings.max_attempts:
            delay = min(
                self.settings.backoff_initial_seconds * 2 ** (alert.attempts - 1),
                self.settings.backoff_max_seconds,
            )
            self.store.mark_retry(alert.id, error, time.time() + delay)
            self._count(alert, "retried")
            self._say(logging.WARNING, alert, "retry", error=error, retry_in=delay)
            self._log(
                "alert.action.retry", "WARNING", alert=alert, error=error, retry_in_seconds=delay
            )
            return
        self.store.mark_failed(alert.id, error)
        self._count(alert, "failed")
        self._say(logging.ERROR, alert, "failed", error=error)
        self._log("alert.action.failed", "ERROR", alert=alert, error=error, retryable=retryable)

    # Observability (best-effort: never breaks processing) -------------------------------------

    def _after(self, alert: StoredAlert, outcome: ActionOutcome) -> None:
        if self.after_action is None:
            return
        try:
            self.after_action(alert, outcome)
        except Exception as exc:  # noqa: BLE001 - the outcome is stored; telling others is extra
            self.metrics.sink_failures_total.labels(sink="after_action").inc()
            _log.warning("after %s: %s: %s", alert.alertname or "alert", type(exc).__name__, exc)

    def received(self, results: list[StoreResult]) -> None:
        """Record newly stored alerts (run log, pending gauge); called by the receiver after
        the commit. Re-deliveries are counted by the receiver only, not logged."""
        for result in results:
            if not result.duplicate:
                self._log(
                    "alert.received",
                    alert_id=result.id,
                    alert_fingerprint=result.fingerprint,
                    state=result.state,
                    note=result.note,
                )
        self.refresh_gauge()

    def refresh_gauge(self) -> None:
        try:
            self.metrics.alerts_pending.set(self.store.open_count())
        except GuardError:
            self.metrics.sink_failures_total.labels(sink="metrics").inc()

    def _say(
        self,
        level: int,
        alert: StoredAlert,
        outcome: str,
        result: dict[str, Any] | None = None,
        *,
        note: str | None = None,
        error: str | None = None,
        retry_in: float | None = None,
    ) -> None:
        """The one console line of an outcome: which alert, what happened, in which mode."""
        text = (
            f"alert {alert.alertname or '?'} model={alert.model or '-'} "
            f"model_version={alert.labels.get('model_version') or '-'} "
            f"fingerprint={alert.fingerprint} outcome={outcome} mode={self.mode}"
        )
        moved = _moved(result)
        if moved:
            text += f" moved {moved}"
        if retry_in is not None:
            text += f" retry_in={retry_in:g}s"
        if note:
            text += f": {note}"
        if error:
            text += f": {error}"
        _log.log(level, "%s", text)

    def _count(self, alert: StoredAlert, outcome: str) -> None:
        self.metrics.alert_actions_total.labels(
            action=alert.action or "none", outcome=outcome
        ).inc()

    def _log(
        self, event: str, level: str = "INFO", *, alert: StoredAlert | None = None, **fields: Any
    ) -> None:
        from mlops_guard.runlog import log_event

        fields["mode"] = self.mode
        if alert is not None:
            fields.update(
                alert_id=alert.id,
                alert_fingerprint=alert.fingerprint,
                alertname=alert.alertname,
                action=alert.action,
                model=alert.model,
                attempt=alert.attempts,
            )
        try:
            log_event(event, level, settings=self.guard_settings, stage="alerts", **fields)
        except Exception:  # noqa: BLE001 - observability never breaks the job
            self.metrics.sink_failures_total.labels(sink="runlog").inc()


# Handlers ---------------------------------------------------------------------------------------


def registry_rollback_handler(
    guard_settings: GuardSettings, settings: AlertsSettings
) -> ActionHandler:
    """Roll the alert's model back in this process with :func:`mlops_guard.registry.rollback`.

    The registry's rollback is idempotent per incident key, so an alert acted on before a crash
    returns the earlier move. With ``check_alert_version`` (default) an alert carrying a
    ``model_version`` label rolls back only while that version is the champion (compare-and-set
    in the registry): otherwise someone already moved the alias, and rolling back again would
    undo a promotion the alert knows nothing about; the alert is then ``skipped``.
    """

    def handle(alert: StoredAlert) -> ActionOutcome:
        from mlops_guard import registry

        assert alert.model is not None  # triage only queues rollbacks that name a model
        version = alert.labels.get("model_version") if settings.check_alert_version else None
        try:
            event = registry.rollback(
                alert.model,
                reason=alert_reason(alert),
                actor=settings.actor,
                alert_fingerprint=incident_key(alert),
                settings=guard_settings,
                expected_champion=version or None,
            )
        except AliasConflict as exc:
            return ActionOutcome("skipped", {"alert_version": version}, str(exc))
        return ActionOutcome("done", _event_dict(event))

    return handle


def registry_outcome(
    model: str, key: str, version: str | None, guard_settings: GuardSettings, *, final: bool
) -> ActionOutcome | None:
    """What the registry says about incident ``key``: ``done`` (a rollback carries the key),
    ``skipped`` (the champion moved away from ``version`` by another recorded move), or None
    (nothing yet). ``final`` also counts a move away from ``version`` that the alias history
    does not record (made outside mlops-guard) as ``skipped``."""
    from mlops_guard import registry

    # The champion first, the history second: a move recorded in between is then in the
    # history read, so one of our own is never mistaken for someone else's.
    champion = registry.get_champion(model, settings=guard_settings)
    events = registry.history(model, settings=guard_settings)
    for event in events:
        if event.action == "rollback" and event.alert_fingerprint == key:
            return ActionOutcome("done", event.to_dict())
    if version is None or champion == version:
        return None
    moves = [event for event in events if event.alias == "champion"]
    recorded: AliasEvent | None = moves[-1] if moves and moves[-1].to_version == champion else None
    # An unrecorded move may be a flow run between moving the alias and recording the move.
    if recorded is None and not final:
        return None
    by = f"{recorded.action} by {recorded.actor}" if recorded else "a move outside mlops-guard"
    return ActionOutcome(
        "skipped",
        {"alert_version": version, "champion": champion},
        f"champion of {model!r} is version {champion}, no longer {version} ({by}); "
        "this alert rolled nothing back",
    )


def outcome_after_run(
    alert: StoredAlert,
    key: str,
    version: str | None,
    guard_settings: GuardSettings | None,
    result: dict[str, Any],
) -> ActionOutcome:
    """The outcome of an orchestrator's rollback run that finished well: what the registry
    says of the incident, with the run's ``result``; ``done`` with the result alone when the
    registry cannot be read (the run succeeded, the read only reports on it)."""
    from mlops_guard.errors import GuardError

    if guard_settings is None or alert.model is None:
        return ActionOutcome("done", result)
    try:
        seen = registry_outcome(alert.model, key, version or None, guard_settings, final=True)
    except GuardError as exc:
        _log.warning("rollback of %s not read back from the registry: %s", alert.model, exc)
        return ActionOutcome("done", result)
    if seen is None:
        return ActionOutcome("done", result)
    return ActionOutcome(seen.state, {**result, **seen.result}, seen.note)


def _moved(result: dict[str, Any] | None) -> str | None:
    """``champion 2 -> 1`` from a result that carries an alias event, else None."""
    if not result or "to_version" not in result or "from_version" not in result:
        return None
    return f"{result.get('alias') or 'champion'} {result['from_version']} -> {result['to_version']}"


def _event_dict(event: object) -> dict[str, Any]:
    from mlops_guard._console import to_jsonable

    data = to_jsonable(event)
    return data if isinstance(data, dict) else {"event": data}
