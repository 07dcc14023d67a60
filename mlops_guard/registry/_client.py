"""A thin MLflow registry client: bounded retries with backoff, MLflow errors mapped to ours.

MLflow's HTTP client retries for minutes by default (7 retries, backoff factor 2, 120 s
timeout per request). An alert receiver waiting that long is worse than a clear error, so the
client here sets ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and ``MLFLOW_HTTP_REQUEST_TIMEOUT`` (unless
the user set them) for the duration of its own calls, and retries on its own, a bounded number
of times.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_guard.errors import (
    ModelNotFound,
    RegistryError,
    RegistryUnavailable,
    VersionNotFound,
)
from mlops_guard.registry._settings import RegistrySettings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel

    from mlops_guard.settings import GuardSettings

__all__ = ["RegistryClient"]

T = TypeVar("T")

# MLflow error codes that mean "the request was understood and refused": retrying cannot help.
_REFUSALS = frozenset(
    {
        "RESOURCE_DOES_NOT_EXIST",
        "INVALID_PARAMETER_VALUE",
        "RESOURCE_ALREADY_EXISTS",
        "INVALID_STATE",
        "PERMISSION_DENIED",
        "UNAUTHENTICATED",
        "BAD_REQUEST",
    }
)


def _redact(uri: str) -> str:
    """The tracking URI without credentials (user:password@) or a query (tokens)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri.split("?", 1)[0]
    netloc = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


_http_lock = threading.Lock()
_http_users = 0
#: The variables bounded by the calls running now (the user set none of them).
_http_bounded: set[str] = set()
#: Names this module put back to MLflow's defaults, in this process or the one that started
#: it: a variable listed here that still holds MLflow's default is ours to bound, not the
#: user's (a child process inherits the value and would take it for a setting).
_HTTP_RESET_MARKER = "MLOPS_GUARD_MLFLOW_HTTP_RESET"


def _mlflow_http_defaults() -> dict[str, str]:
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_MAX_RETRIES,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    )

    return {
        MLFLOW_HTTP_REQUEST_MAX_RETRIES.name: str(MLFLOW_HTTP_REQUEST_MAX_RETRIES.default),
        MLFLOW_HTTP_REQUEST_TIMEOUT.name: str(MLFLOW_HTTP_REQUEST_TIMEOUT.default),
    }


@contextmanager
def _bounded_http(config: RegistrySettings) -> Iterator[None]:
    """MLflow's HTTP retry budget bounded for the duration of our calls only.

    MLflow reads these variables at request time. They are bounded only while a registry call
    of ours runs (reference-counted across threads) and put back to MLflow's defaults
    afterwards, so a long artifact upload elsewhere in the process keeps MLflow's budget;
    values the user set are kept. A variable, once set, is never removed again: removing a
    key races with any thread copying the environment (``os.environ.copy()``, a subprocess
    start), which then fails with a ``KeyError``.
    """
    global _http_users
    wanted = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(config.http_max_retries),
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(config.http_timeout_seconds),
    }
    with _http_lock:
        if _http_users == 0:
            defaults = _mlflow_http_defaults()
            reset = set(filter(None, os.environ.get(_HTTP_RESET_MARKER, "").split(",")))
            for name, value in wanted.items():
                current = os.environ.get(name)
                if current is None or (name in reset and current == defaults[name]):
                    _http_bounded.add(name)
                    os.environ[name] = value
            if _http_bounded - reset:
                os.environ[_HTTP_RESET_MARKER] = ",".join(sorted(reset | _http_bounded))
        _http_users += 1
    try:
        yield
    finally:
        with _http_lock:
            _http_users -= 1
            if _http_users == 0:
                defaults = _mlflow_http_defaults()
                for name in _http_bounded:
                    os.environ[name] = defaults[name]
                _http_bounded.clear()


