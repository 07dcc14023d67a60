"""Reading a run's events from the run log and writing the report page."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import ConfigError, DataNotFound

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["SECTIONS", "RunEvents", "read_events", "render", "window_name", "write_report"]

#: The page's sections, in order: (HTML id, heading).
SECTIONS = (
    ("timeline", "Stage timeline"),
    ("validation", "Validation"),
    ("drift", "Drift"),
    ("quality", "Model quality over time"),
    ("canary", "Canary verdicts"),
    ("aliases", "Alias history"),
    ("alerts", "Alerts"),
    ("training", "Training monitors"),
)
_QUARANTINE_EXAMPLES = 5


@dataclass
class RunEvents:
    """The run-log events of the report's window and the workdir they came from."""

    workdir: Path
    events: list[dict[str, Any]] = field(default_factory=list)

    def named(self, *names: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("event") in names]


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(
            f"--since {value!r} is not a time", hint="use RFC 3339, e.g. 2026-12-01T10:00:00Z"
        ) from exc
    if parsed.tzinfo is None:
        raise ConfigError(f"--since {value!r} has no time zone", hint="end it with Z or +00:00")
    return parsed


def read_events(
    settings: GuardSettings, *, flow_run_id: str | None = None, since: str | None = None
) -> RunEvents:
    """The events of one flow run (everything logged in this workdir from its first event to
    its last, so its subflows, tasks and the alerts they caused are in), or since a time, or
    the whole log."""
    path = settings.runlog_path
    if not path.is_file():
        raise DataNotFound(
            f"no run log at {path}", hint="pass the --workdir of the runs to report on"
        )
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a crash: the rest of the log still reports
    if flow_run_id is not None:
        own = [e["ts"] for e in events if e.get("flow_run_id") == flow_run_id]
        if not own:
            raise ConfigError(
                f"--flow-run {flow_run_id!r} has no events in {path}",
                hint="take the id from the run log's flow_run_id or from Prefect's UI",
            )
        first, last = min(own), max(own)
        events = [e for e in events if first <= e["ts"] <= last]
    if since is not None:
        start = _parse_time(since)
        events = [e for e in events if _parse_time(e["ts"]) >= start]
    return RunEvents(settings.workdir, events)


def _table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    if not rows:
        return '<p class="empty">Nothing recorded in this window.</p>'
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_text(r.get(c)))}</td>" for c in columns) + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)[:400]
    return str(value)


class _Figures:
    """Plotly figures as HTML fragments; plotly.js is inlined once, in the first."""

    def __init__(self) -> None:
        self.first = True

    def html(self, figure: Any) -> str:
        import plotly.io as pio

        fragment: str = pio.to_html(
            figure,
            full_html=False,
            include_plotlyjs=self.first,
            config={"displaylogo": False, "showLink": False},
        )
        self.first = False
        return fragment


def _timeline(run: RunEvents, figures: _Figures) -> str:
    import plotly.graph_objects as go

    stages = [e for e in run.named("stage.completed", "stage.failed") if e.get("duration_seconds")]
    if not stages:
        return _table([], [])
    labels = [f"{e.get('flow')} / {e.get('stage')}" for e in stages]
    ends = [_parse_time(e["ts"]) for e in stages]
    durations = [float(e["duration_seconds"]) for e in stages]
    starts = [end.timestamp() - d for end, d in zip(ends, durations, strict=True)]
    origin = min(starts)
    colors = ["#c0392b" if e["event"] == "stage.failed" else "#2e86c1" for e in stages]
    figure = go.Figure(
        go.Bar(
            y=labels,
            x=durations,
            base=[s - origin for s in starts],
            orientation="h",
            marker_color=colors,
            hovertemplate="%{y}: %{x:.2f} s<extra></extra>",
        )
    )
    figure.update_layout(
        height=max(300, 18 * len(stages)),
        xaxis_title="seconds since the run started",
        margin={"l": 260, "r": 20, "t": 20, "b": 40},
        yaxis={"autorange": "reversed"},
    )
    failed = len([e for e in stages if e["event"] == "stage.failed"])
    return f"<p>{len(stages)} stages, {failed} failed.</p>" + figures.html(figure)


def _quarantine_examples(directory: str | None) -> str:
    if not directory or not Path(directory).is_dir():
        return ""
    import pandas as pd

    files = sorted(Path(directory).rglob("*.parquet"))
    if not files:
        return ""
    frame = pd.read_parquet(files[0]).head(_QUARANTINE_EXAMPLES)
    return (
        f"<p>Quarantined rows kept in {html.escape(directory)}; the first "
        f"{len(frame)}:</p>"
        + frame.to_html(index=False, border=0, classes="examples", na_rep="null")
    )


def _validation(run: RunEvents) -> str:
    parts = []
    runs = run.named("validation.completed", "validation.failed")
    parts.append(
        _table(
            runs,
            ["ts", "flow", "suite", "policy", "rows", "rows_passed", "rows_quarantined",
             "failed_expectations"],
        )
    )  # fmt: skip
    for event in run.named("validation.failed"):
        failures = [
            f if isinstance(f, dict) else {"expectation": f} for f in event.get("failed") or []
        ]
        parts.append(f"<h3>{html.escape(str(event.get('flow')))} at {event['ts']}</h3>")
        parts.append(
            _table(failures, ["expectation", "column", "unexpected_count", "unexpected_examples"])
        )
        parts.append(_quarantine_examples(event.get("quarantined")))
    return "".join(parts)


