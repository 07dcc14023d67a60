"""The scorecard's figures and shapes, from records whose times are known."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from mlops_guard.drills import DRILL_WINDOW_SECONDS, RunRecord, render_markdown, scorecard
from mlops_guard.drills._drill import DrillResult


def _record(scenario: str, run: int, guard: bool, **fields: object) -> RunRecord:
    cause = None if scenario == "clean" else "data_quality"
    return RunRecord(scenario=scenario, run=run, guard=guard, root_cause=cause, **fields)  # type: ignore[arg-type]


def _result() -> DrillResult:
    records = [
        _record(
            "data-corruption",
            1,
            True,
            detected=True,
            detected_cause="data_quality",
            ttd_seconds=1.0,
            recovered=True,
            ttr_seconds=2.0,
        ),
        _record(
            "data-corruption",
            2,
            True,
            detected=True,
            detected_cause="data_quality",
            ttd_seconds=3.0,
            recovered=True,
            ttr_seconds=6.0,
        ),
        _record(
            "data-corruption",
            3,
            True,
            detected=True,
            detected_cause="data_drift",
            ttd_seconds=2.0,
            recovered=False,
        ),
        _record("data-corruption", 1, False),
        _record("data-corruption", 2, False),
        _record(
            "data-corruption",
            3,
            False,
            detected=True,
            detected_cause="stage_failure",
            ttd_seconds=0.5,
        ),
        _record("clean", 1, True, false_alarms=1, alarms=[{"event": "x"}]),
        _record("clean", 1, False),
    ]
    return DrillResult(["data-corruption", "clean"], 3, 7, "/tmp/x", records, 1.0, 2.0)


def test_figures_per_scenario_and_baseline() -> None:
    card = scorecard(_result())
    entry = card["scenarios"]["data-corruption"]
    assert (entry["runs"], entry["detected"], entry["root_cause_correct"]) == (3, 3, 2)
    assert entry["mttd_seconds"] == {"mean": 2.0, "p50": 2.0, "max": 3.0}
    assert entry["mttr_seconds"] == {"mean": 4.0, "p50": 4.0, "max": 6.0}
    down = (2.0 + 6.0 + DRILL_WINDOW_SECONDS) / DRILL_WINDOW_SECONDS
    assert entry["uptime_share"] == pytest.approx(1 - down / 3, abs=1e-6)
    base = entry["baseline"]
    assert (base["runs"], base["detected"], base["root_cause_correct"]) == (3, 1, 0)
    assert base["uptime_share"] == 0.0
    assert card["clean"]["runs"] == 1
    assert card["clean"]["false_alarms"] == 1
    assert card["overall"]["detected"] == 3


def test_markdown_has_a_row_per_scenario_and_the_study() -> None:
    text = render_markdown(scorecard(_result()))
    assert "| data-corruption | `data_quality` | 3/3 | 2/3 | 2.0 / 2.0 / 3.0 |" in text
    assert "| **overall** |" in text
    assert "42 min" in text
    assert "False alarms on clean runs: 1 in 1 runs." in text


def test_plot_is_a_png(tmp_path: Path) -> None:
    if importlib.util.find_spec("matplotlib") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("matplotlib is missing under CI=true: the test install has the plot extra")
        pytest.skip("the plot extra is not installed: pip install 'mlops-guard[plot]'")
    from mlops_guard.drills import write_plot

    path = write_plot(scorecard(_result()), tmp_path / "timeline.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
