"""Settings of the scoring server: where it listens, how it follows the registry, its limits,
its telemetry, the live canary and drift, and the API keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from mlops_guard.settings import SettingsBase

__all__ = ["CanaryMode", "ServingSettings"]

CanaryMode = Literal["split", "shadow"]


class ServingSettings(SettingsBase):
    """Every field can be set as ``MLOPS_GUARD_SERVING_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_GUARD_SERVING_", extra="ignore")

    host: str = Field(
        default="127.0.0.1",
        min_length=1,
        description="Address to bind; loopback unless told otherwise.",
    )
    port: int = Field(
        default=8080, ge=0, le=65535, description="Port (0 picks a free one). MLflow's default."
    )
    workers: int = Field(
        default=1,
        ge=1,
        description="Server processes. Each follows the registry and keeps its own metrics "
        "(scrape each, or run one per core behind a balancer).",
    )
    url: str | None = Field(
        default=None,
        description="The server's base URL as others reach it (the alert receiver posts "
        "<url>/-/reload after a rollback so the switch does not wait for the next poll).",
    )
    reload_token: SecretStr | None = Field(
        default=None,
        description="Bearer token POST /-/reload requires; without one the endpoint is off.",
    )
    wait_for_champion: bool = Field(
        default=False,
        description="Start even when the model has no champion yet (or is not registered "
        "yet), answer 503 on /ping and /invocations, and serve the first champion the "
        "registry shows. Off: the start fails with the reason. On in scripts/stack and "
        "docker/compose.yaml, which start the server before any model is registered.",
    )
    poll_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="How often the registry is read for moved aliases and canary settings. "
        "0.5 s keeps a switch (poll, load, warm-up) well within 2 s of the move for a "
        "scikit-learn model; one read of a registered model costs about a millisecond on "
        "SQLite.",
    )
    max_body_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="Larger request bodies get 413. 10 MiB holds about 50,000 rows of 20 "
        "numeric features as JSON.",
    )
    max_rows: int = Field(
        default=10_000,
        ge=1,
        description="More rows in one request get 413: one huge request must not stall "
        "every other request queued behind it.",
    )
    batch_max_rows: int = Field(
        default=2_000,
        ge=1,
        description="Concurrent requests to one version are scored together in one predict "
        "call of up to this many rows (a scikit-learn pipeline costs about the same for 1 row "
        "as for 100, so batching multiplies throughput).",
    )
    json_logs: bool = Field(
        default=False,
        description="Request logs as JSON lines on stdout (for a log shipper) instead of "
        "<workdir>/logs/requests.jsonl.",
    )
    telemetry: bool = Field(
        default=True,
        description="Request logs, per-request metrics and spans. Off only to measure their "
        "cost: the benchmark compares both.",
    )
    log_sample_inputs: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description="Share of requests whose raw input rows are written to the request log. "
        "0: inputs are only hashed (SHA-256), never logged raw.",
    )
    log_exclude_columns: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Columns never written to the request log, even when sampled "
        "(comma-separated).",
    )
    entity_header: str = Field(
        default="X-Entity-Id",
        min_length=1,
        description="Header naming the entity a request is about, when the rows carry no "
        "id column: the canary routes by it.",
    )
    canary_share: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Share of entities sent to the challenger; overrides the share "
        "'mlops-guard canary start' stored on the model.",
    )
    canary_mode: CanaryMode | None = Field(
        default=None,
        description="'split' answers the routed share with the challenger; 'shadow' scores "
        "every request with both and always answers with the champion. Overrides the "
        "model's setting.",
    )
    canary_judge: bool = Field(
        default=True,
        description="Judge the live canary and promote or remove the challenger.",
    )
    canary_min_requests: int = Field(
        default=200,
        ge=2,
        description="Requests on each side before the live canary is judged (four times "
        "Kayenta's advised minimum of 50 data points per metric).",
    )
    canary_judge_every: int = Field(
        default=200,
        ge=1,
        description="Challenger requests between live judgements.",
    )
    drift_every_requests: int = Field(
        default=500,
        ge=1,
        description="Requests between live drift checks of the sampled window.",
    )
    drift_every_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Longest time between live drift checks while requests arrive.",
    )
    drift_window_rows: int = Field(
        default=5_000,
        ge=10,
        description="Rows kept (the newest) for the live drift check.",
    )
    drift_min_rows: int = Field(
        default=200,
        ge=1,
        description="Fewer rows in the window and no drift check runs: with fewer the "
        "statistics say little.",
    )
    api_keys_file: Path | None = Field(
        default=None,
        description="File of API keys, one 'key_id:sha256-hex-of-secret' a line (an env-file "
        "'KEY_ID=sha256-hex' works too). Without it, requests need no key.",
    )
    rate_limit_requests: int | None = Field(
        default=None,
        ge=1,
        description="Requests one key may send per rate window (429 beyond).",
    )
    rate_limit_rows: int | None = Field(
        default=None,
        ge=1,
        description="Rows one key may send per rate window (429 beyond).",
    )
    rate_window_seconds: float = Field(
        default=60.0, gt=0, description="Length of the rate-limit window."
    )

    @field_validator("log_exclude_columns", mode="before")
    @classmethod
    def _split_columns(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value
