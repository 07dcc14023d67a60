"""The Grafana dashboards in deployments/grafana/, proved against a real Prometheus fed with what
the demo exports and what a real scoring server serves on /metrics after live traffic: every
panel's query returns data, and every metric a panel names is one that mlops_guard.metrics
defines.

No Grafana runs here (no package of it on these machines): this checks the queries and the
provisioning files, not Grafana's rendering.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from mlops_guard.demo import SyntheticSpec, make_dataset
from tests.alerts._helpers import free_port, wait_for
from tests.alerts._servers import prometheus, require, run_server
from tests.serving.conftest import FEATURES, _migrated_store, trained_store

__all__ = ["_migrated_store", "trained_store"]  # fixtures: imported so this module can use them

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deployments" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
NODE_EXPORTER = "prometheus-node-exporter"
METRIC = re.compile(r"\bmlops_guard_[a-z0-9_]+")
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")


def _panels() -> list[tuple[str, dict[str, Any]]]:
    return [
        (path.stem, panel)
        for path in DASHBOARDS
        for panel in json.loads(path.read_text())["panels"]
    ]


def _defined_metrics() -> set[str]:
    from mlops_guard.metrics import GuardMetrics

    return {metric.name for metric in GuardMetrics().registry.collect()}


def _metric_names(expr: str) -> set[str]:
    """The metric names a query reads; label values in quotes (job="mlops_guard_serving")
    are not metric names."""
    return set(METRIC.findall(re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)))


def _base(name: str) -> str:
    for suffix in HISTOGRAM_SERIES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _as_prometheus(expr: str, variables: dict[str, str]) -> str:
    """The query Grafana sends with every variable at its 'All' value."""
    for name, value in variables.items():
        expr = expr.replace(f"${name}", value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def test_the_dashboards_cover_the_areas_and_name_only_defined_metrics() -> None:
    assert {path.stem for path in DASHBOARDS} == {
        "pipeline-health",
        "data-quality-drift",
        "model-quality-canary",
        "registry-alerts",
        "training-monitors",
        "serving",
    }
    defined = _defined_metrics()
    for dashboard, panel in _panels():
        assert panel["datasource"]["uid"] == "prometheus", (dashboard, panel["title"])
        for target in panel["targets"]:
            names = {_base(name) for name in _metric_names(target["expr"])}
            assert names, (dashboard, panel["title"])
            # prometheus_client reports counters without their _total suffix.
            undefined = {
                n for n in names if n not in defined and n.removesuffix("_total") not in defined
            }
            assert not undefined, (dashboard, panel["title"], undefined)
    uids = [json.loads(path.read_text())["uid"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids)


def test_provisioning_points_grafana_at_the_dashboards_and_prometheus() -> None:
    datasource = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yaml").read_text())
    assert [d["uid"] for d in datasource["datasources"]] == ["prometheus"]
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/mlops-guard.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.servers
@pytest.mark.slow
def test_every_panel_returns_data_from_what_the_demo_exports(
    team_demo: Any, tmp_path: Path, trained_store: Path, request: pytest.FixtureRequest
) -> None:
    """The demo's textfiles go through node_exporter's textfile collector (the project's own
    textfile sink) into a real Prometheus, next to a real scoring server's /metrics (job
    mlops_guard_serving) while it answers live traffic with an API key, with a rejected request
    and a live drift check among it; each panel's query is then evaluated over its HTTP API."""
    from mlops_guard.serving._keys import hash_secret
    from tests.serving.conftest import start_served

    keys = tmp_path / "api-keys"
    keys.write_text(f"team-a:{hash_secret('team-a-secret')}\n")
    served, running = start_served(
        tmp_path / "served",
        trained_store,
        api_keys_file=keys,
        canary_judge=False,
        drift_every_requests=5,
        drift_window_rows=500,
        drift_min_rows=200,
    )
    request.addfinalizer(running.stop)
    binary = require(NODE_EXPORTER)[NODE_EXPORTER]
    metrics_dir = Path(team_demo.summary["artifacts"]["metrics_dir"])
    assert list(metrics_dir.glob("*.prom"))
    node_port = free_port()
    node_args = [
        f"--web.listen-address=127.0.0.1:{node_port}",
        "--collector.disable-defaults",
        "--collector.textfile",
        f"--collector.textfile.directory={metrics_dir}",
    ]
    config = tmp_path / "prometheus.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                "scrape_configs": [
                    {
                        "job_name": "node",
                        "honor_labels": True,
                        "static_configs": [{"targets": [f"127.0.0.1:{node_port}"]}],
                    },
                    {
                        "job_name": "mlops_guard_serving",
                        "static_configs": [{"targets": [served.url.removeprefix("http://")]}],
                    },
                ],
            }
        )
    )
    with (
        run_server(binary, node_args, node_port, tmp_path / "node", ready_path="/metrics"),
        prometheus(config, tmp_path) as server,
    ):

        def query(expr: str) -> list[Any]:
            answer = httpx.get(f"{server.url}/api/v1/query", params={"query": expr}, timeout=10)
            assert answer.status_code == 200, (expr, answer.text)
            body = answer.json()
            assert body["status"] == "success", (expr, body)
            return list(body["data"]["result"])

        wait_for(lambda: query('up{job="node"} == 1'), 60, "Prometheus scraping node_exporter")
        wait_for(lambda: query("mlops_guard_stage_runs_total"), 60, "the demo's series")
        wait_for(lambda: query('up{job="mlops_guard_serving"} == 1'), 60, "the scoring server")
        rows = make_dataset(SyntheticSpec(rows=100, seed=4))[list(FEATURES)]
        body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
        auth = {"Authorization": "Bearer team-a-secret"}

        def traffic() -> bool:
            # Live traffic until Prometheus has seen the counters move (a rate needs two
            # scrapes that differ), so the rate panels show requests, not a flat zero.
            answer = httpx.post(f"{served.url}/invocations", json=body, headers=auth, timeout=30)
            assert answer.status_code == 200, answer.text
            return bool(query("sum(rate(mlops_guard_serving_requests_total[1m])) > 0"))

        missing = {
            "dataframe_split": json.loads(
                rows.drop(columns=["age"]).to_json(orient="split", index=False)
            )
        }
        refused = httpx.post(f"{served.url}/invocations", json=missing, headers=auth, timeout=30)
        assert refused.status_code == 400, refused.text
        wait_for(traffic, 60, "Prometheus to see live traffic")
        served.server.settle()
        wait_for(
            lambda: query('mlops_guard_drift_share{job="mlops_guard_serving"}'),
            60,
            "the live drift check's series",
        )
        wait_for(
            lambda: query('mlops_guard_serving_errors_total{kind="missing_columns"}'),
            60,
            "the rejected request's series",
        )
        present = {s["metric"]["__name__"] for s in query('{__name__=~"mlops_guard_.+"}')}
        variables = {"model": ".*"}
        empty = []
        for dashboard, panel in _panels():
            for target in panel["targets"]:
                expr = _as_prometheus(target["expr"], variables)
                if not query(expr):
                    empty.append((dashboard, panel["title"], expr))
                # A fallback (`or ... * 0`) alone would return data with no series of the panel
                # behind it: at least one metric the panel names must be there.
                assert _metric_names(expr) & present, (dashboard, panel["title"])
        assert not empty, empty
        model_query = json.loads(DASHBOARDS[0].read_text())["templating"]["list"][0]
        assert model_query["definition"].startswith("label_values(mlops_guard_stage_runs_total")
        assert query('count by (model) (mlops_guard_stage_runs_total{model="churn"})')
