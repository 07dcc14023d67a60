"""The lock that serialises alias moves across processes and hosts.

MLflow has no compare-and-set on aliases, so every move reads the champion, checks it is still
the version the decision was made on, and moves, all while holding this lock:

* **file** (the embedded default): a :class:`filelock.FileLock` in ``<workdir>/locks/``; it
  serialises every process that shares the working directory (and so the default SQLite store),
  on one host only;
* **postgres**: a session-level PostgreSQL advisory lock (``pg_advisory_lock``) on the tracking
  database or ``lock_database_url``, for processes on several hosts that share that database.
  The server drops it when the holder's connection ends, so a holder that dies frees it at once;
* **prefect**: a Prefect global concurrency limit of 1 slot, kept by the Prefect server, for
  processes on several hosts that share a tracking server and a Prefect API (the lock of the
  Prefect integration's sink). A holder that dies frees the slot when its lease runs out.

``auto`` picks postgres when ``lock_database_url`` is set or the tracking URI is PostgreSQL (the
lock then lives with the data it guards), else prefect when a Prefect API URL is configured
(``PREFECT_API_URL``), else file.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import ConfigError, RegistryUnavailable
from mlops_guard.registry._settings import RegistrySettings

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["advisory_key", "alias_lock", "lock_backend", "lock_database_url", "lock_name"]


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


def advisory_key(name: str) -> int:
    """The 64-bit PostgreSQL advisory lock key of the lock ``name`` (stable across hosts and
    Python versions, unlike ``hash``)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8, person=b"mlops-guard").digest()
    return int.from_bytes(digest, "big", signed=True)


_POSTGRES_SCHEMES = ("postgresql", "postgres")


def _is_postgres(url: str) -> bool:
    scheme = url.split(":", 1)[0].lower()
    return scheme.split("+", 1)[0] in _POSTGRES_SCHEMES


def lock_database_url(config: RegistrySettings, settings: GuardSettings | None) -> str | None:
    """The PostgreSQL URL of the advisory lock (libpq form, without a SQLAlchemy driver), or
    None when neither ``lock_database_url`` nor the tracking URI is PostgreSQL."""
    if config.lock_database_url is not None:
        url = config.lock_database_url.get_secret_value()
        if not _is_postgres(url):
            raise ConfigError(
                "MLOPS_GUARD_REGISTRY_LOCK_DATABASE_URL must be a PostgreSQL URL, got scheme "
                f"{url.split(':', 1)[0]!r}",
                hint="use postgresql://user:password@host:port/database",
            )
    elif settings is not None and _is_postgres(settings.mlflow_tracking_uri):
        url = settings.mlflow_tracking_uri
    else:
        return None
    scheme, rest = url.split(":", 1)
    # SQLAlchemy's "postgresql+psycopg://" names a driver; libpq knows only the base scheme.
    return scheme.split("+", 1)[0] + ":" + rest


def lock_backend(config: RegistrySettings, settings: GuardSettings | None = None) -> str:
    """The backend in force: 'file', 'postgres' or 'prefect'. Without ``settings`` the tracking
    URI is not consulted."""
    if config.lock_backend != "auto":
        return config.lock_backend
    if lock_database_url(config, settings) is not None:
        return "postgres"
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
    backend = lock_backend(config, settings)
    if backend == "postgres":
        with _postgres_lock(model, settings, config):
            yield backend
    elif backend == "prefect":
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


@contextmanager
def _postgres_lock(model: str, settings: GuardSettings, config: RegistrySettings) -> Iterator[None]:
    """A session-level advisory lock on a connection of its own, held for the move.

    Session-level (not transaction-level) so it does not depend on MLflow's transactions: the
    moves go through MLflow's own connections, this one only holds the lock.
    """
    from mlops_guard.runlog import log_event

    url = lock_database_url(config, settings)
    if url is None:
        raise ConfigError(
            "the alias lock backend is postgres, but the tracking URI is not PostgreSQL and "
            "MLOPS_GUARD_REGISTRY_LOCK_DATABASE_URL is not set",
            hint="set MLOPS_GUARD_REGISTRY_LOCK_DATABASE_URL=postgresql://... or "
            "MLOPS_GUARD_REGISTRY_LOCK_BACKEND=auto",
        )
    try:
        import psycopg
    except ImportError as exc:
        raise RegistryUnavailable(
            "the alias lock backend is postgres, but psycopg is not installed here",
            hint="pip install 'mlops-guard[postgres]'",
        ) from exc
    name = lock_name(model)
    key = advisory_key(name)
    where = _redacted(url)
    try:
        connection = psycopg.connect(
            url, autocommit=True, connect_timeout=max(1, round(config.lock_timeout_seconds))
        )
    except psycopg.Error as exc:
        raise RegistryUnavailable(
            f"PostgreSQL at {where} could not be reached for the alias lock {name!r} "
            f"({type(exc).__name__})",
            hint="start the database or check the URL; nothing was changed",
        ) from exc
    with connection:
        try:
            row = connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
            if not (row and row[0]):
                # Logged so an operator (and the concurrency test) can see who waits on whom.
                log_event("registry.lock_waiting", settings=settings, model=model, lock=name)
                started = time.monotonic()
                # lock_timeout bounds the wait on the server; a wait past it raises
                # LockNotAvailable and this connection holds nothing.
                timeout_ms = max(1, round(config.lock_timeout_seconds * 1000))
                connection.execute(f"SET lock_timeout = {timeout_ms}")
                try:
                    connection.execute("SELECT pg_advisory_lock(%s)", (key,))
                except psycopg.errors.LockNotAvailable as exc:
                    raise RegistryUnavailable(
                        f"PostgreSQL advisory lock {name!r} still held after "
                        f"{time.monotonic() - started:.3g} s",
                        hint="another mlops-guard process is moving aliases of this model; "
                        "retry, or raise MLOPS_GUARD_REGISTRY_LOCK_TIMEOUT_SECONDS",
                    ) from exc
        except psycopg.Error as exc:
            raise RegistryUnavailable(
                f"PostgreSQL at {where} failed taking the alias lock {name!r} "
                f"({type(exc).__name__})",
                hint="check the database; nothing was changed",
            ) from exc
        try:
            yield
        finally:
            # Closing the connection (leaving this block) frees the lock all the same.
            with suppress(psycopg.Error):
                connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


def _redacted(url: str) -> str:
    """``url`` without its password, for messages (secrets never reach logs)."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)