def _drift(run: RunEvents, figures: _Figures) -> str:
    import plotly.graph_objects as go

    checks = run.named("drift.checked")
    parts = [
        _table(
            checks,
            ["ts", "model", "dataset_drift", "drift_share", "share_threshold",
             "drifted_columns", "prediction_drift", "drifted_outputs", "html"],
        )
    ]  # fmt: skip
    columns: dict[str, int] = {}
    for check in checks:
        for column in check.get("drifted_columns") or []:
            columns[str(column)] = columns.get(str(column), 0) + 1
    if columns:
        figure = go.Figure(go.Bar(x=list(columns), y=list(columns.values())))
        figure.update_layout(
            height=320, yaxis_title="checks that found the column drifted",
            margin={"l": 60, "r": 20, "t": 20, "b": 100},
        )  # fmt: skip
        parts.append(figures.html(figure))
    return "".join(parts)


def _quality(run: RunEvents, figures: _Figures) -> str:
    import plotly.graph_objects as go

    scored = run.named("inference.scored")
    parts = [
        _table(
            scored,
            ["ts", "model", "model_version", "batch_id", "rows_in", "rows_scored",
             "rows_quarantined", "error_rate", "mean_score", "positive_share"],
        )
    ]  # fmt: skip
    if scored:
        figure = go.Figure()
        times = [e["ts"] for e in scored]
        for metric in ("error_rate", "mean_score", "positive_share"):
            figure.add_trace(
                go.Scatter(
                    x=times,
                    y=[e.get(metric) for e in scored],
                    mode="lines+markers",
                    name=metric,
                    text=[f"v{e.get('model_version')} {e.get('batch_id')}" for e in scored],
                )
            )
        figure.update_layout(height=340, margin={"l": 60, "r": 20, "t": 20, "b": 40})
        parts.append(figures.html(figure))
    return "".join(parts)


def _canary(run: RunEvents) -> str:
    return _table(
        run.named("canary.decided"), ["ts", "model", "canary_id", "champion", "challenger",
                                      "decision"],
    ) + _table(
        run.named("canary.step_judged"),
        ["ts", "canary_id", "step", "share", "verdict", "score", "rows_champion",
         "rows_challenger", "reasons"],
    )  # fmt: skip


def _aliases(run: RunEvents) -> str:
    moves = [e for e in run.events if str(e.get("event", "")).startswith("registry.")]
    moves = [e for e in moves if e.get("action")]
    return _table(
        moves,
        ["ts", "model", "alias", "action", "from_version", "to_version", "actor", "reason",
         "alert_fingerprint"],
    )  # fmt: skip


def _alerts(run: RunEvents) -> str:
    return _table(
        run.named("alert.received"), ["ts", "alert_id", "alert_fingerprint", "state", "mode"]
    ) + _table(
        [e for e in run.events if str(e.get("event", "")).startswith("alert.action")],
        ["ts", "event", "alertname", "action", "model", "attempt", "result", "note"],
    )


def _training(run: RunEvents) -> str:
    summaries = []
    for path in sorted(run.workdir.rglob("monitor/summary.json")):
        try:
            summaries.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError):
            continue
    return _table(
        summaries,
        ["job", "model", "state", "steps", "checkpoints", "stalls", "slow_saves",
         "wall_seconds", "step_seconds_p50", "step_seconds_p99", "save_seconds_p99"],
    )  # fmt: skip


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b2631;background:#fff}
h1{font-size:1.6rem}h2{border-bottom:2px solid #d5d8dc;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d5d8dc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#eaf2f8}.empty{color:#7f8c8d}
"""


def write_report(
    out: str | Path,
    *,
    settings: GuardSettings | None = None,
    flow_run_id: str | None = None,
    since: str | None = None,
) -> Path:
    """Write the report page of the window to ``out``; returns its path."""
    from mlops_guard.settings import resolve_settings

    settings = resolve_settings(settings)
    run = read_events(settings, flow_run_id=flow_run_id, since=since)
    return render(out, run, settings, window=window_name(flow_run_id, since))


def window_name(flow_run_id: str | None, since: str | None) -> str:
    """The window in words: ``flow run ID``, ``since TIME`` or ``every run``."""
    return f"flow run {flow_run_id}" if flow_run_id else f"since {since}" if since else "every run"


def render(out: str | Path, run: RunEvents, settings: GuardSettings, *, window: str) -> Path:
    """Write the page of ``run``'s events to ``out`` (atomically); returns its path."""
    figures = _Figures()
    bodies = {
        "timeline": _timeline(run, figures),
        "validation": _validation(run),
        "drift": _drift(run, figures),
        "quality": _quality(run, figures),
        "canary": _canary(run),
        "aliases": _aliases(run),
        "alerts": _alerts(run),
        "training": _training(run),
    }
    sections = "".join(
        f'<section id="{key}"><h2>{html.escape(title)}</h2>{bodies[key]}</section>'
        for key, title in SECTIONS
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        "<title>mlops-guard reliability report</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Reliability report: {html.escape(window)}</h1>"
        f"<p>{len(run.events)} events from {html.escape(str(settings.runlog_path))}</p>"
        f"{sections}</body></html>"
    )
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{id(page)}.tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(path)
    return path
