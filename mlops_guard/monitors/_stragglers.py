"""Straggler detection across worker processes over a small loopback UDP channel.

The channel: each worker's :class:`CheckpointMonitor` (with ``straggler_address`` set) or a
:class:`StragglerReporter` sends one UDP datagram per watchdog period to the
:class:`StragglerDetector`, a JSON object::

    {"v": 1, "job": "train", "model": "churn", "worker": "3", "p50": 0.0123, "n": 81,
     "steps": 1200, "stalled": false}

``p50`` is the median step time of that worker over the period, ``n`` how many steps it saw.
UDP because a worker must never block on, or fail with, the monitor: a send is non-blocking and
a lost datagram is replaced by the next period's. The detector binds 127.0.0.1 unless told
otherwise and ignores datagrams of another job or model and anything that does not parse.

A worker's score is the median step time of all fresh workers divided by its own; a score under
``straggler_threshold`` (0.75) in ``straggler_reports`` (2) reports in a row flags it; one
report at or above the threshold clears it.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import MonitorError
from mlops_guard.monitors._alerts import AlertKind, MonitorAlert, emit_alert, median_of, now_rfc3339
from mlops_guard.monitors._settings import MonitorSettings, load_monitor_settings
from mlops_guard.settings import resolve_settings

if TYPE_CHECKING:
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.settings import GuardSettings

__all__ = ["StragglerDetector", "StragglerReport", "StragglerReporter", "WorkerScore"]

_log = logging.getLogger("mlops_guard.monitors.stragglers")
_WIRE_VERSION = 1
# One report is a few hundred bytes; the largest UDP payload leaves room for long names.
_MAX_DATAGRAM = 65_507
# Receive timeout: how quickly close() is noticed by the receiving thread.
_RECV_TIMEOUT_SECONDS = 0.2


def parse_address(address: str | tuple[str, int]) -> tuple[str, int]:
    """``"127.0.0.1:9000"`` or ``("127.0.0.1", 9000)`` -> ``("127.0.0.1", 9000)``."""
    if isinstance(address, tuple):
        host, port = address
    else:
        host, sep, port_text = address.rpartition(":")
        if not sep or not host or not port_text.isdigit():
            raise MonitorError(
                f"straggler address {address!r} is not host:port",
                hint="pass e.g. 127.0.0.1:9400 (the detector's .address)",
            )
        port = int(port_text)
    if not 0 < port < 65536:
        raise MonitorError(
            f"straggler address port {port} is out of range", hint="use a port in 1-65535"
        )
    return host, port


class StragglerReporter:
    """Sends a worker's step timing to a :class:`StragglerDetector`; never raises on send.

    :class:`CheckpointMonitor` makes one itself when ``straggler_address`` is set; use this
    class directly in loops that time steps their own way::

        reporter = StragglerReporter("127.0.0.1:9400", worker="3", job="train", model="churn")
        reporter.report(step_seconds_p50=0.012, n=80, steps=1200)
    """

    def __init__(
        self,
        address: str | tuple[str, int],
        *,
        worker: str,
        job: str = "train",
        model: str = "churn",
        metrics: GuardMetrics | None = None,
    ) -> None:
        self.address = parse_address(address)
        self.worker = worker
        self.job = job
        self.model = model
        self._metrics = metrics
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setblocking(False)

    def report(
        self, step_seconds_p50: float, *, n: int, steps: int = 0, stalled: bool = False
    ) -> bool:
        """Send one report; returns False (and counts a sink failure) when it could not."""
        message = {
            "v": _WIRE_VERSION,
            "job": self.job,
            "model": self.model,
            "worker": self.worker,
            "p50": float(step_seconds_p50),
            "n": int(n),
            "steps": int(steps),
            "stalled": bool(stalled),
        }
        try:
            self._sock.sendto(json.dumps(message).encode(), self.address)
        except OSError as exc:
            from mlops_guard.metrics import get_metrics

            (self._metrics or get_metrics()).sink_failures_total.labels(
                sink="straggler_channel"
            ).inc()
            _log.debug("straggler report not sent (%s)", exc)
            return False
        return True

    def close(self) -> None:
        self._sock.close()


@dataclass(frozen=True, slots=True)
class WorkerScore:
    """One worker's latest figures. ``score`` is None while too few workers are fresh."""

    worker: str
    step_seconds_p50: float
    steps: int
    age_s: float
    fresh: bool
    stalled: bool
    score: float | None
    straggler: bool


