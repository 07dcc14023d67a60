"""The trace alert rules: promtool checks and unit-tests them; the names are the metrics a
trace check records, and the share is the settings' default."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops_guard.metrics import GuardMetrics
from mlops_guard.traces import TraceSettings, check_spans
from mlops_guard.traces._metrics import record_report
from mlops_guard.traces._synthetic import Clock, Hop
from tests.traces.conftest import write_traces

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deployments" / "prometheus" / "rules" / "traces.rules.yml"
RULE_TESTS = ROOT / "deployments" / "prometheus" / "tests" / "traces.test.yml"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is missing under CI=true: .ci/run must install prometheus")
        pytest.skip("promtool not installed (Debian package prometheus); CI installs it")
    return found


def _run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60, cwd=cwd)


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    checked = _run(_promtool(), "check", "rules", str(RULES))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "2 rules found" in checked.stdout
    tested = _run(_promtool(), "test", "rules", RULE_TESTS.name, cwd=RULE_TESTS.parent)
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_rules_use_recorded_metrics_and_the_settings_share(tmp_path: Path) -> None:
    text = RULES.read_text()
    exprs = re.findall(r"expr: >-\n((?:\s{10}.+\n)+)|expr: (.+)", text)
    used = {
        name
        for parts in exprs
        for part in parts
        for name in re.findall(r"\b(mlops_guard_[a-z_]+)", part)
    }
    assert len(used) == 3
    metrics = GuardMetrics()
    clocks = {"a": Clock(), "b": Clock(-3.0)}
    path = write_traces(tmp_path / "s.jsonl", [Hop("a", "b", delay_ms=1.0)], clocks, traces=200)
    record_report(check_spans([path], reference="a"), metrics)
    exposition = metrics.exposition().decode()
    for name in used:
        assert re.search(rf"^{name}(_total)?\{{", exposition, flags=re.MULTILINE), name
    offset = metrics.sample("mlops_guard_clock_offset_seconds", {"host": "b"})
    assert offset is not None
    assert abs(offset + 0.003) < 1e-4
    delay = metrics.sample("mlops_guard_clock_min_one_way_delay_seconds", {"host": "b"})
    assert delay is not None
    assert 0.0009 < delay < 0.0012
    assert (
        metrics.sample("mlops_guard_causality_violations_total", {"kind": "child_before_parent"})
        or 0
    ) > 0
    share = float(re.search(r"> ([0-9.]+) \* min by", text).group(1))  # type: ignore[union-attr]
    assert share == TraceSettings().warn_share_of_min_delay
