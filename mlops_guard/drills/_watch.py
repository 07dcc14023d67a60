"""Watching a run's signals on one monotonic clock.

:class:`SignalWatch` tails the working directory's run log (the JSON lines every check,
monitor and the alert receiver write) on a thread, stamps each line with the monotonic time it
was seen, and keeps the orchestrator's events about runs (failed, crashed) beside them.
Subscribers (the event-driven checks a drill arms) are called on a worker thread of their own,
so a slow check never delays the stamping of later lines.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_guard.drills._causes import RootCause, classify, classify_orchestrator

__all__ = ["Detection", "SignalWatch", "Signal"]

_log = logging.getLogger("mlops_guard.drills")

# How often the run log is read: the resolution of every measured time.
_POLL_SECONDS = 0.02


@dataclass(frozen=True)
class Signal:
    """One event as the watch saw it: ``seen`` is ``time.monotonic()`` when it was read."""

    seen: float
    event: Mapping[str, Any]
    source: str  # "runlog" or "orchestrator"

    @property
    def name(self) -> str:
        return str(self.event.get("event", ""))


@dataclass(frozen=True)
class Detection:
    """The first signal after the injection that named a root cause."""

    seen: float
    root_cause: RootCause
    event: str
    source: str
    detail: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[Signal], None]


class SignalWatch:
    """Tails ``runlog`` from its current end; see the module docs."""

    def __init__(self, runlog: Path) -> None:
        self.runlog = runlog
        self._offset = runlog.stat().st_size if runlog.exists() else 0
        self._buffer = b""
        self._signals: list[Signal] = []
        # Reentrant: a poll adds what it read before it lets go, so a second reader (the tail
        # thread and a settling drill) never finds the offset moved and the signals not there.
        self._lock = threading.RLock()
        self._since = float("inf")
        self._subscribers: list[tuple[str, Subscriber]] = []
        self._work: queue.Queue[tuple[Subscriber, Signal] | None] = queue.Queue()
        self._busy = 0
        self._running = False
        self._threads: list[threading.Thread] = []

    # Lifecycle --------------------------------------------------------------------------------

    def start(self) -> SignalWatch:
        self._running = True
        for target, name in ((self._tail, "tail"), (self._serve, "subscribers")):
            thread = threading.Thread(target=target, name=f"mlops-guard-drill-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._running = False
        self._work.put(None)
        for thread in self._threads:
            thread.join(timeout=30)
        self._threads.clear()

    def __enter__(self) -> SignalWatch:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # Input ------------------------------------------------------------------------------------

    def mark(self) -> float:
        """Start counting now: signals seen before the mark are not detections."""
        self.poll()
        self._since = time.monotonic()
        return self._since

    def orchestrator(self, event: str, **fields: Any) -> None:
        """Record what the orchestrator reports about a run (``run.failed``, ``run.crashed``)."""
        self._add(Signal(time.monotonic(), {"event": event, **fields}, "orchestrator"))

    def subscribe(self, event: str, subscriber: Subscriber) -> None:
        """Call ``subscriber`` (on the worker thread) for every later run-log ``event``."""
        self._subscribers.append((event, subscriber))

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._subscribers = [(e, s) for e, s in self._subscribers if s is not subscriber]

    def poll(self) -> None:
        """Read what the run log gained since the last read (the tail thread calls this)."""
        with self._lock:
            if not self.runlog.exists():
                return
            with self.runlog.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
            if not chunk:
                return
            self._offset += len(chunk)
            data = self._buffer + chunk
            lines = data.split(b"\n")
            self._buffer = lines.pop()
            seen = time.monotonic()
            fresh = []
            for line in lines:
                if not line.strip():
                    continue
                try:
                    fresh.append(Signal(seen, json.loads(line), "runlog"))
                except ValueError:
                    continue
            for signal in fresh:
                self._add(signal)

    def _add(self, signal: Signal) -> None:
        with self._lock:
            self._signals.append(signal)
        if signal.source != "runlog":
            return
        for event, subscriber in self._subscribers:
            if signal.name == event:
                with self._lock:
                    self._busy += 1
                self._work.put((subscriber, signal))

    def _tail(self) -> None:
        while self._running:
            try:
                self.poll()
            except OSError as exc:
                _log.warning("run log not read (%s); retrying", exc)
            time.sleep(_POLL_SECONDS)

    def _serve(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            subscriber, signal = item
            try:
                subscriber(signal)
            except Exception as exc:  # noqa: BLE001 - a failed check is a signal, not a crash
                _log.warning("drill subscriber failed (%s: %s)", type(exc).__name__, exc)
            finally:
                with self._lock:
                    self._busy -= 1

    # Output -----------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """No subscriber is running or queued."""
        with self._lock:
            return self._busy == 0

    def signals(self, since: float | None = None) -> list[Signal]:
        with self._lock:
            cut = self._since if since is None else since
            return [s for s in self._signals if s.seen >= cut]

    def events(self, name: str, since: float | None = None) -> list[Mapping[str, Any]]:
        """Run-log events named ``name`` seen since the mark (or ``since``)."""
        return [s.event for s in self.signals(since) if s.name == name and s.source == "runlog"]

    def detection(self, *, guard: bool) -> Detection | None:
        """The first signal since the mark that names a root cause: any product signal with
        the guard on; only the orchestrator's events about runs without it."""
        for signal in self.signals():
            if signal.source == "orchestrator":
                cause = classify_orchestrator(signal.event)
            elif guard:
                cause = classify(signal.event)
            else:
                cause = None
            if cause is not None:
                detail = {
                    k: signal.event[k]
                    for k in ("stage", "model_version", "alertname", "error", "worker", "ts")
                    if signal.event.get(k) is not None
                }
                return Detection(signal.seen, cause, signal.name, signal.source, detail)
        return None

    def alarms(self) -> list[tuple[Signal, RootCause]]:
        """Every signal since the mark that named a root cause (false alarms on a clean run)."""
        found = []
        for signal in self.signals():
            cause = (
                classify_orchestrator(signal.event)
                if signal.source == "orchestrator"
                else classify(signal.event)
            )
            if cause is not None:
                found.append((signal, cause))
        return found