@dataclass(frozen=True, slots=True)
class StragglerReport:
    """Scores of all workers heard from; ``stragglers`` lists the flagged ones."""

    job: str
    model: str
    threshold: float
    median_step_seconds: float | None
    workers: tuple[WorkerScore, ...]
    stragglers: tuple[str, ...]
    alerts: tuple[MonitorAlert, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job": self.job,
            "model": self.model,
            "threshold": self.threshold,
            "median_step_seconds": self.median_step_seconds,
            "workers": [
                {name: getattr(w, name) for name in w.__dataclass_fields__} for w in self.workers
            ],
            "stragglers": list(self.stragglers),
            "alerts": [a.to_dict() for a in self.alerts],
        }


@dataclass(slots=True)
class _Latest:
    p50: float
    steps: int
    stalled: bool
    received: float
    below: int = 0  # consecutive own reports below the threshold
    flagged: bool = False


class StragglerDetector:
    """Receives workers' step timings and flags stragglers (see the module docs).

    Example::

        with StragglerDetector(job="train", model="churn") as detector:
            os.environ["MLOPS_GUARD_MONITORS_STRAGGLER_ADDRESS"] = detector.address
            ... start the workers, each with a CheckpointMonitor ...
            print(detector.report().stragglers)
    """

    def __init__(
        self,
        job: str = "train",
        model: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        settings: MonitorSettings | None = None,
        guard_settings: GuardSettings | None = None,
        metrics: GuardMetrics | None = None,
        on_alert: Callable[[MonitorAlert], None] | None = None,
        **thresholds: Any,
    ) -> None:
        from mlops_guard.metrics import get_metrics

        self.settings = load_monitor_settings(settings, **thresholds)
        self.guard_settings = resolve_settings(guard_settings)
        self.job = job
        self.model = model or self.guard_settings.model_name
        self.metrics = metrics or get_metrics()
        self.on_alert = on_alert
        self._host = host
        self._port = port
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._running = False
        self._lock = threading.Lock()
        self._workers: dict[str, _Latest] = {}
        self._alerts: list[MonitorAlert] = []
        self._ignored = 0

    @property
    def address(self) -> str:
        """``host:port`` the workers send to (bound once started)."""
        if self._sock is None:
            raise MonitorError(
                "straggler detector is not started",
                hint="use `with StragglerDetector(...) as detector:` first",
            )
        host, port = self._sock.getsockname()[:2]
        return f"{host}:{port}"

    def start(self) -> StragglerDetector:
        if self._sock is not None:
            raise MonitorError("straggler detector already started", hint="start it once")
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.bind((self._host, self._port))
        except OSError as exc:
            sock.close()
            raise MonitorError(
                f"straggler detector cannot bind {self._host}:{self._port} ({exc.strerror})",
                hint="pick a free port, or port=0 for any",
            ) from exc
        sock.settimeout(_RECV_TIMEOUT_SECONDS)
        self._sock = sock
        self._running = True
        self._thread = threading.Thread(
            target=self._receive, name=f"mlops-guard-stragglers-{self.job}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running = False
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._sock is not None:
            self._sock.close()

    def __enter__(self) -> StragglerDetector:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _receive(self) -> None:
        assert self._sock is not None
        while self._running:
            try:
                data = self._sock.recv(_MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError:
                break
            try:
                self.ingest(data)
            except Exception:  # noqa: BLE001 - one bad report must not stop the detector
                _log.exception("straggler report not processed")

    def ingest(self, data: bytes) -> None:
        """Process one datagram (the receive thread calls this; tests may too)."""
        try:
            message = json.loads(data)
            if (
                message.get("v") != _WIRE_VERSION
                or message.get("job") != self.job
                or message.get("model") != self.model
            ):
                raise ValueError("another job, model or wire version")
            worker = str(message["worker"])
            p50 = float(message["p50"])
            steps = int(message.get("steps", 0))
            stalled = bool(message.get("stalled", False))
            if not p50 > 0:
                raise ValueError("p50 must be positive")
        except (ValueError, KeyError, TypeError, AttributeError):
            with self._lock:
                self._ignored += 1
            return
        alerts: list[MonitorAlert] = []
        with self._lock:
            latest = self._workers.get(worker)
            if latest is None:
                if len(self._workers) >= self.settings.straggler_max_workers:
                    self._ignored += 1
                    return
                latest = self._workers[worker] = _Latest(p50, steps, stalled, time.monotonic())
            else:
                latest.p50, latest.steps, latest.stalled = p50, steps, stalled
                latest.received = time.monotonic()
            alerts = self._score_locked(worker, time.monotonic())
        for alert in alerts:
            emit_alert(
                alert,
                guard_settings=self.guard_settings,
                metrics=self.metrics,
                prefect_events=False,
                on_alert=self.on_alert,
            )

    def _score_locked(self, reporting: str, now: float) -> list[MonitorAlert]:
        """Rescore every fresh worker; only the reporting worker's flag can change."""
        s = self.settings
        fresh = {
            name: w
            for name, w in self._workers.items()
            if now - w.received <= s.straggler_stale_seconds
        }
        if len(fresh) < s.straggler_min_workers:
            return []
        median = median_of(w.p50 for w in fresh.values())
        assert median is not None
        for name, w in fresh.items():
            self.metrics.straggler_score.labels(self.job, self.model, name).set(median / w.p50)
        w = fresh[reporting]
        score = median / w.p50
        alerts: list[MonitorAlert] = []
        if score < s.straggler_threshold:
            w.below += 1
            if w.below >= s.straggler_reports and not w.flagged:
                w.flagged = True
                alerts.append(
                    self._alert(
                        "straggler",
                        f"worker {reporting!r} of job {self.job!r} is a straggler: score "
                        f"{score:.2f} < {s.straggler_threshold:g} in {w.below} reports in a row "
                        f"(step {w.p50:.4f} s, median {median:.4f} s)",
                        worker=reporting,
                        value=score,
                    )
                )
        else:
            w.below = 0
            if w.flagged:
                w.flagged = False
                alerts.append(
                    self._alert(
                        "straggler_recovered",
                        f"worker {reporting!r} of job {self.job!r} caught up: score {score:.2f}",
                        worker=reporting,
                        value=score,
                    )
                )
        self._alerts.extend(alerts)
        return alerts

    def _alert(self, kind: AlertKind, message: str, *, worker: str, value: float) -> MonitorAlert:
        return MonitorAlert(
            kind=kind,
            job=self.job,
            model=self.model,
            at=now_rfc3339(),
            message=message,
            limit_s=None,
            value=value,
            worker=worker,
        )

    def report(self) -> StragglerReport:
        """Current scores of every worker heard from."""
        s = self.settings
        with self._lock:
            now = time.monotonic()
            fresh = {
                n: w
                for n, w in self._workers.items()
                if now - w.received <= s.straggler_stale_seconds
            }
            scored = len(fresh) >= s.straggler_min_workers
            median = median_of(w.p50 for w in fresh.values()) if scored else None
            workers = []
            for name in sorted(self._workers):
                w = self._workers[name]
                is_fresh = name in fresh
                score = median / w.p50 if median is not None and is_fresh else None
                workers.append(
                    WorkerScore(
                        worker=name,
                        step_seconds_p50=w.p50,
                        steps=w.steps,
                        age_s=now - w.received,
                        fresh=is_fresh,
                        stalled=w.stalled,
                        score=score,
                        straggler=w.flagged and is_fresh,
                    )
                )
            return StragglerReport(
                job=self.job,
                model=self.model,
                threshold=s.straggler_threshold,
                median_step_seconds=median,
                workers=tuple(workers),
                stragglers=tuple(w.worker for w in workers if w.straggler),
                alerts=tuple(self._alerts),
            )
