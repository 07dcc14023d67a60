"""Settings shared by every part of mlops-guard, read from ``MLOPS_GUARD_*`` environment variables.

Each concern with thresholds of its own (drift, canary, monitors, alerts) keeps a settings class
beside its code with a longer prefix (``MLOPS_GUARD_DRIFT_`` and so on), so that a threshold lives
next to the statistics that use it and names its source.

>>> import os
>>> os.environ["MLOPS_GUARD_WORKDIR"] = "/tmp/guard-example"
>>> GuardSettings().workdir.as_posix()
'/tmp/guard-example'
>>> del os.environ["MLOPS_GUARD_WORKDIR"]
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "AirflowSettings",
    "GuardSettings",
    "ValidationPolicy",
    "active_settings",
    "check_model_name",
    "load_settings",
    "resolve_settings",
    "use_settings",
]

ValidationPolicy = Literal["fail", "quarantine_rows"]


class SettingsBase(BaseSettings):
    """The base of every mlops-guard settings class: a value pydantic rejects (from the
    environment, an option or code) becomes one :class:`~mlops_guard.errors.ConfigError`
    naming the variable, the value and what is allowed, so the CLI prints one line (exit 2)
    instead of a validation dump."""

    def __init__(self, **values: Any) -> None:
        from pydantic import ValidationError

        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise _config_error(type(self), exc) from exc


def _config_error(cls: type[BaseSettings], exc: Any) -> Exception:
    from mlops_guard.errors import ConfigError

    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "settings"
    prefix = str(cls.model_config.get("env_prefix") or "")
    variable = f"{prefix}{field}".upper()
    value = first.get("input")
    shown = "(missing)" if value is None else repr(value)
    return ConfigError(
        f"setting {variable} = {shown} is invalid: {first['msg']}",
        hint=f"fix {variable} (or the matching option)",
    )


class GuardSettings(SettingsBase):
    """Core settings. Every field can be set as ``MLOPS_GUARD_<FIELD>`` (case-insensitive)."""

    # populate_by_name: a field with environment aliases (tracking_uri) is still set by its name
    # from code and CLI options.
    model_config = SettingsConfigDict(
        env_prefix="MLOPS_GUARD_", extra="ignore", populate_by_name=True
    )

    workdir: Path = Field(
        default=Path(".mlops-guard"),
        description="Where run logs, metrics, predictions, quarantine and the default MLflow "
        "store live.",
    )
    tracking_uri: str | None = Field(
        default=None,
        # The prefix does not apply to aliases: both names are spelled out, ours first.
        validation_alias=AliasChoices("MLOPS_GUARD_TRACKING_URI", "MLFLOW_TRACKING_URI"),
        description="MLflow tracking (and registry) URI. Resolved in this order: the option "
        "(--tracking-uri) or MLOPS_GUARD_TRACKING_URI; else MLflow's standard "
        "MLFLOW_TRACKING_URI, so a process already pointed at a team's MLflow server uses it; "
        "else a SQLite file in the workdir (workdir/mlflow.db).",
    )
    pushgateway_url: str | None = Field(
        default=None,
        description="Prometheus Pushgateway URL; default none: metrics go to a textfile.",
    )
    pushgateway_timeout_seconds: float = Field(
        default=2.0,
        gt=0,
        description="A push that takes longer is abandoned and counted as a sink failure, so a "
        "slow gateway cannot stall a pipeline stage.",
    )
    pushgateway_stale_after_seconds: float = Field(
        default=3600.0,
        gt=0,
        description="A pushed group of the same job and flow older than this is a finished "
        "run's leftover and is deleted after each push: the Pushgateway never forgets on its "
        "own, and a dead run's error-rate gauge would keep an alert firing forever. An hour "
        "leaves concurrent runs of one flow on other hosts alone.",
    )
    metrics_flush_interval_seconds: float = Field(
        default=1.0,
        ge=0,
        description="Guarded stages coalesce metric flushes to one per interval (with a "
        "trailing flush, and one at exit): writing the textfile or pushing costs milliseconds, "
        "and Prometheus scrapes every 15 s or more anyway. 0 flushes after every stage.",
    )
    webhook_token: SecretStr | None = Field(
        default=None, description="Bearer token the alert receiver requires."
    )
    model_name: str = Field(default="churn", min_length=1, description="Registered model name.")
    experiment_name: str = Field(default="mlops-guard", min_length=1)
    validation_suite: str = Field(
        default="churn",
        min_length=1,
        description="Expectation suite (name or path) the flows validate batches against.",
    )
    metrics_job: str = Field(
        default="mlops_guard",
        min_length=1,
        description="Prometheus job label for pushes, and the first part of every textfile's "
        "name (metrics/<job>-<flow>.prom).",
    )
    training_validation_policy: ValidationPolicy = Field(
        default="fail",
        description="A training batch that fails validation stops training: a model must not "
        "learn from data its contract rejects.",
    )
    inference_validation_policy: ValidationPolicy = Field(
        default="quarantine_rows",
        description="Scoring goes on with the rows that pass; the rest are quarantined.",
    )

    @field_validator("model_name")
    @classmethod
    def _model_name_mlflow_accepts(cls, value: str) -> str:
        return check_model_name(value)

    @field_validator("workdir")
    @classmethod
    def _workdir_not_a_file(cls, value: Path) -> Path:
        if value.exists() and not value.is_dir():
            # Imported here: errors is tiny, but keeps this module's import list minimal.
            from mlops_guard.errors import ConfigError

            raise ConfigError(
                f"workdir {str(value)!r} is a file, not a directory",
                hint="point MLOPS_GUARD_WORKDIR (or --workdir) at a directory",
            )
        return value

    @property
    def mlflow_tracking_uri(self) -> str:
        """The tracking URI in force: ``tracking_uri`` (the option, ``MLOPS_GUARD_TRACKING_URI``
        or ``MLFLOW_TRACKING_URI``, read when the settings were built), else SQLite in the
        workdir."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{(self.workdir.resolve() / 'mlflow.db').as_posix()}"

    @property
    def runlog_path(self) -> Path:
        return self.workdir / "logs" / "runlog.jsonl"

    @property
    def metrics_dir(self) -> Path:
        """Where the textfile sink writes one ``.prom`` file per flow (point node_exporter's
        ``--collector.textfile.directory`` here)."""
        return self.workdir / "metrics"

    def metrics_textfile(self, flow: str | None = None) -> Path:
        """The textfile a flow's metrics go to: ``metrics/<job>-<flow>.prom``, or
        ``metrics/<job>.prom`` without a flow.

        Each flow has a file of its own, as each has a group of its own on a Pushgateway: a
        flow run that rewrites its file leaves the other flows' series in place.

        >>> GuardSettings(workdir="/w").metrics_textfile("mlops-guard-inference").as_posix()
        '/w/metrics/mlops_guard-mlops-guard-inference.prom'
        >>> GuardSettings(workdir="/w").metrics_textfile("drift check/nightly").name
        'mlops_guard-drift_check_nightly-51e7d4ba.prom'
        """
        stem = _file_stem(self.metrics_job)
        if flow:
            stem = f"{stem}-{_file_stem(flow)}"
        return self.metrics_dir / f"{stem}.prom"

    @property
    def predictions_dir(self) -> Path:
        return self.workdir / "predictions"

    @property
    def quarantine_dir(self) -> Path:
        return self.workdir / "quarantine"

    @property
    def artifacts_dir(self) -> Path:
        return self.workdir / "artifacts"


