"""The training alert rules: promtool checks and unit-tests them; names match the metrics."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from mlops_guard.metrics import GuardMetrics
from mlops_guard.monitors import MonitorSettings

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deployments" / "prometheus" / "rules" / "training.rules.yml"
RULE_TESTS = ROOT / "deployments" / "prometheus" / "tests" / "training.test.yml"


def _promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is missing under CI=true: .ci/run must install prometheus")
        pytest.skip("promtool not installed (Debian package prometheus); CI installs it")
    return found


def test_promtool_checks_the_rules() -> None:
    result = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 rules found" in result.stdout


def test_promtool_unit_tests_pass() -> None:
    result = subprocess.run(
        [_promtool(), "test", "rules", RULE_TESTS.name],
        cwd=RULE_TESTS.parent,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_rules_use_defined_metrics_and_the_settings_thresholds() -> None:
    text = RULES.read_text()
    exprs = re.findall(r"^\s*expr: (.+)$", text, flags=re.MULTILINE)
    used = {name for expr in exprs for name in re.findall(r"\b(mlops_guard_[a-z_]+)", expr)}
    assert len(used) == 4
    exposition = GuardMetrics().exposition().decode()
    # Histograms expose _sum/_count/_bucket under the base name: strip the suffix to compare.
    defined = set(re.findall(r"^# TYPE (\S+)", exposition, flags=re.MULTILINE))
    for name in used:
        base = re.sub(r"_(sum|count|bucket)$", "", name)
        assert name in defined or base in defined, f"{name} is not defined in metrics.py"
    assert f"< {MonitorSettings().straggler_threshold}" in text
