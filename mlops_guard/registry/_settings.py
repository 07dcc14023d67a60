"""Settings of the registry concern: retries, timeouts and the alias lock."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from mlops_guard.settings import SettingsBase

__all__ = ["LockBackend", "RegistrySettings"]

LockBackend = Literal["auto", "file", "postgres", "prefect"]


class RegistrySettings(SettingsBase):
    """Every field can be set as ``MLOPS_GUARD_REGISTRY_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_GUARD_REGISTRY_", extra="ignore")

    attempts: int = Field(
        default=3,
        ge=1,
        description="Tries of one registry call before RegistryUnavailable. Three tries with "
        "backoff ride out a restarting tracking server (seconds) without stalling an alert "
        "receiver for minutes, which MLflow's own default (7 retries, 120 s timeout) would.",
    )
    backoff_seconds: float = Field(
        default=0.25,
        ge=0,
        description="First pause between tries; doubled after each failed try (exponential "
        "backoff, as MLflow's and Prefect's clients do).",
    )
    http_timeout_seconds: int = Field(
        default=5,
        ge=1,
        description="Per-request timeout given to MLflow's HTTP client "
        "(MLFLOW_HTTP_REQUEST_TIMEOUT; MLflow default 120 s). Applies only when the user has "
        "not set that variable.",
    )
    http_max_retries: int = Field(
        default=0,
        ge=0,
        description="Retries inside MLflow's HTTP client (MLFLOW_HTTP_REQUEST_MAX_RETRIES; "
        "MLflow default 7 with backoff factor 2, i.e. minutes). 0 because mlops-guard retries "
        "itself with a bounded budget. Applies only when the user has not set that variable.",
    )
    lock_backend: LockBackend = Field(
        default="auto",
        description="How alias moves are serialised across processes and hosts: 'file' (a file "
        "lock in the workdir: one host only), 'postgres' (a PostgreSQL advisory lock), 'prefect' "
        "(a Prefect global concurrency limit of 1), or 'auto': postgres when lock_database_url "
        "is set or the tracking store is PostgreSQL, else prefect when PREFECT_API_URL is set, "
        "else file.",
    )
    lock_database_url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL URL whose advisory locks serialise alias moves, for a tracking "
        "store that is not PostgreSQL itself (an MLflow server in front of one, say); "
        "postgresql://user:password@host:port/db, SQLAlchemy's postgresql+driver:// also taken. "
        "Default: the tracking URI, when it is PostgreSQL.",
    )
    lock_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest wait for the alias lock. An alias move holds it for well under a "
        "second on SQLite, so a minute means a holder is stuck.",
    )
    lock_lease_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Lease of the Prefect concurrency slot: a holder that dies frees the lock "
        "after this long (Prefect default lease: 300 s).",
    )