_UNSAFE_IN_FILE_NAMES = re.compile(r"[^A-Za-z0-9_-]+")
# Hex digits of the name's hash appended when a name had to be changed to fit a file name: two
# names that differ only in such characters still get files of their own.
_NAME_HASH_CHARS = 8


class AirflowSettings(SettingsBase):
    """How mlops-guard reaches an Airflow 3 API server (the alert receiver's ``airflow`` rollback
    mode). Every field can be set as ``MLOPS_GUARD_AIRFLOW_<FIELD>``; secrets are never logged."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_GUARD_AIRFLOW_", extra="ignore")

    api_url: str = Field(
        default="http://127.0.0.1:8080",
        pattern=r"^https?://",
        description="Base URL of the Airflow API server (`airflow api-server`, default port "
        "8080); the REST API is under /api/v2 and tokens come from /auth/token.",
    )
    username: str | None = Field(
        default=None, description="User a JWT is requested for (POST /auth/token)."
    )
    password: SecretStr | None = Field(default=None, description="That user's password.")
    token: SecretStr | None = Field(
        default=None,
        description="A JWT to send as is, instead of asking /auth/token with username and "
        "password (neither: GET /auth/token, which works when the simple auth manager lets "
        "everyone be admin).",
    )
    rollback_dag_id: str = Field(
        default="mlops_guard_rollback",
        min_length=1,
        description="The DAG the receiver triggers (deployments/airflow/rollback.py names it so).",
    )
    run_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long one attempt waits for the rollback DAG run to finish; a "
        "scheduler queues a manual run within seconds, the run itself takes a few more.",
    )
    poll_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the DAG run's state is read while waiting: one cheap GET.",
    )
    request_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A single API request that takes longer counts as the API being down.",
    )


def _file_stem(name: str) -> str:
    """``name`` as a file name: unchanged when it is letters, digits, ``_`` and ``-``."""
    safe = _UNSAFE_IN_FILE_NAMES.sub("_", name).strip("_") or "_"
    if safe == name:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:_NAME_HASH_CHARS]
    return f"{safe}-{digest}"


def check_model_name(value: str) -> str:
    """``value`` when the MLflow Model Registry accepts it as a model name, else
    :class:`~mlops_guard.errors.ConfigError`. Checked before any work: MLflow refuses these
    names only at registration, after a whole training run."""
    bad = [c for c in ("/", ":") if c in value]
    parts = value.replace("\\", "/").split("/")
    if bad or not value.strip() or any(p in (".", "..") for p in parts):
        from mlops_guard.errors import ConfigError

        reason = (
            f"contains {' and '.join(map(repr, bad))}" if bad else "is blank or a relative path"
        )
        raise ConfigError(
            f"model name {value!r} {reason}, which the MLflow Model Registry refuses",
            hint="pick a name of letters, digits, '-', '_' or '.' (--model or "
            "MLOPS_GUARD_MODEL_NAME)",
        )
    return value


def load_settings(**overrides: object) -> GuardSettings:
    """Settings from the environment plus explicit overrides (CLI options win); a bad value is
    a :class:`~mlops_guard.errors.ConfigError` naming the variable."""
    given = {key: value for key, value in overrides.items() if value is not None}
    return GuardSettings(**given)  # type: ignore[arg-type]


_active: ContextVar[GuardSettings | None] = ContextVar("mlops_guard_settings", default=None)


@contextmanager
def use_settings(settings: GuardSettings) -> Iterator[GuardSettings]:
    """Make ``settings`` the ones in force for the block (a flow given explicit settings binds
    them, so its guarded stages log and count into the same working directory)."""
    token = _active.set(settings)
    try:
        yield settings
    finally:
        _active.reset(token)


def resolve_settings(settings: GuardSettings | None = None) -> GuardSettings:
    """The one way settings are resolved everywhere: the explicit argument, else those bound
    by :func:`use_settings`, else fresh ones from the environment."""
    return settings or _active.get() or GuardSettings()


def active_settings() -> GuardSettings:
    """The settings in force: :func:`resolve_settings` without an explicit argument."""
    return resolve_settings()
