"""The scorecard: per scenario and overall, with and without the guard, in the shape of the
published observability study (MTTD, MTTR, detection rate, root-cause accuracy, uptime), so
the two read side by side. Markdown for people, JSON for scripts, a PNG timeline with the
``plot`` extra (matplotlib)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.drills._runner import DRILL_WINDOW_SECONDS, RunRecord

if TYPE_CHECKING:
    from mlops_guard.drills._drill import DrillResult

__all__ = ["STUDY", "render_markdown", "scorecard", "write_plot"]

#: The study's figures (simulation, with logs, metrics and traces against without), in minutes
#: and shares, for the side-by-side table.
STUDY: dict[str, Any] = {
    "mttd_minutes": {"without": 42, "with": 15},
    "mttr_minutes": {"without": 85, "with": 30},
    "root_cause_accuracy": {
        "network": {"without": 0.68, "with": 0.94},
        "data_drift": {"without": 0.55, "with": 0.88},
        "model_degradation": {"without": 0.49, "with": 0.82},
    },
    "uptime": {"without": 0.91, "with": 0.98},
}


def _times(values: Sequence[float | None]) -> dict[str, float | None]:
    found = [v for v in values if v is not None]
    if not found:
        return {"mean": None, "p50": None, "max": None}
    return {
        "mean": round(statistics.fmean(found), 3),
        "p50": round(statistics.median(found), 3),
        "max": round(max(found), 3),
    }


def _summary(records: Sequence[RunRecord]) -> dict[str, Any]:
    runs = len(records)
    detected = sum(r.detected for r in records)
    return {
        "runs": runs,
        "detected": detected,
        "root_cause_correct": sum(r.root_cause_correct for r in records),
        "recovered": sum(r.recovered for r in records),
        "detection_rate": round(detected / runs, 4) if runs else None,
        "root_cause_accuracy": round(sum(r.root_cause_correct for r in records) / runs, 4)
        if runs
        else None,
        "mttd_seconds": _times([r.ttd_seconds for r in records]),
        "mttr_seconds": _times([r.ttr_seconds for r in records]),
        "uptime_share": round(statistics.fmean(r.uptime_share for r in records), 6)
        if runs
        else None,
        "errors": [r.error for r in records if r.error],
    }


def scorecard(result: DrillResult) -> dict[str, Any]:
    """The JSON scorecard::

    {"scenarios": {NAME: {"runs", "detected", "root_cause_correct", "mttd_seconds":
    {"mean", "p50", "max"}, "mttr_seconds": {...}, "uptime_share", "baseline": {...}}},
     "overall": {... same, "baseline": {...}}, "clean": {"runs", "false_alarms"}}
    """
    faults = [name for name in result.scenarios if name != "clean"]
    scenarios: dict[str, Any] = {}
    for name in faults:
        guarded = [r for r in result.records if r.scenario == name and r.guard]
        plain = [r for r in result.records if r.scenario == name and not r.guard]
        entry = _summary(guarded)
        entry["root_cause"] = guarded[0].root_cause if guarded else None
        entry["baseline"] = _summary(plain)
        scenarios[name] = entry
    fault_records = [r for r in result.records if r.scenario != "clean"]
    overall = _summary([r for r in fault_records if r.guard])
    overall["baseline"] = _summary([r for r in fault_records if not r.guard])
    clean = [r for r in result.records if r.scenario == "clean"]
    document: dict[str, Any] = {
        "scenarios": scenarios,
        "overall": overall,
        "clean": {
            "runs": len([r for r in clean if r.guard]),
            "false_alarms": sum(r.false_alarms for r in clean if r.guard),
            "baseline": {
                "runs": len([r for r in clean if not r.guard]),
                "false_alarms": sum(r.false_alarms for r in clean if not r.guard),
            },
            "alarms": [a for r in clean for a in r.alarms],
        },
        "window_seconds": DRILL_WINDOW_SECONDS,
        "runs_per_scenario": result.runs,
        "seed": result.seed,
        "fixture_seconds": round(result.fixture_seconds, 3),
        "seconds": round(result.seconds, 3),
        "workdir": result.workdir,
        "alert_paths": _alert_paths(result.records),
        "alert_fallback": result.alert_fallback,
        "records": [r.to_dict() for r in result.records],
        "study": STUDY,
    }
    return document


def _alert_paths(records: Sequence[RunRecord]) -> dict[str, int]:
    """Guarded runs by the path their rollback alert took ("prometheus" or "builtin")."""
    found: dict[str, int] = {}
    for r in records:
        if r.alert_path is not None:
            found[r.alert_path] = found.get(r.alert_path, 0) + 1
    return found


_PATHS = {
    "prometheus": "Pushgateway -> Prometheus (1 s scrape and evaluation) -> Alertmanager",
    "builtin": "the drill's built-in rule evaluator",
}


def _alert_line(card: dict[str, Any]) -> str | None:
    paths: dict[str, int] = card.get("alert_paths") or {}
    if not paths:
        return None
    parts = [f"{_PATHS.get(path, path)} in {n} run{'s' * (n != 1)}" for path, n in paths.items()]
    line = f"Rollback alerts reached the receiver through {' and '.join(parts)}"
    if card.get("alert_fallback"):
        line += f"; Prometheus was not used: {card['alert_fallback']}"
    return line + "."


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _share(value: float | None, digits: int = 0) -> str:
    # None: no run of that mode (a drill without its baseline).
    return "-" if value is None else f"{value:.{digits}%}"


def _row(name: str, entry: dict[str, Any], root: str) -> str:
    base = entry["baseline"]
    ttd, ttr = entry["mttd_seconds"], entry["mttr_seconds"]
    return (
        f"| {name} | `{root}` | {entry['detected']}/{entry['runs']} "
        f"| {entry['root_cause_correct']}/{entry['runs']} "
        f"| {_s(ttd['mean'])} / {_s(ttd['p50'])} / {_s(ttd['max'])} "
        f"| {_s(ttr['mean'])} / {_s(ttr['p50'])} / {_s(ttr['max'])} "
        f"| {_share(entry['uptime_share'])} "
        f"| {base['detected']}/{base['runs']} | {base['root_cause_correct']}/{base['runs']} "
        f"| {_s(base['mttd_seconds']['mean'])} | {_share(base['uptime_share'])} |"
    )


def render_markdown(card: dict[str, Any]) -> str:
    """The scorecard as a Markdown table, with the study's figures beside the overall row."""
    lines = [
        f"Each scenario run {card['runs_per_scenario']} times with the guard and "
        f"{card['runs_per_scenario']} times without it (seed {card['seed']}); times in seconds "
        "from the injection on one monotonic clock (mean / median / max); uptime over a "
        f"{card['window_seconds'] / 60:.0f}-minute window from the injection.",
        "",
        "| scenario | root cause | detected | root cause right | MTTD s | MTTR s | uptime "
        "| baseline detected | baseline root cause | baseline MTTD s | baseline uptime |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, entry in card["scenarios"].items():
        lines.append(_row(name, entry, entry.get("root_cause") or "-"))
    if card["scenarios"]:
        lines.append(_row("**overall**", card["overall"], "all"))
    alerts = _alert_line(card)
    if alerts is not None:
        lines += ["", alerts]
    clean = card["clean"]
    if clean["runs"]:
        lines.append("")
        lines.append(
            f"False alarms on clean runs: {clean['false_alarms']} in {clean['runs']} runs."
        )
    overall = card["overall"]
    if card["scenarios"]:
        study = card["study"]
        lines += [
            "",
            "| | study without | study with | mlops-guard baseline | mlops-guard |",
            "|---|---|---|---|---|",
            f"| MTTD | {study['mttd_minutes']['without']} min | "
            f"{study['mttd_minutes']['with']} min | "
            f"{_seconds_or_none(overall['baseline']['mttd_seconds']['mean'])}"
            f"{_of(overall['baseline'], 'detected')} | "
            f"{_seconds_or_none(overall['mttd_seconds']['mean'])}{_of(overall, 'detected')} |",
            f"| MTTR | {study['mttr_minutes']['without']} min | "
            f"{study['mttr_minutes']['with']} min | "
            f"{_seconds_or_none(overall['baseline']['mttr_seconds']['mean'])}"
            f"{_of(overall['baseline'], 'recovered')} | "
            f"{_seconds_or_none(overall['mttr_seconds']['mean'])}{_of(overall, 'recovered')} |",
            f"| root cause found | 49-68% | 82-94% | "
            f"{_share(overall['baseline']['root_cause_accuracy'])} | "
            f"{_share(overall['root_cause_accuracy'])} |",
            f"| uptime | {study['uptime']['without']:.0%} | {study['uptime']['with']:.0%} | "
            f"{_share(overall['baseline']['uptime_share'], 1)} | "
            f"{_share(overall['uptime_share'], 1)} |",
        ]
    return "\n".join(lines) + "\n"


def _of(entry: dict[str, Any], field: str) -> str:
    return f" ({entry[field]}/{entry['runs']} {field})"


def _seconds_or_none(value: float | None) -> str:
    return "never (in the window)" if value is None else f"{value:.1f} s"


def write_plot(card: dict[str, Any], path: Path) -> Path:
    """A PNG timeline: one line per run, marks at the injection, detection and recovery."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = card["records"]
    height = max(3.0, 0.28 * len(records) + 1.5)
    fig, ax = plt.subplots(figsize=(10, height))
    labels = []
    for i, r in enumerate(records):
        y = len(records) - i
        labels.append((y, f"{r['scenario']} #{r['run']} {'guard' if r['guard'] else 'baseline'}"))
        end = r["ttr_seconds"] if r["recovered"] else (r["ttd_seconds"] or 0.0)
        ax.plot([0, end], [y, y], color="#999999", linewidth=1)
        ax.plot([0], [y], marker="|", color="black", markersize=10)
        if r["ttd_seconds"] is not None:
            color = "#d62728" if not r["root_cause_correct"] else "#ff7f0e"
            ax.plot([r["ttd_seconds"]], [y], marker="o", color=color)
        if r["recovered"]:
            ax.plot([r["ttr_seconds"]], [y], marker="s", color="#2ca02c")
    ax.set_yticks([y for y, _ in labels], [text for _, text in labels], fontsize=7)
    ax.set_xlabel("seconds from injection (| injection, o detection, ■ recovery)")
    ax.set_title("mlops-guard drill: injection, detection and recovery of each run")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
