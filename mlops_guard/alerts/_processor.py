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
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from mlops_guard.errors import AliasConflict, GuardError, RegistryUnavailable

if TYPE_CHECKING:
    from mlops_guard.alerts._settings import AlertsSettings
    from mlops_guard.alerts._store import AlertStore, StoredAlert, StoreResult
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.settings import GuardSettings

__all__ = [
    "ROLLBACK_EVENT",
    "ActionHandler",
    "ActionOutcome",
    "AlertProcessor",
    "deployment_rollback_handler",
    "event_rollback_handler",
    "incident_key",
    "registry_rollback_handler",
    "rollback_event",
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


def incident_key(alert: StoredAlert) -> str:
    """The key the registry de-duplicates on: Alertmanager's fingerprint plus the start time.

    The fingerprint alone names a label set, which fires again in a later incident (the same
    version re-promoted after a fix); the start time tells the incidents apart.
    """
    return f"{alert.fingerprint}@{alert.starts_at}"


def _reason(alert: StoredAlert) -> str:
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
    ) -> None:
        from mlops_guard.metrics import get_metrics

        self.store = store
        self.handler = handler
        self.settings = settings
        self.guard_settings = guard_settings
        self.metrics = metrics or get_metrics()
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

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                if self.run_once() is not None:
                    continue
                due = self.store.next_due()
            except Exception as exc:  # noqa: BLE001 - the worker must outlive any one failure
                # The store failed (AlertError) or a bug: keep the thread, try again later;
                # the row stays in the inbox and /healthz still reports the processor alive.
                _log.error("alert processor: %s: %s", type(exc).__name__, exc)
                due = None
            wait = _IDLE_POLL_SECONDS if due is None else max(0.0, due - time.time())
            self._wake.wait(min(wait, _IDLE_POLL_SECONDS))
            self._wake.clear()

    # One step -------------------------------------------------------------------------------

    def run_once(self, now: float | None = None) -> StoredAlert | None:
        """Claim and act on one due alert; returns the row as it ended, or None if none was due."""
        alert = self.store.claim_next(now)
        if alert is None:
            return None
        self.refresh_gauge()
        try:
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
            self._log(
                f"alert.action.{outcome.state}",
                alert=alert,
                result=outcome.result,
                note=outcome.note,
            )
        self.refresh_gauge()
        return self.store.get(alert.id)

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
            self._log(
                "alert.action.retry", "WARNING", alert=alert, error=error, retry_in_seconds=delay
            )
            return
        self.store.mark_failed(alert.id, error)
        self._count(alert, "failed")
        self._log("alert.action.failed", "ERROR", alert=alert, error=error, retryable=retryable)

    # Observability (best-effort: never breaks processing) -------------------------------------

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

    def _count(self, alert: StoredAlert, outcome: str) -> None:
        self.metrics.alert_actions_total.labels(
            action=alert.action or "none", outcome=outcome
        ).inc()

    def _log(
        self, event: str, level: str = "INFO", *, alert: StoredAlert | None = None, **fields: Any
    ) -> None:
        from mlops_guard.runlog import log_event

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
                reason=_reason(alert),
                actor=settings.actor,
                alert_fingerprint=incident_key(alert),
                settings=guard_settings,
                expected_champion=version or None,
            )
        except AliasConflict as exc:
            return ActionOutcome("skipped", {"alert_version": version}, str(exc))
        return ActionOutcome("done", _event_dict(event))

    return handle


def deployment_rollback_handler(settings: AlertsSettings) -> ActionHandler:
    """Run the rollback deployment through the Prefect API and wait for the flow run to finish.

    Each attempt is a new flow run (the idempotency key carries the attempt number, so a failed
    run is not returned again); the flow's rollback is idempotent per incident key.
    """

    def handle(alert: StoredAlert) -> ActionOutcome:
        from prefect.deployments import run_deployment

        key = incident_key(alert)
        version = alert.labels.get("model_version") if settings.check_alert_version else None
        try:
            # Called from a plain thread, run_deployment runs synchronously (not a coroutine).
            flow_run: Any = run_deployment(
                name=settings.rollback_deployment,
                parameters={
                    "model": alert.model,
                    "reason": _reason(alert),
                    "alert_fingerprint": key,
                    # Compare-and-set, as in-process: no move when the champion changed since.
                    "expected_champion": version or None,
                },
                timeout=settings.deployment_timeout_seconds,
                poll_interval=1,
                idempotency_key=f"mlops-guard-alert:{key}#{alert.attempts}",
                tags=["mlops-guard", "alert"],
                as_subflow=False,
            )
        except Exception as exc:
            raise RegistryUnavailable(
                f"rollback deployment {settings.rollback_deployment!r} could not be run: {exc}",
                hint="check PREFECT_API_URL and that the deployment exists (prefect deploy --all)",
            ) from exc
        state = flow_run.state
        result = {
            "flow_run_id": str(flow_run.id),
            "state": state.type.value if state is not None else None,
        }
        if state is None or not state.is_completed():
            raise RegistryUnavailable(
                f"rollback flow run {flow_run.id} ended {result['state']}",
                hint="see the flow run's logs in Prefect; the receiver retries",
            )
        return ActionOutcome("done", result)

    return handle


ROLLBACK_EVENT = "mlops_guard.alert.rollback"


def rollback_event(alert: StoredAlert) -> dict[str, Any]:
    """The Prefect event that asks for a rollback (the trigger in deployments/prefect.yaml
    listens for it): resource ``mlops_guard.model.<model>``, payload reason and incident key."""
    import uuid

    key = incident_key(alert)
    return {
        "event": ROLLBACK_EVENT,
        "resource": {
            "prefect.resource.id": f"mlops_guard.model.{alert.model}",
            "prefect.resource.name": str(alert.model),
            "mlops_guard.model": str(alert.model),
        },
        "payload": {
            "reason": _reason(alert),
            "alert_fingerprint": key,
            "alertname": alert.alertname,
            "model_version": alert.labels.get("model_version"),
        },
        # Deterministic: the same incident is the same event, whoever sends it again.
        "id": uuid.uuid5(uuid.NAMESPACE_URL, f"mlops-guard-alert:{key}"),
    }


def event_rollback_handler() -> ActionHandler:
    """Emit ``mlops_guard.alert.rollback`` to Prefect; the rollback deployment's trigger runs
    the flow (idempotent per incident key). Fire-and-forget: ``done`` means the event was
    handed to Prefect's events client, and the flow run records the move; use the
    ``deployment`` mode to wait for the outcome.
    """

    def handle(alert: StoredAlert) -> ActionOutcome:
        from prefect.events import emit_event

        spec = rollback_event(alert)
        try:
            sent = emit_event(**spec)
        except Exception as exc:
            raise RegistryUnavailable(
                f"event {ROLLBACK_EVENT} not sent to Prefect: {exc}",
                hint="check PREFECT_API_URL; the receiver retries",
            ) from exc
        if sent is None:
            raise RegistryUnavailable(
                f"event {ROLLBACK_EVENT} not sent: no Prefect API is configured",
                hint="set PREFECT_API_URL, or use MLOPS_GUARD_ALERTS_ROLLBACK_MODE=in_process",
            )
        return ActionOutcome(
            "done",
            {"event_id": str(sent.id), "event": ROLLBACK_EVENT},
            "event emitted; the rollback deployment's trigger runs the flow",
        )

    return handle


def _event_dict(event: object) -> dict[str, Any]:
    from mlops_guard._console import to_jsonable

    data = to_jsonable(event)
    return data if isinstance(data, dict) else {"event": data}
