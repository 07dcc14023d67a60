"""Telling the scoring server about a rollback at once: ``POST <url>/-/reload``.

A scoring server (``mlops-guard serve``) reads the registry every ``poll_seconds`` anyway; the
call only saves the wait for the next poll. So it is observability-grade: a server that is
down, slow or answers an error is logged on the ``mlops_guard.alerts`` logger and counted in
``mlops_guard_sink_failures_total{sink="serving_reload"}``, and the alert stays ``done``: it is
never failed or retried because of it (its poll still picks the move up). The call runs on a
thread of its own, so a hung server cannot delay the next alert either.

Its settings are the server's own (one variable each for both processes):
``MLOPS_GUARD_SERVING_URL`` (the server's base URL as the receiver reaches it) and
``MLOPS_GUARD_SERVING_RELOAD_TOKEN`` (a secret, never logged). Without a URL nothing is sent.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.alerts._processor import ActionOutcome
    from mlops_guard.alerts._store import StoredAlert
    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.serving._settings import ServingSettings

__all__ = ["RELOAD_PATH", "ServingReload", "serving_reload"]

RELOAD_PATH = "/-/reload"
#: Sink label of a failed reload call in ``mlops_guard_sink_failures_total``.
SINK = "serving_reload"
_log = logging.getLogger("mlops_guard.alerts")
# The server answers the reload after it has loaded and warmed the restored version (about a
# second for a scikit-learn pipeline here); 30 s leaves room for a large model. The call runs
# off the processor's thread, so the bound only caps how long one thread waits.
_TIMEOUT_SECONDS = 30.0


class ServingReload:
    """Posts ``<url>/-/reload`` after each rollback the receiver confirmed (``done``).

    ``sent`` and ``failed`` count the calls made so far; :meth:`wait` blocks until the calls
    submitted so far have finished (tests and shutdown)."""

    def __init__(self, url: str, token: str | None, metrics: GuardMetrics) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.metrics = metrics
        self.sent = 0
        self.failed = 0
        self._lock = threading.Lock()
        self._pending: list[Future[None]] = []
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-guard-reload")

    def __call__(self, alert: StoredAlert, outcome: ActionOutcome) -> None:
        """The processor's hook: called once per alert acted on; only rollbacks are sent."""
        if alert.action != "rollback" or outcome.state != "done":
            return
        future = self._pool.submit(self._post, alert.model)
        with self._lock:
            self._pending = [f for f in self._pending if not f.done()] + [future]

    def wait(self, timeout: float | None = None) -> None:
        with self._lock:
            pending = list(self._pending)
        for future in pending:
            future.result(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)

    def _post(self, model: str | None) -> None:
        import httpx

        target = self.url + RELOAD_PATH
        headers = {} if self._token is None else {"Authorization": f"Bearer {self._token}"}
        try:
            answer = httpx.post(target, headers=headers, timeout=_TIMEOUT_SECONDS)
        except httpx.HTTPError as exc:
            # httpx's messages name the URL and the cause, never the request's headers.
            self._failed(target, model, f"{type(exc).__name__}: {exc}")
            return
        except Exception as exc:  # noqa: BLE001 - observability never breaks the job
            self._failed(target, model, f"{type(exc).__name__}: {exc}")
            return
        if answer.status_code != 200:
            self._failed(target, model, f"HTTP {answer.status_code}: {_excerpt(answer)}")
            return
        with self._lock:
            self.sent += 1
        state = _json(answer)
        _log.info(
            "scoring server %s reloaded after the rollback of %s: champion %s",
            self.url,
            model or "?",
            state.get("champion", "?"),
        )

    def _failed(self, target: str, model: str | None, error: str) -> None:
        with self._lock:
            self.failed += 1
        self.metrics.sink_failures_total.labels(sink=SINK).inc()
        _log.warning(
            "could not tell the scoring server to reload after the rollback of %s (POST %s: "
            "%s); it switches at its next registry poll",
            model or "?",
            target,
            error,
        )


def _excerpt(answer: Any) -> str:
    return " ".join(str(answer.text).split())[:200]


def _json(answer: Any) -> dict[str, Any]:
    try:
        data = answer.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def serving_reload(
    metrics: GuardMetrics, serving: ServingSettings | None = None
) -> ServingReload | None:
    """The reload hook the settings ask for, or None without ``MLOPS_GUARD_SERVING_URL``."""
    from mlops_guard.serving._settings import ServingSettings

    serving = serving or ServingSettings()
    if not serving.url:
        return None
    token = serving.reload_token
    secret = None if token is None else token.get_secret_value().strip() or None
    return ServingReload(serving.url, secret, metrics)
