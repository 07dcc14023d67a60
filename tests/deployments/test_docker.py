"""docker/: the Dockerfile and the compose stack, checked statically (no Docker engine runs on
these machines): the compose file against the Compose specification's JSON schema (vendored in
docker/compose-spec.schema.json), and the rules a team stack must keep."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from graphlib import TopologicalSorter
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
SECRET_WORDS = re.compile(r"PASSWORD|TOKEN|SECRET|CREDENTIAL", re.IGNORECASE)
# A tag naming an exact release (v1.5.1, 15.10-bookworm, 11.3.0), never latest or a bare major.
PINNED_TAG = re.compile(r"^v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$")


def _compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def _validator() -> Any:
    import jsonschema

    schema = json.loads((DOCKER / "compose-spec.schema.json").read_text())
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def test_compose_file_validates_against_the_compose_specification() -> None:
    validator = _validator()
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(_compose())]
    assert not errors, errors
    # The schema is strict where it matters: a misspelt key or a wrong type is refused.
    for broken in (
        {"healthcheck": {"test": ["CMD", "true"], "intervall": "5s"}},
        {"depends_on": {"postgres": {"condition": "service_ready"}}},
        {"ports": "127.0.0.1:1:1"},
    ):
        data = copy.deepcopy(_compose())
        data["services"]["mlflow"].update(broken)
        assert not validator.is_valid(data), broken


def test_every_file_the_stack_mounts_or_builds_exists() -> None:
    data = _compose()
    for name, service in data["services"].items():
        build = service.get("build")
        if build:
            context = (DOCKER / build["context"]).resolve()
            assert (context / build["dockerfile"]).is_file(), name
        for env_file in service.get("env_file", []):
            assert (DOCKER / env_file).is_file(), (name, env_file)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert (DOCKER / source).exists(), (name, source)
            else:
                assert source in data["volumes"], (name, source)
    for name, secret in data["secrets"].items():
        path = DOCKER / secret["file"]
        assert path.is_file(), name
        assert path.resolve().parent == (DOCKER / "secrets").resolve()


def test_dockerfile_is_slim_non_root_and_installs_the_lock() -> None:
    text = (DOCKER / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in text.splitlines() if line[:1].isalpha()]
    base = [arg for op, arg in instructions if op == "FROM"]
    assert len(base) == 1
    assert re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+", base[0]), base
    users = [arg.strip() for op, arg in instructions if op == "USER"]
    assert users, "the image must not run as root"
    assert users[-1].split(":")[0] not in {"0", "root"}
    assert "-c constraints.txt" in text
    assert "[test" not in text
    assert "torch" not in text
    for op, arg in instructions:
        if op == "COPY":
            *sources, _ = arg.split()
            for source in sources:
                assert (ROOT / source).exists(), source


def test_images_are_pinned_and_ours_is_the_package_version() -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    for name, service in _compose()["services"].items():
        image = service["image"]
        assert "@" not in image or image.split("@")[1].startswith("sha256:")
        repository, _, tag = image.partition(":")
        assert PINNED_TAG.match(tag), (name, image)
        if repository == "mlops-guard":
            assert tag == version, (name, image)


def test_services_have_healthchecks_and_start_in_dependency_order() -> None:
    services = _compose()["services"]
    graph: dict[str, set[str]] = {}
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
        depends = service.get("depends_on", {})
        for dependency, rule in depends.items():
            assert dependency in services, (name, dependency)
            assert rule == {"condition": "service_healthy"}, (name, dependency)
        graph[name] = set(depends)
    order = list(TopologicalSorter(graph).static_order())  # raises CycleError on a cycle
    assert order.index("postgres") < order.index("prefect-server") < order.index("prefect-worker")
    assert order.index("mlflow") < order.index("receiver") < order.index("alertmanager")
    assert order.index("prometheus") < order.index("grafana")
    assert order.index("mlflow") < order.index("serving")


def test_the_scoring_server_follows_mlflow_and_the_receiver_reloads_it() -> None:
    services = _compose()["services"]
    serving = services["serving"]
    assert serving["image"] == services["receiver"]["image"]
    assert "mlflow" in serving["depends_on"]
    assert "/ping" in " ".join(serving["healthcheck"]["test"])
    assert serving["ports"] == ["127.0.0.1:8080:8080"]
    command = " ".join(serving["command"])
    assert "mlops-guard serve churn --host 0.0.0.0 --port 8080" in command
    assert serving["environment"]["MLOPS_GUARD_SERVING_WAIT_FOR_CHAMPION"] == "true"
    # One reload token, a Docker secret both read at start: the server checks it, the
    # receiver sends it to the serving service's address.
    for name in ("serving", "receiver"):
        service = services[name]
        assert "serving_reload_token" in service["secrets"], name
        # "$$" is Compose's escape of "$": the shell reads the secret, not Compose.
        assert (
            'MLOPS_GUARD_SERVING_RELOAD_TOKEN="$$(cat /run/secrets/serving_reload_token)"'
            in " ".join(service["command"])
        ), name
    assert services["receiver"]["environment"]["MLOPS_GUARD_SERVING_URL"] == "http://serving:8080"


def test_ports_bind_to_loopback_and_secrets_stay_out_of_the_file() -> None:
    data = _compose()
    for name, service in data["services"].items():
        for port in service.get("ports", []):
            assert isinstance(port, str), (name, port)
            assert port.startswith("127.0.0.1:"), (name, port)
        for key, value in service.get("environment", {}).items():
            if SECRET_WORDS.search(key):
                assert key.endswith("_FILE"), key
                assert str(value).startswith("/run/secrets/"), key
        text = yaml.safe_dump(service)
        # Credentials in a URL would be written out literally: only a secret read at start.
        assert not re.search(r"://[^/\s:@]+:[^$/\s@]+@", text), name
    env = (DOCKER / "team.env").read_text()
    settings = [line for line in env.splitlines() if line.strip() and not line.startswith("#")]
    assert settings
    assert not [line for line in settings if SECRET_WORDS.search(line.split("=")[0])]


def test_configs_are_the_deployments_ones_with_service_addresses() -> None:
    ours = (ROOT / "deployments/alertmanager/alertmanager.yml").read_text()
    theirs = (DOCKER / "alertmanager.yml").read_text()
    expected = ours.replace(
        "http://127.0.0.1:9095/alertmanager", "http://receiver:9095/alertmanager"
    ).replace("/etc/mlops-guard/webhook-token", "/run/secrets/webhook_token")
    assert theirs.endswith(expected)
    prometheus = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["pushgateway"]["honor_labels"] is True
    assert jobs["mlops_guard_receiver"]["static_configs"][0]["targets"] == ["receiver:9095"]
    assert jobs["mlops_guard_serving"]["static_configs"][0]["targets"] == ["serving:8080"]
    # The same jobs as deployments/prometheus/prometheus.yml, less the guarded processes the
    # compose stack does not run.
    source = yaml.safe_load((ROOT / "deployments/prometheus/prometheus.yml").read_text())
    shipped = [job["job_name"] for job in source["scrape_configs"]]
    assert list(jobs) == [name for name in shipped if name != "mlops_guard"]
    binary = shutil.which("promtool")
    if binary is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool is missing under CI=true: .ci/run must install prometheus")
        pytest.skip("promtool not installed (Debian package prometheus); CI installs it")
    promtool = subprocess.run(
        [binary, "check", "config", "--syntax-only", str(DOCKER / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert promtool.returncode == 0, promtool.stdout + promtool.stderr


def test_compose_runs_the_services_the_stack_script_starts() -> None:
    """Same topology both ways: the stack script's services and ports are compose's, with
    Grafana only in compose (no Grafana package exists for these machines)."""
    listed = subprocess.run(
        [str(ROOT / "scripts" / "stack"), "services"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout.split("\n")
    stack = dict(line.split() for line in listed if line.strip())
    compose: dict[str, str] = {}
    for name, service in _compose()["services"].items():
        ports = service.get("ports", [])
        compose[name] = ports[0].split(":")[1] if ports else "-"
    assert {k: v for k, v in compose.items() if k != "grafana"} == stack
