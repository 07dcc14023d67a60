"""``mlops-guard monitor summary`` and ``monitor stragglers``, in-process and as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_guard import cli
from mlops_guard.metrics import GuardMetrics
from mlops_guard.monitors import CheckpointMonitor, MonitorAlert, read_summary
from mlops_guard.settings import GuardSettings


def test_monitor_commands_are_registered() -> None:
    assert "mlops_guard.monitors._cli" in cli._COMMAND_MODULES


def _summary_file(
    tmp_path: Path, settings: GuardSettings, metrics: GuardMetrics, *, hang: bool
) -> Path:
    import threading

    stalled = threading.Event()

    def on_alert(alert: MonitorAlert) -> None:
        if alert.kind == "stalled":
            stalled.set()

    mon = CheckpointMonitor(
        job="train",
        model="churn",
        guard_settings=settings,
        metrics=metrics,
        on_alert=on_alert,
        watchdog_period_seconds=0.02,
        warmup_steps=1,
        min_limit_seconds=0.0,
        prefect_events=False,
    )
    with mon:
        for step in range(12):
            time.sleep(0.005)  # the training step
            mon.step()
            if step % 4 == 3:
                with mon.checkpoint(step):
                    time.sleep(0.002)
        if hang:
            assert stalled.wait(10)  # a hung step, until noticed
            mon.step()
    path = tmp_path / ("hung.json" if hang else "healthy.json")
    path.write_text(json.dumps(mon.status().to_dict()))
    return path


def test_summary_of_a_healthy_run(
    tmp_path: Path,
    settings: GuardSettings,
    metrics: GuardMetrics,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _summary_file(tmp_path, settings, metrics, hang=False)
    assert read_summary(path).steps == 12
    assert cli.main(["monitor", "summary", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["healthy"] is True
    assert out["summary"]["checkpoints"] == 3
    assert cli.main(["monitor", "summary", str(path)]) == 0
    assert "healthy" in capsys.readouterr().out


def test_summary_of_a_run_that_stalled_exits_1(
    tmp_path: Path,
    settings: GuardSettings,
    metrics: GuardMetrics,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = _summary_file(tmp_path, settings, metrics, hang=True)
    assert cli.main(["monitor", "summary", str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["healthy"] is False
    assert out["problems"] == ["1 stall(s)"]
    assert out["summary"]["alerts"][0]["kind"] == "stalled"


def test_summary_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["monitor", "summary", str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "missing.json" in err
    other = tmp_path / "other.json"
    other.write_text('{"not": "a summary"}')
    assert cli.main(["monitor", "summary", str(other)]) == 2
    err = capsys.readouterr().err
    assert "is not a monitor summary" in err
    assert "Traceback" not in err


def test_stragglers_command_collects_reports(
    settings: GuardSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    # The command runs for --duration; no worker reports, so nobody is a straggler.
    code = cli.main(["monitor", "stragglers", "--duration", "0.2", "--json", "--model", "churn"])
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["workers"] == []
    assert "listening for worker reports on 127.0.0.1:" in captured.err


def test_subprocess_bad_duration_exits_2_with_one_line(tmp_path: Path) -> None:
    argv = [sys.executable, "-m", "mlops_guard.cli"]
    result = subprocess.run(
        [*argv, "monitor", "stragglers", "--duration", "-1"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert "must be above 0 seconds" in result.stderr
    assert "Traceback" not in result.stderr
    missing = subprocess.run(
        [*argv, "monitor", "summary", str(tmp_path / "nope.json")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert missing.returncode == 2
    assert missing.stderr.count("\n") == 1
    assert "Traceback" not in missing.stderr
