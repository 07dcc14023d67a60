"""The serving alert rules say what to do; the rollback ones keep what the receiver needs.
(promtool checks and unit-tests the files in tests/deployments.)"""

from __future__ import annotations

from pathlib import Path

import yaml

RULES = Path(__file__).resolve().parents[2] / "deployments" / "prometheus" / "rules"


def test_serving_rules_say_what_to_do_and_rollbacks_name_the_version() -> None:
    document = yaml.safe_load((RULES / "serving.rules.yml").read_text())
    rules = {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}
    assert {"ServingErrorRateHigh", "ServingLatencySLO", "ServingPredictionDrift"} <= set(rules)
    assert "ApiKeyUsageSpike" in rules
    for name, rule in rules.items():
        assert rule["labels"]["action"] in {"rollback", "investigate", "page"}, name
        assert rule["annotations"]["summary"], name
        assert rule["annotations"]["description"], name
    rollbacks = {name for name, rule in rules.items() if rule["labels"]["action"] == "rollback"}
    assert rollbacks == {"ServingErrorRateHigh", "ServingPredictionDrift"}
    for name in rollbacks:
        assert "by (model, model_version)" in rules[name]["expr"], name
