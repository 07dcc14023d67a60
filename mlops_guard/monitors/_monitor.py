"""The checkpoint timing monitor: heartbeats, timed saves and a watchdog thread.

The training thread only records timestamps (``step()`` appends one float to a deque); every
statistic, limit, metric and sink runs on the watchdog thread, so the loop pays well under
20 microseconds per step. Detection takes at most the limit in force plus one watchdog period.
"""

from __future__ import annotations

import contextvars
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal

from mlops_guard.errors import MonitorError
from mlops_guard.monitors._alerts import AlertKind, MonitorAlert, emit_alert, median_of, now_rfc3339
from mlops_guard.monitors._settings import MonitorSettings, load_monitor_settings
from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.monitors._stragglers import StragglerReporter
    from mlops_guard.settings import GuardSettings

__all__ = [
    "CheckpointMonitor",
    "MonitorStatus",
    "SaveTimer",
    "StallReason",
]

_log = logging.getLogger("mlops_guard.monitors")
_clock = time.perf_counter
# Step intervals buffered between two watchdog ticks. Only a watchdog starved for this many
# steps (a sink or callback hanging) reaches it; then the oldest intervals are dropped rather
# than memory growing without bound. Step counts stay exact.
_PENDING_MAX = 1 << 16

StallReason = Literal["heartbeat", "save", "checkpoint"]
_State = Literal["new", "running", "stopped"]


