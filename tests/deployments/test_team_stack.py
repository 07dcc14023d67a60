"""scripts/stack: the team set-up without Docker (PostgreSQL, the Prefect server on it and a
worker, an MLflow server on it, the receiver, the scoring server, Prometheus, Pushgateway,
Alertmanager, node_exporter), all real processes on loopback; the demo's story runs against it
and the scoring server follows the demo's champion."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from mlops_guard.demo import FEATURES, SyntheticSpec, make_dataset
from tests._postgres import bin_dir
from tests.alerts._helpers import free_port, wait_for
from tests.alerts._servers import require

ROOT = Path(__file__).resolve().parents[2]
STACK = ROOT / "scripts" / "stack"
PORTS = (
    "POSTGRES_PORT",
    "PREFECT_PORT",
    "MLFLOW_PORT",
    "RECEIVER_PORT",
    "SERVING_PORT",
    "PREFECT_WORKER_PORT",
    "PROMETHEUS_PORT",
    "PUSHGATEWAY_PORT",
    "ALERTMANAGER_PORT",
    "NODE_EXPORTER_PORT",
)

pytestmark = [pytest.mark.slow, pytest.mark.servers]


def _closed(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
    except httpx.ConnectError:
        return True
    except httpx.HTTPError:
        return False
    return False


def test_stack_starts_every_service_runs_the_demo_and_stops(tmp_path: Path) -> None:
    bin_dir()
    require("prometheus", "prometheus-alertmanager", "prometheus-pushgateway")
    ports = {name: free_port() for name in PORTS}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("MLOPS_GUARD_", "PREFECT_"))},
        **{name: str(port) for name, port in ports.items()},
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "MLOPS_GUARD_VENV": str(Path(sys.executable).parent.parent),
        "MLOPS_GUARD_WORKDIR": str(tmp_path / "guard"),
        "SCRAPE_INTERVAL": "1s",
    }
    env.pop("MLFLOW_TRACKING_URI", None)
    # The server runs as the postgres user under root: pytest's own directories are private.
    outer = Path(tempfile.mkdtemp(prefix="mlops-guard-stack-"))
    outer.chmod(0o755)
    directory = outer / "stack"

    def stack(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(STACK), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=tmp_path,
        )

    started = stack("start", str(directory))
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        exports = dict(
            line.removeprefix("export ").split("=", 1)
            for line in started.stdout.splitlines()
            if line.startswith("export ")
        )
        assert exports["MLOPS_GUARD_TRACKING_URI"] == f"http://127.0.0.1:{ports['MLFLOW_PORT']}"
        assert exports["PREFECT_API_URL"] == f"http://127.0.0.1:{ports['PREFECT_PORT']}/api"
        assert exports["MLOPS_GUARD_PUSHGATEWAY_URL"].endswith(str(ports["PUSHGATEWAY_PORT"]))
        status = stack("status", str(directory), timeout=120)
        assert status.returncode == 0, status.stdout + status.stderr
        services = ("postgres", "prefect-server", "mlflow", "prefect-worker", "receiver", "serving")
        for name in services:
            assert any(line.split()[:2] == [name, "up"] for line in status.stdout.splitlines()), (
                status.stdout
            )
        # Secrets stay in files of their own, readable by their owner only.
        assert oct((directory / "postgres-password").stat().st_mode)[-3:] == "600"
        assert (directory / "postgres-password").read_text().strip() not in started.stdout
        assert oct((directory / "serving-reload-token").stat().st_mode)[-3:] == "600"
        assert (directory / "serving-reload-token").read_text().strip() not in started.stdout
        serving = f"http://127.0.0.1:{ports['SERVING_PORT']}"
        # Started before any model exists: it answers, and says it has no champion yet.
        assert httpx.get(f"{serving}/ping", timeout=10).status_code == 503

        # One setting for the demo: the stack's environment.
        demo = stack(
            "run", str(directory), "--", "mlops-guard", "demo", "--workdir",
            str(tmp_path / "demo"), "--json",
        )  # fmt: skip
        assert demo.returncode == 0, demo.stderr[-3000:]
        summary = json.loads(demo.stdout)
        assert summary["artifacts"]["mlflow_store"] == exports["MLOPS_GUARD_TRACKING_URI"]
        moves = [
            (e["from_version"], e["to_version"], e["actor"])
            for e in summary["alias_history"]
            if e["alias"] == "champion"
        ]
        assert moves == [
            (None, "1", "training"),
            ("1", "3", "demo-operator"),
            ("3", "1", "alertmanager"),
        ]
        # The MLflow server keeps the registry (in PostgreSQL behind it) ...
        model = httpx.get(
            f"{exports['MLOPS_GUARD_TRACKING_URI']}/api/2.0/mlflow/registered-models/get",
            params={"name": "churn"},
            timeout=30,
        ).json()["registered_model"]
        assert {a["alias"]: a["version"] for a in model["aliases"]} == {"champion": "1"}
        # ... the Prefect server the demo's flow runs ...
        runs = httpx.post(
            f"{exports['PREFECT_API_URL']}/flow_runs/filter", json={"limit": 200}, timeout=30
        ).json()
        assert runs
        assert {run["state_type"] for run in runs} == {"COMPLETED"}
        # ... and the Pushgateway the flows' metrics.
        pushed = httpx.get(f"{exports['MLOPS_GUARD_PUSHGATEWAY_URL']}/metrics", timeout=30).text
        assert "mlops_guard_stage_runs_total" in pushed
        psql = bin_dir() / "psql"
        tables = subprocess.run(
            [str(psql), "-h", "127.0.0.1", "-p", str(ports["POSTGRES_PORT"]), "-U", "postgres",
             "-d", "mlflow", "-tAc", "SELECT count(*) FROM model_versions"],
            env={**env, "PGPASSWORD": (directory / "postgres-password").read_text().strip()},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert tables.stdout.strip() == "3"
        # The scoring server followed the demo's moves to its last champion (v1) ...
        wait_for(
            lambda: httpx.get(f"{serving}/version", timeout=10).json()["champion"] == "1",
            60,
            "the scoring server to serve the champion",
        )
        assert httpx.get(f"{serving}/ping", timeout=10).status_code == 200
        rows = make_dataset(SyntheticSpec(rows=5, seed=3))[list(FEATURES)]
        answer = httpx.post(
            f"{serving}/invocations",
            json={"dataframe_split": json.loads(rows.to_json(orient="split", index=False))},
            timeout=60,
        )
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Model-Version"] == "1"
        assert len(answer.json()["predictions"]) == 5
        # ... and Prometheus scrapes it.
        prometheus = f"http://127.0.0.1:{ports['PROMETHEUS_PORT']}"

        def scraped() -> bool:
            query = 'mlops_guard_serving_requests_total{job="mlops_guard_serving"}'
            found = httpx.get(f"{prometheus}/api/v1/query", params={"query": query}, timeout=10)
            return bool(found.json()["data"]["result"])

        wait_for(scraped, 60, "Prometheus to scrape the scoring server")
    finally:
        stopped = stack("stop", str(directory), timeout=300)
    assert stopped.returncode == 0, stopped.stderr
    for name in ("PREFECT_PORT", "MLFLOW_PORT", "RECEIVER_PORT", "SERVING_PORT", "PROMETHEUS_PORT"):
        assert _closed(ports[name]), name
    assert not (directory / "postgres" / "data" / "postmaster.pid").exists()
    assert stack("status", str(directory), timeout=120).returncode == 3
    shutil.rmtree(outer, ignore_errors=True)