class RegistryClient:
    """The registry calls mlops-guard needs, each retried and with errors mapped to ours."""

    def __init__(
        self, settings: GuardSettings, registry_settings: RegistrySettings | None = None
    ) -> None:
        self.settings = settings
        self.config = registry_settings or RegistrySettings()
        self.uri = settings.mlflow_tracking_uri
        self._client: MlflowClient | None = None
        if self.uri.startswith("sqlite:///"):
            # A fresh workdir: SQLite creates the file, but not its directory.
            settings.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def mlflow(self) -> MlflowClient:
        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)
        return self._client

    def call(self, what: str, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` with bounded retries; refusals (not found, invalid) are not retried.

        Raises the MLflow refusal unchanged (callers map it to the precise error) and
        :class:`RegistryUnavailable` when every try failed for another reason.
        """
        from mlflow.exceptions import MlflowException

        delay = self.config.backoff_seconds
        last: BaseException | None = None
        for attempt in range(1, self.config.attempts + 1):
            try:
                with _bounded_http(self.config):
                    return fn(*args, **kwargs)
            except MlflowException as exc:
                if exc.error_code in _REFUSALS:
                    raise
                last = exc
            except Exception as exc:  # noqa: BLE001 - sqlalchemy, OSError, requests: all "down"
                last = exc
            if attempt < self.config.attempts:
                time.sleep(delay)  # backoff between tries, not a synchronisation stand-in
                delay *= 2
        detail = " ".join(str(last).split())[:200] if last else "unknown"
        raise RegistryUnavailable(
            f"MLflow at {_redact(self.uri)} failed to {what} after "
            f"{self.config.attempts} tries ({type(last).__name__}: {detail})",
            hint="check MLOPS_GUARD_TRACKING_URI and that the store is up; nothing was changed",
        ) from last

    # ------------------------------------------------------------------ reads

    def registered_model(self, model: str) -> RegisteredModel:
        """The registered model (aliases and tags included), or :class:`ModelNotFound`."""
        from mlflow.exceptions import MlflowException

        try:
            return self.call(
                f"read model {model!r}", lambda: self.mlflow.get_registered_model(model)
            )
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise ModelNotFound(
                    f"no registered model {model!r} in {_redact(self.uri)}",
                    hint="register a version first (mlops-guard demo trains one) or fix the name",
                ) from exc
            raise RegistryError(f"MLflow refused to read model {model!r}: {exc.message}") from exc

    def model_version(self, model: str, version: str, *, model_known: bool = False) -> ModelVersion:
        """One version of a model, or :class:`VersionNotFound` / :class:`ModelNotFound`.

        ``model_known`` skips the model lookup when the caller has just read the model.
        """
        from mlflow.exceptions import MlflowException

        if not model_known:
            self.registered_model(model)
        if not str(version).isdigit():
            raise VersionNotFound(
                f"model version {version!r} of {model!r} is not a version number",
                hint="pass a version number such as 3 (see 'mlops-guard registry history')",
            )
        try:
            return self.call(
                f"read version {version} of {model!r}",
                lambda: self.mlflow.get_model_version(model, str(version)),
            )
        except MlflowException as exc:
            if exc.error_code in {"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"}:
                raise VersionNotFound(
                    f"model {model!r} has no version {version!r}",
                    hint="list versions in the MLflow UI or pick one from "
                    "'mlops-guard registry history'",
                ) from exc
            raise RegistryError(
                f"MLflow refused to read version {version} of {model!r}: {exc.message}"
            ) from exc

    # ----------------------------------------------------------------- writes

    def _write(self, what: str, fn: Callable[[], None]) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.call(what, fn)
        except MlflowException as exc:
            raise RegistryError(f"MLflow refused to {what}: {exc.message}") from exc

    def set_alias(self, model: str, alias: str, version: str) -> None:
        self._write(
            f"set alias {alias!r} of {model!r} to {version}",
            lambda: self.mlflow.set_registered_model_alias(model, alias, str(version)),
        )

    def delete_alias(self, model: str, alias: str) -> None:
        self._write(
            f"delete alias {alias!r} of {model!r}",
            lambda: self.mlflow.delete_registered_model_alias(model, alias),
        )

    def set_model_tag(self, model: str, key: str, value: str) -> None:
        self._write(
            f"tag model {model!r}",
            lambda: self.mlflow.set_registered_model_tag(model, key, value),
        )

    def delete_model_tag(self, model: str, key: str) -> None:
        self._write(
            f"untag model {model!r}",
            lambda: self.mlflow.delete_registered_model_tag(model, key),
        )

    def set_version_tag(self, model: str, version: str, key: str, value: str) -> None:
        self._write(
            f"tag version {version} of {model!r}",
            lambda: self.mlflow.set_model_version_tag(model, str(version), key, value),
        )
