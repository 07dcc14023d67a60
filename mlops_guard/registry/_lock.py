"""The lock that serialises alias moves across processes.

MLflow has no compare-and-set on aliases, so every move reads the champion, checks it is still
the version the decision was made on, and moves, all while holding this lock:

* **file** (the embedded default): a :class:`filelock.FileLock` in ``<workdir>/locks/``; it
  serialises every process that shares the working directory (and so the default SQLite store);
* **prefect**: a Prefect global concurrency limit of 1 slot, kept by the Prefect server, for
  processes on several hosts that share a tracking server and a Prefect API (the lock of the
  Prefect integration's sink). A holder that dies frees the slot when its lease runs out.

``auto`` picks prefect when a Prefect API URL is configured (``PREFECT_API_URL``), else file.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import RegistryUnavailable
from mlops_guard.registry._settings import RegistrySettings

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["alias_lock", "lock_backend", "lock_name"]


def lock_name(model: str) -> str:
    """A lock name safe as a file name and as a Prefect limit name."""
    return "mlops-guard-registry-" + re.sub(r"[^A-Za-z0-9_.-]", "_", model)


def _orchestrator_lock(name: str) -> Any:
    """The sink of the orchestrator ``name`` when it offers a lock and has an API to keep it."""
    from mlops_guard._events import sinks

    for sink in sinks():
        if getattr(sink, "orchestrator", None) == name and hasattr(sink, "lock"):
            return sink
    return None


def lock_backend(config: RegistrySettings) -> str:
    """The backend in force: 'file' or 'prefect'."""
    if config.lock_backend != "auto":
        return config.lock_backend
    sink = _orchestrator_lock("prefect")
    return "prefect" if sink is not None and sink.api_url() else "file"


@contextmanager
def alias_lock(
    model: str, settings: GuardSettings, config: RegistrySettings | None = None
) -> Iterator[str]:
    """Hold the alias lock of ``model``; yields the backend used.

    Raises :class:`RegistryUnavailable` when the lock cannot be had in
    ``lock_timeout_seconds`` or the Prefect API cannot be reached (nothing was moved).
    """
    config = config or RegistrySettings()
    backend = lock_backend(config)
    if backend == "prefect":
        sink = _orchestrator_lock("prefect")
        if sink is None:
            raise RegistryUnavailable(
                "the alias lock backend is prefect, but Prefect is not installed here",
                hint="install mlops-guard[prefect] or set MLOPS_GUARD_REGISTRY_LOCK_BACKEND=file",
            )
        with sink.lock(
            lock_name(model),
            timeout_seconds=config.lock_timeout_seconds,
            lease_seconds=config.lock_lease_seconds,
        ):
            yield backend
    else:
        with _file_lock(model, settings, config):
            yield backend


@contextmanager
def _file_lock(model: str, settings: GuardSettings, config: RegistrySettings) -> Iterator[None]:
    from filelock import FileLock, Timeout

    from mlops_guard.runlog import log_event

    directory = settings.workdir / "locks"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{lock_name(model)}.lock"
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        # Logged so an operator (and the concurrency test) can see who waits on whom.
        log_event("registry.lock_waiting", settings=settings, model=model, lock=str(path))
        try:
            lock.acquire(timeout=config.lock_timeout_seconds)
        except Timeout as exc:
            raise RegistryUnavailable(
                f"alias lock {path} still held after {config.lock_timeout_seconds:g} s",
                hint="another mlops-guard process is moving aliases of this model; retry, or "
                "raise MLOPS_GUARD_REGISTRY_LOCK_TIMEOUT_SECONDS",
            ) from exc
    try:
        yield
    finally:
        lock.release()
