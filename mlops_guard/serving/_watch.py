"""Following the registry: the versions the server answers with, switched without a restart.

A daemon thread reads the registered model every ``poll_seconds`` (or at once, when told by
``POST /-/reload``). When the champion or challenger alias moved, or the canary share or mode
changed, the new versions are loaded and warmed on a real row *before* the switch; the switch
itself replaces one immutable :class:`Routing` snapshot. A request holds the snapshot it
started with to its end, so none fails or is dropped while versions change; the old version
is freed when its last request answers.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import GuardError, ModelNotFound

if TYPE_CHECKING:
    from mlops_guard.contract import Predictor
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.serving._settings import CanaryMode, ServingSettings
    from mlops_guard.settings import GuardSettings

__all__ = ["CANARY_MODE_TAG", "CANARY_SHARE_TAG", "RegistryWatch", "Routing", "Switch"]

#: Registered-model tags ``mlops-guard canary start`` sets: the share of entities the
#: challenger answers, and ``split`` or ``shadow``.
CANARY_SHARE_TAG = "mlops_guard.canary.share"
CANARY_MODE_TAG = "mlops_guard.canary.mode"
_log = logging.getLogger("mlops_guard.serving")


@dataclass(frozen=True)
class Routing:
    """What the server answers with, as one immutable snapshot."""

    model: str
    champion: Predictor
    challenger: Predictor | None = None
    share: float = 0.0
    mode: CanaryMode = "split"

    @property
    def canary_active(self) -> bool:
        return self.challenger is not None and (self.share > 0 or self.mode == "shadow")


@dataclass(frozen=True)
class Switch:
    """One switch: which alias, from and to which version, when the move was seen and when
    the new version started answering (Unix seconds)."""

    alias: str
    from_version: str | None
    to_version: str | None
    seen_at: float
    switched_at: float


@dataclass
class _Wanted:
    champion: str | None
    challenger: str | None
    share: float
    mode: CanaryMode


@dataclass
class RegistryWatch:
    """Keeps :attr:`routing` on the registry's champion (and challenger, during a canary)."""

    model: str
    settings: GuardSettings
    config: ServingSettings
    metrics: GuardMetrics
    warm_row: Callable[[], Any] = lambda: None
    switches: list[Switch] = field(default_factory=list)
    routing: Routing | None = None
    errors: int = 0
    _wake: threading.Event = field(default_factory=threading.Event)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # One poll at a time: the thread's and a reload's must not load the same version twice.
    _poll_lock: threading.Lock = field(default_factory=threading.Lock)

    def _read(self) -> _Wanted:
        from mlops_guard.registry._client import RegistryClient

        rm = RegistryClient(self.settings).registered_model(self.model)
        found = {str(k): str(v) for k, v in (rm.aliases or {}).items()}
        tags = dict(rm.tags or {})
        share = self.config.canary_share
        if share is None:
            try:
                share = float(tags.get(CANARY_SHARE_TAG, 0.0))
            except ValueError:
                share = 0.0
            share = min(max(share, 0.0), 1.0)
        mode = self.config.canary_mode or tags.get(CANARY_MODE_TAG, "split")
        if mode not in ("split", "shadow"):
            mode = "split"
        return _Wanted(found.get("champion"), found.get("challenger"), share, mode)

    def _load(self, version: str) -> Predictor:
        from mlops_guard.contract import load_predictor

        predictor = load_predictor(self.settings, self.model, version)
        row = self.warm_row()
        if row is not None:
            # The first call of a freshly loaded model pays for lazy initialisation (imports,
            # caches); paid here, before the switch, not by the first request.
            try:
                predictor.predict(row)
            except Exception as exc:  # noqa: BLE001 - the version is still the registry's choice
                _log.warning("warm-up of %s v%s failed: %s", self.model, version, exc)
        return predictor

    def poll_once(self) -> bool:
        """Read the registry once and switch if it moved; True when something switched.
        Raises registry and contract errors (the thread logs and counts them)."""
        with self._poll_lock:
            return self._poll()

    def _poll(self) -> bool:
        seen = time.time()
        wanted = self._read()
        current = self.routing
        if wanted.champion is None:
            if current is None:
                raise ModelNotFound(
                    f"model {self.model!r} has no champion to serve",
                    hint=f"promote a version first: mlops-guard promote {self.model} VERSION",
                )
            return False  # keep answering with the last champion rather than refuse traffic
        same_champion = current is not None and current.champion.version == wanted.champion
        current_challenger = (
            None if current is None or current.challenger is None else (current.challenger.version)
        )
        if (
            same_champion
            and current_challenger == wanted.challenger
            and current is not None
            and current.share == wanted.share
            and current.mode == wanted.mode
        ):
            return False
        champion = (
            current.champion
            if same_champion and current is not None
            else self._load(wanted.champion)
        )
        challenger: Predictor | None = None
        if wanted.challenger is not None:
            if current is not None and current_challenger == wanted.challenger:
                challenger = current.challenger
            else:
                challenger = self._load(wanted.challenger)
        routing = Routing(self.model, champion, challenger, wanted.share, wanted.mode)
        with self._lock:
            self.routing = routing
        switched = time.time()
        for alias, before, after in (
            ("champion", None if current is None else current.champion.version, wanted.champion),
            ("challenger", current_challenger, wanted.challenger),
        ):
            if before == after:
                continue
            self.switches.append(Switch(alias, before, after, seen, switched))
            self.metrics.serving_switches_total.labels(model=self.model, alias=alias).inc()
            from mlops_guard.runlog import log_event

            log_event(
                "serving.switched",
                settings=self.settings,
                model=self.model,
                model_version=after,
                alias=alias,
                from_version=before,
                to_version=after,
                at=datetime.fromtimestamp(switched, UTC).isoformat(),
            )
        served = {champion.version, None if challenger is None else challenger.version}
        for before in (None if current is None else current.champion.version, current_challenger):
            if before is not None and before not in served:
                # A version no longer served has no live window: its last verdict would keep
                # ServingPredictionDrift firing about a version the rollback already replaced.
                with contextlib.suppress(KeyError):  # it never had a verdict
                    self.metrics.serving_prediction_drift.remove(self.model, before)
        self.metrics.serving_model_version.labels(model=self.model, alias="champion").set(
            float(champion.version)
        )
        self.metrics.serving_model_version.labels(model=self.model, alias="challenger").set(
            float(challenger.version) if challenger is not None else 0.0
        )
        return True

    @property
    def started(self) -> bool:
        """Whether :meth:`start` ran (the champion may still be awaited)."""
        return self._thread is not None

    def start(self) -> None:
        """Load the champion now (raising if there is none, unless ``wait_for_champion``),
        then follow on a thread."""
        try:
            self.poll_once()
        except ModelNotFound as exc:
            if not self.config.wait_for_champion:
                raise
            _log.warning(
                "%s; answering 503 until one is promoted (the registry is read every %g s)",
                exc,
                self.config.poll_seconds,
            )
        self._thread = threading.Thread(
            target=self._run, name=f"mlops-guard-watch-{self.model}", daemon=True
        )
        self._thread.start()

    def refresh(self) -> None:
        """Read the registry now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.config.poll_seconds)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.poll_once()
            except ModelNotFound as exc:
                self.errors += 1
                # Waiting for a first champion: said once at start, not every poll.
                level = logging.DEBUG if self.routing is None else logging.WARNING
                _log.log(level, "reading the registry failed (%s); serving goes on", exc)
            except GuardError as exc:
                self.errors += 1
                _log.warning("reading the registry failed (%s); serving goes on", exc)
            except Exception as exc:  # noqa: BLE001 - the watch must outlive any failure
                self.errors += 1
                _log.exception("registry watch failed (%s); serving goes on", exc)
