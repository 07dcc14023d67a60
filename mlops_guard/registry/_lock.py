"""The lock that serialises alias moves across processes.

MLflow has no compare-and-set on aliases, so every move reads the champion, checks it is still
the version the decision was made on, and moves, all while holding this lock:

* **file** (the embedded default): a :class:`filelock.FileLock` in ``<workdir>/locks/``; it
  serialises every process that shares the working directory (and so the default SQLite store);
* **prefect**: a Prefect global concurrency limit of 1 slot, kept by the Prefect server, for
  processes on several hosts that share a tracking server and a Prefect API. A holder that dies
  frees the slot when its lease runs out.

``auto`` picks prefect when a Prefect API URL is configured (``PREFECT_API_URL``), else file.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from mlops_guard.errors import RegistryUnavailable
from mlops_guard.registry._settings import RegistrySettings

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["alias_lock", "lock_backend", "lock_name"]


def lock_name(model: str) -> str:
    """A lock name safe as a file name and as a Prefect limit name."""
    return "mlops-guard-registry-" + re.sub(r"[^A-Za-z0-9_.-]", "_", model)


def _prefect_api_url() -> str | None:
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    if "prefect.settings" in sys.modules:
        # Profiles and test harnesses set it without the environment variable; only ask when
        # Prefect is loaded already (importing it costs more than a second).
        from prefect.settings import PREFECT_API_URL

        value = PREFECT_API_URL.value()
        return str(value) if value else None
    return None


def lock_backend(config: RegistrySettings) -> str:
    """The backend in force: 'file' or 'prefect'."""
    if config.lock_backend != "auto":
        return config.lock_backend
    return "prefect" if _prefect_api_url() else "file"


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
        with _prefect_lock(model, config):
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


@contextmanager
def _prefect_lock(model: str, config: RegistrySettings) -> Iterator[None]:
    from prefect.client.orchestration import get_client
    from prefect.concurrency.sync import concurrency

    name = lock_name(model)
    try:
        with get_client(sync_client=True) as client:
            # A limit that does not exist would make `concurrency` a silent no-op.
            client.upsert_global_concurrency_limit_by_name(name, limit=1)
    except Exception as exc:  # httpx, Prefect API errors: no lock
        raise RegistryUnavailable(
            f"Prefect API at {_prefect_api_url()} could not create the alias lock {name!r} "
            f"({type(exc).__name__})",
            hint="start the Prefect server or unset PREFECT_API_URL to use the file lock; "
            "nothing was changed",
        ) from exc
    try:
        cm = concurrency(
            name,
            occupy=1,
            timeout_seconds=config.lock_timeout_seconds,
            lease_duration=config.lock_lease_seconds,
            strict=True,
        )
        cm.__enter__()
    except TimeoutError as exc:
        raise RegistryUnavailable(
            f"Prefect concurrency limit {name!r} still held after "
            f"{config.lock_timeout_seconds:g} s",
            hint="another process is moving aliases of this model; retry later",
        ) from exc
    except Exception as exc:  # acquisition failed: nothing moved
        raise RegistryUnavailable(
            f"Prefect concurrency limit {name!r} could not be acquired ({type(exc).__name__})",
            hint="check the Prefect server, or set MLOPS_GUARD_REGISTRY_LOCK_BACKEND=file",
        ) from exc
    try:
        yield
    finally:
        cm.__exit__(None, None, None)
