"""Preflight checks of the services a command needs, before it starts work.

A tracking server or Prefect API on a closed port otherwise shows up minutes later, deep inside
MLflow's or Prefect's retries, or as a misleading "no champion". One bounded request to each
service's health endpoint says which service at which address did not answer, in seconds.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mlops_guard.errors import ServiceUnavailable

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["PREFLIGHT_TIMEOUT_SECONDS", "require_mlflow", "require_prefect", "require_services"]

#: How long a health check waits for a service's answer
#: (``MLOPS_GUARD_PREFLIGHT_TIMEOUT_SECONDS``).
PREFLIGHT_TIMEOUT_SECONDS = 5.0


def _timeout() -> float:
    raw = os.environ.get("MLOPS_GUARD_PREFLIGHT_TIMEOUT_SECONDS")
    if raw is None:
        return PREFLIGHT_TIMEOUT_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        from mlops_guard.errors import ConfigError

        raise ConfigError(
            f"MLOPS_GUARD_PREFLIGHT_TIMEOUT_SECONDS={raw!r} is not a positive number of seconds",
            hint=f"unset it (default {PREFLIGHT_TIMEOUT_SECONDS:g}) or set e.g. 10",
        )
    return value


def _probe(service: str, address: str, url: str, hint: str) -> None:
    import httpx

    timeout = _timeout()
    try:
        response = httpx.get(url, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise ServiceUnavailable(
            f"{service} at {address} did not answer within {timeout:g} s", hint=hint
        ) from exc
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            f"{service} at {address} did not answer ({type(exc).__name__})", hint=hint
        ) from exc
    if response.status_code >= 500:
        raise ServiceUnavailable(
            f"{service} at {address} answered {response.status_code} to its health check",
            hint=hint,
        )


def require_mlflow(settings: GuardSettings) -> None:
    """Raise :class:`ServiceUnavailable` when the tracking server does not answer. Local stores
    (``sqlite:``, ``file:``, a path) have no server to ask."""
    from mlops_guard.registry._client import _redact

    uri = settings.mlflow_tracking_uri
    if not uri.startswith(("http://", "https://")):
        return
    address = _redact(uri).rstrip("/")
    _probe(
        "MLflow",
        address,
        f"{uri.split('?', 1)[0].rstrip('/')}/health",
        "check MLOPS_GUARD_TRACKING_URI (or MLFLOW_TRACKING_URI) and that the server is up; "
        "nothing was changed",
    )


def require_prefect() -> None:
    """Raise :class:`ServiceUnavailable` when ``PREFECT_API_URL`` names a server that does not
    answer. Without it, Prefect starts its own local server."""
    url = os.environ.get("PREFECT_API_URL")
    if not url:
        return
    _probe(
        "Prefect's API",
        url.rstrip("/"),
        f"{url.rstrip('/')}/health",
        "check PREFECT_API_URL and that the Prefect server is up; nothing was changed",
    )


def require_services(settings: GuardSettings, *, prefect: bool = True) -> None:
    """Both checks, MLflow first (the store every command needs)."""
    require_mlflow(settings)
    if prefect:
        require_prefect()
