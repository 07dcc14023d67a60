"""The README's deploy walkthrough, run as a newcomer would run it (scripts/walkthrough.sh).

Real everything, on free loopback ports: `prefect server start`, `prefect deploy --all` of
deployments/prefect.yaml, a process worker, the monitoring stack script (Prometheus with the
shipped rules and 15 s intervals, Alertmanager with the shipped routes, Pushgateway), the alert
receiver, the MLflow SQLite store. The champion is a bad version promoted by hand; the shipped
inference deployment scores a labelled batch, and nothing but the shipped configuration rolls
it back: no metric is pushed and no alert posted by the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_guard import registry
from mlops_guard.alerts import AlertStore
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import free_port
from tests.alerts._servers import ALERTMANAGER, PROMETHEUS, PUSHGATEWAY, require

# Two training runs, a deployment run and the alert chain at the shipped 15 s intervals: about
# 4 minutes quiet, more on a loaded 2-core machine.
pytestmark = [pytest.mark.slow, pytest.mark.servers, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[2]


def test_the_walkthrough_rolls_a_bad_champion_back_with_the_shipped_configuration(
    tmp_path: Path,
) -> None:
    require(PROMETHEUS, ALERTMANAGER, PUSHGATEWAY)
    ports = {
        name: str(free_port())
        for name in (
            "PREFECT_PORT",
            "RECEIVER_PORT",
            "PUSHGATEWAY_PORT",
            "ALERTMANAGER_PORT",
            "PROMETHEUS_PORT",
            "NODE_EXPORTER_PORT",
        )
    }
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PREFECT_", "MLOPS_GUARD_", "MLFLOW_"))
    }
    env.update(
        ports,
        WALKTHROUGH_DIR=str(tmp_path),
        PATH=f"{Path(sys.executable).parent}:" + env.get("PATH", ""),
    )
    script = subprocess.Popen(
        [str(ROOT / "scripts" / "walkthrough.sh")],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        stdout, stderr = script.communicate(timeout=1200)
    except subprocess.TimeoutExpired:
        # TERM lets the script stop the servers it started before it exits.
        script.terminate()
        stdout, stderr = script.communicate(timeout=120)
    done = subprocess.CompletedProcess(script.args, script.returncode, stdout, stderr)
    logs = "\n".join(
        f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted((tmp_path / "logs").glob("*"))
    )
    assert done.returncode == 0, f"{done.stderr[-3000:]}\n{logs}"
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    assert timing["champion"] == "1"

    settings = GuardSettings(workdir=tmp_path / "workdir")
    assert registry.get_champion("churn", settings=settings) == "1"
    (rollback,) = [
        e for e in registry.history("churn", settings=settings) if e.action == "rollback"
    ]
    assert (rollback.from_version, rollback.to_version) == ("2", "1")
    assert rollback.actor == "alertmanager"
    assert rollback.alert_fingerprint is not None
    assert "ModelWorseThanPrevious" in rollback.reason
    with AlertStore(tmp_path / "workdir" / "alerts" / "inbox.sqlite") as inbox:
        acted = [
            row for row in inbox.list(state="done") if row.alertname == "ModelWorseThanPrevious"
        ]
    assert len(acted) == 1
    assert acted[0].labels["model_version"] == "2"
    print(
        "\nwalkthrough: batch -> scored {batch_to_scored_seconds} s, scored -> rolled back "
        "{scored_to_rolled_back_seconds} s, batch -> rolled back "
        "{batch_to_rolled_back_seconds} s".format(**timing)
    )
