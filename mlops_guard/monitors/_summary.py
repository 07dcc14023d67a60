"""Reading a monitor summary back (``monitor/summary.json``) and judging it.

The file comes from outside (an artifact downloaded, edited, or produced by another version), so
it is validated at the edge with strict types: a count written as ``"0"`` must not be read as a
stall, nor a ``NaN`` duration print as a healthy run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mlops_guard.errors import DataNotFound, MonitorError
from mlops_guard.monitors._alerts import MonitorAlert
from mlops_guard.monitors._monitor import MonitorStatus

__all__ = ["SummaryVerdict", "judge_summary", "read_summary"]

_Count = Annotated[int, Field(ge=0)]
_Seconds = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_Number = Annotated[float, Field(allow_inf_nan=False)]
_HINT = "pass the monitor/summary.json artifact of a training run"


class _AlertModel(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    kind: Literal["stalled", "recovered", "slow_save", "straggler", "straggler_recovered"]
    job: str
    model: str
    at: str
    message: str
    reasons: list[str] = []
    detected_after_s: _Number | None = None
    limit_s: _Number | None = None
    value: _Number | None = None
    step: _Count | None = None
    worker: str | None = None


class _SummaryModel(BaseModel):
    """The shape :meth:`MonitorStatus.to_dict` writes; unknown keys are ignored so a summary
    from a newer version still reads."""

    model_config = ConfigDict(strict=True, extra="ignore")

    job: str
    model: str
    state: Literal["new", "running", "stopped"]
    stalled: bool
    stall_reasons: list[Literal["heartbeat", "save", "checkpoint"]]
    slow_save: bool
    saving: bool
    steps: _Count
    checkpoints: _Count
    stalls: _Count
    slow_saves: _Count
    wall_seconds: _Seconds
    last_heartbeat_age_s: _Seconds | None
    last_checkpoint_age_s: _Seconds | None
    last_checkpoint_step: _Count | None
    step_seconds_p50: _Seconds | None
    step_seconds_p99: _Seconds | None
    save_seconds_p50: _Seconds | None
    save_seconds_p99: _Seconds | None
    last_save_seconds: _Seconds | None
    checkpoint_interval_p50: _Seconds | None
    save_seconds_total: _Seconds
    save_share: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
    save_bytes_total: _Count
    heartbeat_limit_s: _Seconds | None
    alerts: list[_AlertModel] = []

    def status(self) -> MonitorStatus:
        values: dict[str, Any] = {
            name: getattr(self, name)
            for name in MonitorStatus.__dataclass_fields__
            if name not in ("alerts", "stall_reasons")
        }
        alerts = tuple(
            MonitorAlert(**{**alert.model_dump(), "reasons": tuple(alert.reasons)})
            for alert in self.alerts
        )
        return MonitorStatus(**values, stall_reasons=tuple(self.stall_reasons), alerts=alerts)


def _field_error(path: Path, exc: ValidationError) -> MonitorError:
    first = exc.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "(document)"
    if first["type"] == "missing":
        problem = "is missing"
    else:
        problem = f"= {first.get('input')!r} is invalid: {first['msg']}"
    more = exc.error_count() - 1
    return MonitorError(
        f"{str(path)!r} is not a monitor summary: field {field} {problem}"
        + (f" (and {more} more problem(s))" if more else ""),
        hint=_HINT,
    )


def read_summary(path: str | Path) -> MonitorStatus:
    """Load a ``monitor/summary.json`` written by :func:`log_monitor_summary` (or ``to_dict``).

    Raises :class:`~mlops_guard.errors.MonitorError` naming the file and the first bad field
    when a value has the wrong type (``"0"`` for a count), is not finite, or is out of range.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFound(
            f"monitor summary {str(path)!r} does not exist or is not a file", hint=_HINT
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MonitorError(
            f"{str(path)!r} is not a monitor summary ({type(exc).__name__}: "
            f"{' '.join(str(exc).split())[:200]})",
            hint=_HINT,
        ) from exc
    except OSError as exc:
        raise MonitorError(
            f"monitor summary {str(path)!r} cannot be read: {exc}", hint=_HINT
        ) from exc
    if not isinstance(data, dict):
        raise MonitorError(
            f"{str(path)!r} is not a monitor summary (a JSON {type(data).__name__}, not an object)",
            hint=_HINT,
        )
    try:
        return _SummaryModel.model_validate(data).status()
    except ValidationError as exc:
        raise _field_error(path, exc) from exc


@dataclass(frozen=True, slots=True)
class SummaryVerdict:
    """Whether a finished run's monitor saw trouble; ``problems`` says which, in words."""

    healthy: bool
    problems: tuple[str, ...]


def judge_summary(status: MonitorStatus) -> SummaryVerdict:
    """A run is healthy when it never stalled and no save was slow."""
    problems: list[str] = []
    if status.stalls:
        problems.append(f"{status.stalls} stall(s)")
    if status.slow_saves:
        problems.append(f"{status.slow_saves} slow save(s)")
    if status.stalled:
        problems.append("still stalled when the monitor stopped")
    return SummaryVerdict(healthy=not problems, problems=tuple(problems))
