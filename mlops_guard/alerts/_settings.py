"""Settings of the alert receiver, read from ``MLOPS_GUARD_ALERTS_*`` environment variables.

The bearer token is a core setting (``MLOPS_GUARD_WEBHOOK_TOKEN``) because Alertmanager's
config, the receiver and the deployment docs all name it; everything else lives here.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from mlops_guard.settings import SettingsBase

__all__ = ["AlertsSettings", "RollbackMode"]

#: A mode name: ``in_process`` or one an integration registers (``mlops_guard.rollback_modes``).
RollbackMode = str


class AlertsSettings(SettingsBase):
    """Receiver settings. Every field can be set as ``MLOPS_GUARD_ALERTS_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_GUARD_ALERTS_", extra="ignore")

    host: str = Field(
        default="127.0.0.1",
        description="Address the receiver binds; anything but loopback requires "
        "MLOPS_GUARD_WEBHOOK_TOKEN.",
    )
    port: int = Field(
        default=9095,
        ge=0,
        le=65535,
        description="Port of the receiver (9095: next to Alertmanager's 9093/9094).",
    )
    store: Path | None = Field(
        default=None,
        description="SQLite file of the durable inbox; default <workdir>/alerts/inbox.sqlite.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        gt=0,
        description="Larger POST bodies are refused with 413. 1 MiB holds a webhook of several "
        "hundred alerts; Alertmanager's own max_alerts default is 0 (no limit), so a group that "
        "large is a misconfiguration, not an incident.",
    )
    rollback_mode: RollbackMode = Field(
        default="in_process",
        description="'in_process' calls mlops_guard.registry.rollback here; 'deployment' runs the "
        "rollback deployment through the Prefect API in PREFECT_API_URL and waits for it; "
        "'event' emits mlops_guard.alert.rollback, which the deployment's trigger acts on; "
        "'airflow' triggers the rollback DAG through Airflow's REST API and waits for it "
        "(MLOPS_GUARD_AIRFLOW_* settings).",
    )
    rollback_deployment: str = Field(
        default="rollback/rollback",
        min_length=3,
        description="'<flow name>/<deployment name>' run in 'deployment' mode (deployments/"
        "prefect.yaml names it so).",
    )
    deployment_timeout_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long one attempt waits for the rollback flow run to finish; a process "
        "worker took about 7 s here, most of it polling and process start.",
    )
    max_attempts: int = Field(
        default=6,
        ge=1,
        description="Attempts before an action is marked failed; with the default backoff the "
        "last attempt is about 15 s after the first, long enough for an MLflow restart.",
    )
    backoff_initial_seconds: float = Field(
        default=0.5,
        gt=0,
        description="Wait before the second attempt; doubled after each failure.",
    )
    backoff_max_seconds: float = Field(
        default=30.0,
        gt=0,
        description="Cap on the wait between attempts.",
    )
    actor: str = Field(
        default="alertmanager",
        min_length=1,
        description="Actor recorded in the registry's alias history for alert-driven rollbacks.",
    )
    check_alert_version: bool = Field(
        default=True,
        description="When the alert carries a model_version label and the champion is no longer "
        "that version, record the alert as stale instead of undoing another promotion.",
    )
    event_confirm_timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        description="In 'event' mode, how long to wait after emitting the event for the "
        "registry to record the rollback of this incident before the alert is marked failed. "
        "Trigger to finished flow run took about 7 s here with a process worker polling every "
        "second; a worker polls every 10 s by default (PREFECT_WORKER_QUERY_SECONDS), so 60 s "
        "covers a default poll, the process start and the run several times over.",
    )
    warmup_timeout_seconds: float = Field(
        default=20.0,
        gt=0,
        description="How long start-up waits for the warm-up (imports of MLflow and the "
        "registry, the MLflow client, one registry read) before serving anyway. The warm-up "
        "took about 3.5 s on a quiet 2-CPU machine; its registry read is tried once, bounded by "
        "the registry's 5 s request timeout (MLOPS_GUARD_REGISTRY_HTTP_TIMEOUT_SECONDS).",
    )
    keepalive_seconds: float = Field(
        default=300.0,
        ge=0,
        description="After this long without an alert the idle processor repeats the warm-up's "
        "registry read (one cheap query), so the first alert after hours of quiet does not pay "
        "for a cold store or a dropped connection; 0 turns it off. Five minutes: an "
        "mlops-guard choice, a few milliseconds of work each time.",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        gt=0,
        description="On shutdown, how long to wait for an action in flight; an unfinished one "
        "stays in the inbox and is finished after the restart.",
    )

    @field_validator("rollback_mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        from mlops_guard.alerts._modes import mode_names

        names = mode_names()
        if value not in names:
            raise ValueError(f"use one of {', '.join(names)}")
        return value

    def store_path(self, workdir: Path) -> Path:
        """The inbox file in force: the configured one, or one in the working directory."""
        return self.store if self.store is not None else workdir / "alerts" / "inbox.sqlite"
