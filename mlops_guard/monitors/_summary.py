"""Reading a monitor summary back (``monitor/summary.json``) and judging it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlops_guard.errors import DataNotFound, MonitorError
from mlops_guard.monitors._monitor import MonitorStatus

__all__ = ["SummaryVerdict", "judge_summary", "read_summary"]


def read_summary(path: str | Path) -> MonitorStatus:
    """Load a ``monitor/summary.json`` written by :func:`log_monitor_summary` (or ``to_dict``)."""
    path = Path(path)
    if not path.is_file():
        raise DataNotFound(
            f"monitor summary {str(path)!r} does not exist or is not a file",
            hint="pass the monitor/summary.json artifact of a training run",
        )
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise TypeError("not a JSON object")
        return MonitorStatus.from_dict(data)
    except (ValueError, KeyError, TypeError) as exc:
        raise MonitorError(
            f"{str(path)!r} is not a monitor summary ({type(exc).__name__}: {exc})",
            hint="pass the monitor/summary.json artifact of a training run",
        ) from exc


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
