"""The files in deployments/ are valid for the tools that read them.

promtool and amtool are the real checkers (Debian's prometheus and prometheus-alertmanager,
installed by .ci/run); prefect.yaml is validated with Prefect's own trigger and schedule models.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.alerts._servers import ALERTMANAGER, PROMETHEUS, require

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = ROOT / "deployments"


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def _promtool() -> str:
    return str(Path(require(PROMETHEUS)[PROMETHEUS]).with_name("promtool"))


@pytest.mark.servers
def test_rule_files_pass_promtool_check() -> None:
    rules = sorted((DEPLOYMENTS / "prometheus" / "rules").glob("*.yml"))
    assert DEPLOYMENTS / "prometheus" / "rules" / "mlops_guard.rules.yml" in rules
    done = _run(_promtool(), "check", "rules", *map(str, rules))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.servers
def test_rule_unit_tests_pass() -> None:
    tests = sorted((DEPLOYMENTS / "prometheus" / "tests").glob("*.test.yml"))
    assert DEPLOYMENTS / "prometheus" / "tests" / "mlops_guard.test.yml" in tests
    done = _run(_promtool(), "test", "rules", *map(str, tests))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.servers
def test_prometheus_config_passes_promtool_check() -> None:
    done = _run(_promtool(), "check", "config", str(DEPLOYMENTS / "prometheus" / "prometheus.yml"))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.servers
def test_alertmanager_config_passes_amtool_check() -> None:
    amtool = Path(require(ALERTMANAGER)[ALERTMANAGER]).with_name("amtool")
    config = DEPLOYMENTS / "alertmanager" / "alertmanager.yml"
    done = _run(str(amtool), "check-config", str(config))
    assert done.returncode == 0, done.stdout + done.stderr


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(
        (DEPLOYMENTS / "prometheus" / "rules" / "mlops_guard.rules.yml").read_text()
    )
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_every_alert_says_what_to_do_and_why() -> None:
    actions = {"rollback", "retrain", "inspect_quarantine", "investigate", "stop_canary", "page"}
    for rule in _rules():
        assert rule["labels"]["action"] in actions, rule["alert"]
        assert rule["labels"]["severity"] in {"warning", "critical"}, rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        assert rule["annotations"]["description"], rule["alert"]
    rollbacks = [rule for rule in _rules() if rule["labels"]["action"] == "rollback"]
    # A rollback needs to know which model and which version it is about (the receiver rolls
    # back only while that version is the champion): the expression must keep both labels.
    assert {rule["alert"] for rule in rollbacks} >= {"ModelErrorRateHigh", "ModelWorseThanPrevious"}
    for rule in rollbacks:
        assert "by (model, model_version" in rule["expr"], rule["alert"]


def test_alertmanager_routes_rollbacks_to_the_receiver_with_a_token_file() -> None:
    config = yaml.safe_load((DEPLOYMENTS / "alertmanager" / "alertmanager.yml").read_text())
    (route,) = [r for r in config["route"]["routes"] if r["receiver"] == "mlops-guard-rollback"]
    assert 'action="rollback"' in route["matchers"]
    assert route["group_wait"] == "0s"
    (receiver,) = [r for r in config["receivers"] if r["name"] == "mlops-guard-rollback"]
    (hook,) = receiver["webhook_configs"]
    assert hook["url"].endswith("/alertmanager")
    auth = hook["http_config"]["authorization"]
    assert auth["type"] == "Bearer"
    assert "credentials" not in auth  # the secret stays in a file, out of the config
    assert auth["credentials_file"]


def _prefect_yaml() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((DEPLOYMENTS / "prefect.yaml").read_text())
    return document


def test_drift_check_also_runs_when_a_batch_is_scored() -> None:
    """The drift check's event trigger: every completed run of the scoring flow, one batch."""
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    from mlops_guard.pipelines._inference import INFERENCE_FLOW

    deployments = {d["name"]: d for d in _prefect_yaml()["deployments"]}
    (trigger,) = deployments["drift-check"]["triggers"]
    parsed = TypeAdapter(DeploymentTriggerTypes).validate_python(trigger)
    assert parsed.expect == {"prefect.flow-run.Completed"}  # type: ignore[union-attr]
    assert parsed.match_related  # type: ignore[union-attr]
    assert trigger["match_related"] == {
        "prefect.resource.role": "flow",
        "prefect.resource.name": INFERENCE_FLOW,
    }
    assert trigger["parameters"] == {"batches": 1}


def test_prefect_yaml_entrypoints_exist_and_triggers_validate() -> None:
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.events import DeploymentTriggerTypes
    from pydantic import TypeAdapter

    deployments = {d["name"]: d for d in _prefect_yaml()["deployments"]}
    assert set(deployments) >= {
        "training",
        "inference",
        "drift-check",
        "rollback",
        "canary",
        "trace-check",
    }
    for name, deployment in deployments.items():
        path, _, function = deployment["entrypoint"].partition(":")
        source = (ROOT / path).read_text()
        assert f"{function}" in source, name
        assert deployment["work_pool"]["name"] == "mlops-guard", name
    (schedule,) = deployments["drift-check"]["schedules"]
    CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    (schedule,) = deployments["trace-check"]["schedules"]
    CronSchedule(cron=schedule["cron"], timezone=schedule["timezone"])
    (trigger,) = deployments["rollback"]["triggers"]
    parsed = TypeAdapter(DeploymentTriggerTypes).validate_python(trigger)
    assert "mlops_guard.alert.rollback" in parsed.expect  # type: ignore[union-attr]
    assert set(trigger["parameters"]) == {
        "model",
        "reason",
        "alert_fingerprint",
        "expected_champion",
    }
