"""Pydantic models of Alertmanager's webhook payload, version "4".

Reference: https://prometheus.io/docs/alerting/latest/configuration/#webhook_config. Unknown
fields are ignored (Alertmanager may add some), missing required ones and a version other than
"4" are refused.

>>> payload = WebhookPayload.model_validate({
...     "version": "4", "status": "firing", "receiver": "rollback",
...     "alerts": [{"status": "firing", "labels": {"alertname": "X", "action": "rollback",
...                 "model": "churn"}, "startsAt": "2026-11-23T16:00:00Z",
...                 "fingerprint": "a1b2c3d4e5f60718"}]})
>>> payload.alerts[0].action, payload.alerts[0].model
('rollback', 'churn')
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

__all__ = ["Alert", "AlertStatus", "WebhookPayload"]

AlertStatus = Literal["firing", "resolved"]

# Prometheus label names; values are bounded so one alert cannot fill the inbox.
_LabelName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$", max_length=128)]
_LabelValue = Annotated[str, StringConstraints(max_length=4096)]
# Alertmanager prints fingerprints as 16 hex digits; accept any short token without spaces.
_Fingerprint = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")]


class Alert(BaseModel):
    """One alert of a webhook notification."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    status: AlertStatus
    labels: dict[_LabelName, _LabelValue]
    annotations: dict[_LabelName, _LabelValue] = Field(default_factory=dict)
    starts_at: datetime = Field(alias="startsAt")
    ends_at: datetime | None = Field(default=None, alias="endsAt")
    generator_url: str = Field(default="", alias="generatorURL", max_length=4096)
    fingerprint: _Fingerprint

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        # One normal form, so a re-delivery with another offset still de-duplicates.
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        try:
            return value.astimezone(UTC)
        except OverflowError as exc:
            # A ValueError is what pydantic reports as a validation error (422), not a crash.
            raise ValueError(f"{value.isoformat()} is out of range in UTC") from exc

    @property
    def action(self) -> str | None:
        """The ``action`` label (``"rollback"``, ...), or None."""
        return self.labels.get("action") or None

    @property
    def model(self) -> str | None:
        """The ``model`` label: the registered model the alert is about."""
        return self.labels.get("model") or None

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def dedup_key(self) -> str:
        """Fingerprint, start time and status: a re-delivery of the same alert has the same key."""
        return f"{self.fingerprint}|{self.starts_at.isoformat()}|{self.status}"


class WebhookPayload(BaseModel):
    """The body Alertmanager POSTs to a webhook receiver."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    version: Literal["4"]
    status: AlertStatus
    receiver: str = Field(max_length=1024)
    group_key: str = Field(default="", alias="groupKey", max_length=8192)
    truncated_alerts: int = Field(default=0, alias="truncatedAlerts", ge=0)
    group_labels: dict[_LabelName, _LabelValue] = Field(default_factory=dict, alias="groupLabels")
    common_labels: dict[_LabelName, _LabelValue] = Field(default_factory=dict, alias="commonLabels")
    common_annotations: dict[_LabelName, _LabelValue] = Field(
        default_factory=dict, alias="commonAnnotations"
    )
    external_url: str = Field(default="", alias="externalURL", max_length=4096)
    alerts: list[Alert] = Field(min_length=1)