@dataclass(frozen=True, slots=True)
class MonitorStatus:
    """A typed snapshot of a :class:`CheckpointMonitor` (see :meth:`CheckpointMonitor.status`).

    Durations are seconds; percentiles use the nearest-rank method over the recent window and
    leave warm-up out; ``None`` means not enough data yet. ``save_share`` is the share of wall
    time spent saving: the idle share the accelerators suffer.
    """

    job: str
    model: str
    state: str
    stalled: bool
    stall_reasons: tuple[str, ...]
    slow_save: bool
    saving: bool
    steps: int
    checkpoints: int
    stalls: int
    slow_saves: int
    wall_seconds: float
    last_heartbeat_age_s: float | None
    last_checkpoint_age_s: float | None
    last_checkpoint_step: int | None
    step_seconds_p50: float | None
    step_seconds_p99: float | None
    save_seconds_p50: float | None
    save_seconds_p99: float | None
    last_save_seconds: float | None
    checkpoint_interval_p50: float | None
    save_seconds_total: float
    save_share: float
    save_bytes_total: int
    heartbeat_limit_s: float | None
    alerts: tuple[MonitorAlert, ...] = field(default_factory=tuple)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MonitorStatus:
        """Rebuild a snapshot from :meth:`to_dict` output (a ``monitor/summary.json``).

        Raises ``KeyError``/``TypeError`` on a document of another shape; callers wrap them.
        """
        values = {name: data[name] for name in cls.__dataclass_fields__ if name != "alerts"}
        values["stall_reasons"] = tuple(values["stall_reasons"])
        alerts = []
        for item in data.get("alerts", []):
            fields = {
                name: item[name] for name in MonitorAlert.__dataclass_fields__ if name in item
            }
            fields["reasons"] = tuple(fields.get("reasons", ()))
            alerts.append(MonitorAlert(**fields))
        return cls(**values, alerts=tuple(alerts))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``monitor/summary.json`` artifact)."""
        data = {name: getattr(self, name) for name in self.__dataclass_fields__}
        data["stall_reasons"] = list(self.stall_reasons)
        data["alerts"] = [alert.to_dict() for alert in self.alerts]
        return data


def _percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list (None when empty)."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without importing math
    return ordered[min(len(ordered), int(rank)) - 1]


class SaveTimer:
    """Times one checkpoint save; returned by :meth:`CheckpointMonitor.checkpoint`.

    Set ``nbytes`` inside the block when the size is only known after writing::

        with mon.checkpoint(step) as save:
            torch.save(state, path)
            save.nbytes = path.stat().st_size
    """

    __slots__ = ("_monitor", "nbytes", "seconds", "step")

    def __init__(self, monitor: CheckpointMonitor, step: int | None, nbytes: int | None) -> None:
        self._monitor = monitor
        self.step = step
        self.nbytes = nbytes
        self.seconds: float | None = None

    def __enter__(self) -> SaveTimer:
        self._monitor._begin_save(self.step)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.seconds = self._monitor._end_save(nbytes=self.nbytes, ok=exc_type is None)


class CheckpointMonitor:
    """Watches a training loop: stalls, slow checkpoint saves, time spent saving.

    Framework-agnostic: call :meth:`step` once per training step and wrap each save in
    :meth:`checkpoint`. A watchdog thread (started by ``with mon:``) declares a stall when no
    heartbeat arrives within ``stall_factor`` times the median step interval (or
    ``stall_timeout_seconds``), when a save runs past ``save_stall_factor`` median saves, or when
    no checkpoint completes within ``checkpoint_stall_factor`` median checkpoint intervals; it
    clears the stall when progress resumes. Time spent inside a save does not count as a missing
    heartbeat. The first ``warmup_steps`` intervals do not count, and no median-based limit goes
    below ``min_limit_seconds`` (sub-second gaps are GC pauses, not stalls).

    Signals: the ``mlops_guard_*`` training metrics, run-log events ``training.stalled``,
    ``training.recovered`` and ``training.slow_save``, Prefect events
    ``mlops_guard.training.stalled`` / ``.recovered`` (when a Prefect API is configured), and
    ``on_alert``. Sinks are best-effort: a failure is counted, never raised into the loop.

    Example::

        mon = CheckpointMonitor(job="train", model="churn")
        with mon:
            for step, batch in enumerate(data):
                train_step(batch)
                mon.step()
                if step % 100 == 0:
                    with mon.checkpoint(step, nbytes=None):
                        save_checkpoint(path)
        mlflow.log_metrics(mon.summary())

    Thresholds come from :class:`MonitorSettings` (``MLOPS_GUARD_MONITORS_*``); keyword
    arguments override them, e.g. ``CheckpointMonitor(job="t", stall_factor=3)``.
    One training thread calls ``step()``; the monitor is single-use.
    """

    def __init__(
        self,
        job: str = "train",
        model: str | None = None,
        *,
        settings: MonitorSettings | None = None,
        guard_settings: GuardSettings | None = None,
        metrics: GuardMetrics | None = None,
        on_alert: Callable[[MonitorAlert], None] | None = None,
        worker: str | None = None,
        **thresholds: Any,
    ) -> None:
        if not job:
            raise MonitorError("job name is empty", hint="pass job='train' (a short, fixed name)")
        from mlops_guard.metrics import get_metrics

        self.settings = load_monitor_settings(settings, **thresholds)
        self.guard_settings = resolve_settings(guard_settings)
        self.job = job
        self.model = model or self.guard_settings.model_name
        self.metrics = metrics or get_metrics()
        self.on_alert = on_alert
        self.worker = worker or self.settings.worker or os.environ.get("RANK") or str(os.getpid())

        s = self.settings
        # Positional label values (training job, model): they stay right if metrics.py renames
        # the `job` label, which collides with Prometheus' own target label.
        labels = (self.job, self.model)
        self._m_step = self.metrics.step_seconds.labels(*labels)
        self._m_save = self.metrics.checkpoint_save_seconds.labels(*labels)
        self._m_since = self.metrics.seconds_since_checkpoint.labels(*labels)
        self._m_stalled = self.metrics.training_stalled.labels(*labels)
        self._m_slow = self.metrics.checkpoint_slow_saves_total.labels(*labels)

        # Written by the training thread only; read by the watchdog (plain attribute reads and
        # deque appends are atomic under the GIL, so step() takes no lock).
        self._running = False
        self._state: _State = "new"
        self._last_beat: float | None = None
        self._steps = 0
        self._pending: deque[float] = deque(maxlen=_PENDING_MAX)
        self._save_started: float | None = None
        self._save_step: int | None = None

        self._init_watchdog_state(s)

    def _init_watchdog_state(self, s: MonitorSettings) -> None:
        """Watchdog-side state, guarded by ``_lock``."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._started_at = 0.0
        self._stopped_at: float | None = None
        self._intervals_seen = 0
        self._step_window: deque[float] = deque(maxlen=s.window)
        self._save_window: deque[float] = deque(maxlen=s.window)
        self._ckpt_window: deque[float] = deque(maxlen=s.window)
        self._straggler_batch: list[float] = []
        self._saves_seen = 0
        self._checkpoints = 0
        self._last_ckpt_end: float | None = None
        self._last_ckpt_step: int | None = None
        self._last_save_seconds: float | None = None
        self._save_total = 0.0
        self._save_bytes = 0
        self._slow_saves = 0
        self._slow_flagged = False  # the save in progress (or the last one) was flagged slow
        self._last_save_slow = False
        self._stalls = 0
        self._stalled = False
        self._stall_reasons: tuple[str, ...] = ()
        self._stalled_at = 0.0
        self._heartbeat_limit: float | None = None
        self._alerts: deque[MonitorAlert] = deque(maxlen=s.max_alerts)
        self._outbox: deque[MonitorAlert] = deque()
        self._reporter: StragglerReporter | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> CheckpointMonitor:
        """Start the watchdog thread (``with mon:`` calls this)."""
        if self._state != "new":
            raise MonitorError(
                f"monitor for job {self.job!r} was already started ({self._state})",
                hint="a monitor watches one run: create a new CheckpointMonitor for the next one",
            )
        if self.settings.straggler_address:
            from mlops_guard.monitors._stragglers import StragglerReporter

            self._reporter = StragglerReporter(
                self.settings.straggler_address,
                worker=self.worker,
                job=self.job,
                model=self.model,
                metrics=self.metrics,
            )
        self._started_at = _clock()
        self._m_stalled.set(0)
        self._state = "running"
        self._running = True
        # The watchdog runs in a copy of the caller's context: run-log fields bound with
        # runlog.bind() and Prefect's run and settings context (its API URL) reach the
        # events it emits, as if the training thread had emitted them.
        context = contextvars.copy_context()
        self._thread = threading.Thread(
            target=context.run,
            args=(self._watch,),
            name=f"mlops-guard-watchdog-{self.job}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the watchdog, publish the final figures (idempotent)."""
        if self._state != "running":
            return
        if self._save_started is not None:
            # The loop left `with mon` mid-save (an exception): close it as failed.
            self._end_save(nbytes=None, ok=False)
        self._running = False
        self._state = "stopped"
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        with self._lock:
            self._stopped_at = _clock()
            self._drain_locked()
            if self._stalled:
                # Progress that came after the last tick clears the stall before the books close.
                self._check_locked(self._stopped_at)
            self._publish_gauges_locked(self._stopped_at)
            # A finished job is not stalled: a stale 1 would keep an alert firing forever.
            self._m_stalled.set(0)
        self._flush_outbox()
        if self._reporter is not None:
            self._reporter.close()

    def __enter__(self) -> CheckpointMonitor:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._running

    # -- the training thread's calls ------------------------------------------------------

    def step(self) -> None:
        """Heartbeat: one training step finished. Cheap enough for a tight loop."""
        now = _clock()
        if not self._running:
            self._not_running("step()")
        last = self._last_beat
        self._last_beat = now
        self._steps += 1
        if last is not None:
            self._pending.append(now - last)

    def checkpoint(self, step: int | None = None, *, nbytes: int | None = None) -> SaveTimer:
        """Time one checkpoint save: ``with mon.checkpoint(step, nbytes=n): save(...)``."""
        if not self._running:
            self._not_running("checkpoint()")
        if nbytes is not None and nbytes < 0:
            raise MonitorError(
                f"checkpoint nbytes={nbytes} is negative", hint="pass the saved size or None"
            )
        return SaveTimer(self, step, nbytes)

    def _not_running(self, call: str) -> None:
        thread = threading.current_thread().name
        if self._state == "new":
            raise MonitorError(
                f"{call} called before monitor {self.job!r} started (thread {thread!r})",
                hint="call it inside `with mon:` (or after mon.start())",
            )
        raise MonitorError(
            f"{call} called after monitor {self.job!r} stopped (thread {thread!r})",
            hint="stop training threads before leaving `with mon:`, or create a new monitor",
        )

    def _begin_save(self, step: int | None) -> None:
        if not self._running:
            self._not_running("checkpoint()")
        if self._save_started is not None:
            raise MonitorError(
                f"checkpoint(step={step}) started while the save of step {self._save_step} "
                "is still running",
                hint="finish one `with mon.checkpoint(...)` block before starting the next",
            )
        self._save_step = step
        with self._lock:
            self._slow_flagged = False
        self._save_started = _clock()

    def _end_save(self, *, nbytes: int | None, ok: bool) -> float:
        end = _clock()
        started = self._save_started
        if started is None:  # pragma: no cover - guarded by _begin_save
            return 0.0
        seconds = end - started
        with self._lock:
            self._save_started = None
            # The loop sat in the save: move the heartbeat on so the save is not a missing beat.
            if self._last_beat is not None:
                self._last_beat += seconds
            self._save_total += seconds
            self._last_save_seconds = seconds
            self._m_save.observe(seconds)
            if ok:
                self._record_save_locked(seconds, end, nbytes)
        if self._outbox:
            self._wake.set()
        if not ok:
            _log.warning("checkpoint save of step %s failed after %.3f s", self._save_step, seconds)
        return seconds

    def _record_save_locked(self, seconds: float, end: float, nbytes: int | None) -> None:
        s = self.settings
        median = self._save_median_locked()
        limit = None if median is None else max(s.min_limit_seconds, s.slow_save_factor * median)
        slow = limit is not None and seconds > limit
        if limit is not None and slow and not self._slow_flagged:
            self._flag_slow_locked(seconds, seconds, limit)
        self._last_save_slow = slow or self._slow_flagged
        self._saves_seen += 1
        if self._saves_seen > s.warmup_saves:
            self._save_window.append(seconds)
        if self._last_ckpt_end is not None:
            self._ckpt_window.append(end - self._last_ckpt_end)
        self._last_ckpt_end = end
        self._last_ckpt_step = self._save_step
        self._checkpoints += 1
        if nbytes:
            self._save_bytes += nbytes
        self._m_since.set(0)

    def _flag_slow_locked(self, elapsed: float, value: float, limit: float) -> None:
        self._slow_flagged = True
        self._slow_saves += 1
        self._m_slow.inc()
        self._queue_alert_locked(
            "slow_save",
            f"checkpoint save of step {self._save_step} slow: {elapsed:.3f} s, over the limit "
            f"of {limit:.3f} s ({self.settings.slow_save_factor:g}x the median save)",
            detected_after_s=elapsed,
            limit_s=limit,
            value=value,
            step=self._save_step,
        )

    # -- watchdog ------------------------------------------------------------------------

    def _watch(self) -> None:
        period = self.settings.watchdog_period_seconds
        while self._running:
            self._wake.wait(period)
            self._wake.clear()
            try:
                self._tick()
            except Exception:  # noqa: BLE001 - the watchdog must outlive a bug in one tick
                _log.exception("monitor watchdog tick failed; watching goes on")
                self.metrics.sink_failures_total.labels(sink="monitor_watchdog").inc()

    def _tick(self) -> None:
        if not self._running:
            return
        with self._lock:
            self._drain_locked()
            now = _clock()
            self._check_locked(now)
            self._publish_gauges_locked(now)
            batch, self._straggler_batch = self._straggler_batch, []
            stalled = self._stalled
        self._flush_outbox()
        if self._reporter is not None and batch:
            self._reporter.report(
                median_of(batch) or 0.0, n=len(batch), steps=self._steps, stalled=stalled
            )

    def _drain_locked(self) -> None:
        pending = self._pending
        warmup = self.settings.warmup_steps
        while pending:
            dt = pending.popleft()
            self._intervals_seen += 1
            self._m_step.observe(dt)
            if self._intervals_seen > warmup:
                self._step_window.append(dt)
                self._straggler_batch.append(dt)

    def _readymedian(self, window: deque[float]) -> float | None:
        if len(window) < self.settings.min_samples:
            return None
        return median_of(window)

    def _save_median_locked(self) -> float | None:
        return self._readymedian(self._save_window)

    def _check_locked(self, now: float) -> None:
        reasons = (
            self._save_reasons_locked(now)
            if self._save_started is not None
            else self._heartbeat_reasons_locked(now) + self._checkpoint_reasons_locked(now)
        )
        if reasons and not self._stalled:
            self._stalled = True
            self._stalls += 1
            self._stalled_at = now
            self._stall_reasons = tuple(r for r, _, _ in reasons)
            _, gap, limit = reasons[0]
            self._queue_alert_locked(
                "stalled",
                f"training job {self.job!r} stalled ({', '.join(self._stall_reasons)}): no "
                f"progress for {gap:.3f} s, limit {limit:.3f} s",
                reasons=self._stall_reasons,
                detected_after_s=gap,
                limit_s=limit,
                step=self._steps,
            )
        elif reasons:
            self._stall_reasons = tuple(r for r, _, _ in reasons)
        elif self._stalled:
            self._stalled = False
            stalled_for = now - self._stalled_at
            self._queue_alert_locked(
                "recovered",
                f"training job {self.job!r} recovered after {stalled_for:.3f} s stalled "
                f"({', '.join(self._stall_reasons)})",
                reasons=self._stall_reasons,
                value=stalled_for,
                step=self._steps,
            )
            self._stall_reasons = ()

    def _heartbeat_reasons_locked(self, now: float) -> list[tuple[str, float, float]]:
        s = self.settings
        last_beat = self._last_beat
        if last_beat is None:
            limit, reference = s.first_step_timeout_seconds, self._started_at
        else:
            limit, reference = s.stall_timeout_seconds, last_beat
            step_median = self._readymedian(self._step_window)
            if step_median is not None:
                limit = min(limit, max(s.min_limit_seconds, s.stall_factor * step_median))
        self._heartbeat_limit = limit
        gap = now - reference
        return [("heartbeat", gap, limit)] if gap > limit else []

    def _save_reasons_locked(self, now: float) -> list[tuple[str, float, float]]:
        s = self.settings
        started = self._save_started
        if started is None:
            return []
        elapsed = now - started
        save_limit = s.stall_timeout_seconds
        save_median = self._save_median_locked()
        if save_median is not None:
            floor = s.min_limit_seconds
            save_limit = min(save_limit, max(floor, s.save_stall_factor * save_median))
            slow_limit = max(floor, s.slow_save_factor * save_median)
            if elapsed > slow_limit and not self._slow_flagged:
                self._flag_slow_locked(elapsed, elapsed, slow_limit)
        return [("save", elapsed, save_limit)] if elapsed > save_limit else []

    def _checkpoint_reasons_locked(self, now: float) -> list[tuple[str, float, float]]:
        s = self.settings
        limit = s.checkpoint_timeout_seconds
        median = self._readymedian(self._ckpt_window)
        if median is not None:
            by_factor = max(s.min_limit_seconds, s.checkpoint_stall_factor * median)
            limit = by_factor if limit is None else min(limit, by_factor)
        if limit is None:
            return []
        age = now - (self._last_ckpt_end or self._started_at)
        return [("checkpoint", age, limit)] if age > limit else []

    def _publish_gauges_locked(self, now: float) -> None:
        self._m_stalled.set(1 if self._stalled else 0)
        self._m_since.set(now - (self._last_ckpt_end or self._started_at))

    # -- alerts and sinks ----------------------------------------------------------------

    def _queue_alert_locked(
        self,
        kind: AlertKind,
        message: str,
        *,
        reasons: tuple[str, ...] = (),
        detected_after_s: float | None = None,
        limit_s: float | None = None,
        value: float | None = None,
        step: int | None = None,
    ) -> None:
        alert = MonitorAlert(
            kind=kind,
            job=self.job,
            model=self.model,
            at=now_rfc3339(),
            message=message,
            reasons=reasons,
            detected_after_s=detected_after_s,
            limit_s=limit_s,
            value=value,
            step=step,
            worker=self.worker if self._reporter is not None else None,
        )
        self._alerts.append(alert)
        self._outbox.append(alert)

    def _flush_outbox(self) -> None:
        emitted = False
        while self._outbox:
            try:
                alert = self._outbox.popleft()
            except IndexError:  # another thread emptied it first
                break
            emit_alert(
                alert,
                guard_settings=self.guard_settings,
                metrics=self.metrics,
                prefect_events=self.settings.prefect_events,
                on_alert=self.on_alert,
            )
            emitted = True
        if emitted and self.settings.flush_metrics:
            from mlops_guard.metrics import MetricsSink

            MetricsSink(self.guard_settings, self.metrics).flush(flow=self.job)

    # -- reading ------------------------------------------------------------------------

    def status(self) -> MonitorStatus:
        """A consistent snapshot (safe from any thread, any time)."""
        with self._lock:
            self._drain_locked()
            now = self._stopped_at if self._stopped_at is not None else _clock()
            started = self._started_at or now
            steps_sorted = sorted(self._step_window)
            saves_sorted = sorted(self._save_window)
            save_started = self._save_started
            saving_for = 0.0 if save_started is None else now - save_started
            wall = now - started if self._state != "new" else 0.0
            return MonitorStatus(
                job=self.job,
                model=self.model,
                state=self._state,
                stalled=self._stalled,
                stall_reasons=self._stall_reasons,
                slow_save=self._slow_flagged if save_started is not None else self._last_save_slow,
                saving=save_started is not None,
                steps=self._steps,
                checkpoints=self._checkpoints,
                stalls=self._stalls,
                slow_saves=self._slow_saves,
                wall_seconds=wall,
                last_heartbeat_age_s=None if self._last_beat is None else now - self._last_beat,
                last_checkpoint_age_s=(
                    None if self._last_ckpt_end is None else now - self._last_ckpt_end
                ),
                last_checkpoint_step=self._last_ckpt_step,
                step_seconds_p50=median_of(steps_sorted),
                step_seconds_p99=_percentile(steps_sorted, 99),
                save_seconds_p50=median_of(saves_sorted),
                save_seconds_p99=_percentile(saves_sorted, 99),
                last_save_seconds=self._last_save_seconds,
                checkpoint_interval_p50=median_of(self._ckpt_window),
                save_seconds_total=self._save_total + saving_for,
                save_share=(self._save_total + saving_for) / wall if wall > 0 else 0.0,
                save_bytes_total=self._save_bytes,
                heartbeat_limit_s=self._heartbeat_limit,
                alerts=tuple(self._alerts),
            )

    def summary(self) -> dict[str, float]:
        """Flat numeric figures for ``mlflow.log_metrics`` (unknown values left out).

        Keys start with ``monitor_``; booleans are 0/1. The full snapshot, alerts included, is
        ``status().to_dict()`` (the ``monitor/summary.json`` artifact).
        """
        st = self.status()
        figures: dict[str, float | None] = {
            "monitor_steps": st.steps,
            "monitor_checkpoints": st.checkpoints,
            "monitor_stalls": st.stalls,
            "monitor_slow_saves": st.slow_saves,
            "monitor_stalled": float(st.stalled),
            "monitor_wall_seconds": st.wall_seconds,
            "monitor_step_seconds_p50": st.step_seconds_p50,
            "monitor_step_seconds_p99": st.step_seconds_p99,
            "monitor_save_seconds_p50": st.save_seconds_p50,
            "monitor_save_seconds_p99": st.save_seconds_p99,
            "monitor_checkpoint_interval_p50": st.checkpoint_interval_p50,
            "monitor_save_seconds_total": st.save_seconds_total,
            "monitor_save_share": st.save_share,
            "monitor_save_bytes_total": st.save_bytes_total,
            "monitor_last_checkpoint_age_s": st.last_checkpoint_age_s,
        }
        return {key: float(value) for key, value in figures.items() if value is not None}
