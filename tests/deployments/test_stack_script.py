"""scripts/start-monitoring-stack.sh starts a stack whose configs agree with each other.

The script is run as a user runs it, on ports that are all non-default, and Prometheus itself
is asked whether every target it was given answers: a port rewritten in one config but not in
another shows up as a target that is down (or missing), which is what no config check can see.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry, start_http_server
from pydantic import SecretStr

from mlops_guard.alerts import AlertsSettings, create_app
from mlops_guard.metrics import GuardMetrics
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import RecordingHandler, free_port, live_server, wait_for
from tests.alerts._servers import require

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "start-monitoring-stack.sh"
SERVERS = {
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-pushgateway": "prometheus-pushgateway",
    "prometheus-node-exporter": "prometheus-node-exporter",
}
# A name no exporter produces, so finding it proves the textfile went through node_exporter.
SAMPLE = "mlops_guard_stack_test_sample"

# The script's own variables: one left in the caller's environment would change what it starts.
STACK_VARIABLES = {
    "PUSHGATEWAY_PORT",
    "ALERTMANAGER_PORT",
    "PROMETHEUS_PORT",
    "NODE_EXPORTER_PORT",
    "RECEIVER_URL",
    "GUARDED_TARGETS",
    "SCRAPE_INTERVAL",
    "EVALUATION_INTERVAL",
}

pytestmark = [pytest.mark.slow, pytest.mark.servers]


def _require_servers() -> dict[str, str]:
    # Fails under CI=true, skips with the reason elsewhere (the shared rule of the server tests).
    return require(*SERVERS.values())


def _environment(**values: str) -> dict[str, str]:
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("MLOPS_GUARD_") and name not in STACK_VARIABLES
    }
    return {**inherited, **values}


def _run(action: str, directory: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), action, str(directory)],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _alive(pid: int) -> bool:
    # The servers outlive the script and are reparented; a parent that never reaps leaves a
    # stopped one as a zombie, which is as gone as a process gets.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _hex_address(text: str) -> str:
    """An address of /proc/net/tcp* (hex, in host byte order per 32-bit word) as text."""
    words = [bytes.fromhex(text[i : i + 8])[::-1] for i in range(0, len(text), 8)]
    address = ipaddress.ip_address(b"".join(words))
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def _bound_sockets(pid: int) -> set[tuple[str, str, int]]:
    """(protocol, address, port) of every listening TCP and bound UDP socket of the process."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:[") : -1])
    bound = set()
    for protocol in ("tcp", "tcp6", "udp", "udp6"):
        table = Path(f"/proc/{pid}/net/{protocol}")
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            # 0A is LISTEN for TCP; a UDP socket receives as soon as it is bound.
            if inode in inodes and (protocol.startswith("udp") or state == "0A"):
                address, port = local.split(":")
                bound.add((protocol.rstrip("6"), _hex_address(address), int(port, 16)))
    return bound


def _targets(prometheus: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/targets", params={"state": "active"}, timeout=5)
    response.raise_for_status()
    return list(response.json()["data"]["activeTargets"])


def _query(prometheus: str, expression: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=5)
    response.raise_for_status()
    return list(response.json()["data"]["result"])


@contextmanager
def _guarded_process() -> Iterator[int]:
    """A stand-in for a long-running guarded process: a /metrics endpoint on a free port."""
    registry = CollectorRegistry()  # empty: an answering target is all Prometheus needs
    port = free_port()
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


def test_stack_on_non_default_ports_scrapes_every_target_and_stops(tmp_path: Path) -> None:
    _require_servers()
    workdir = tmp_path / "guard"
    (workdir / "metrics").mkdir(parents=True)
    (workdir / "metrics" / "x.prom").write_text(
        f"# HELP {SAMPLE} written by the test\n# TYPE {SAMPLE} gauge\n"
        f'{SAMPLE}{{source="textfile"}} 42\n'
    )
    stack = tmp_path / "stack"
    # The real receiver, so the scrape target is the one `mlops-guard alerts serve` exposes.
    app = create_app(
        guard_settings=GuardSettings(workdir=workdir, webhook_token=SecretStr("stack-token")),
        settings=AlertsSettings(store=tmp_path / "inbox.sqlite"),
        handler=RecordingHandler(),
        metrics=GuardMetrics(),
    )
    ports = {name: free_port() for name in ("pushgateway", "alertmanager", "prometheus", "node")}
    assert len(set(ports.values())) == len(ports), "free_port handed out one port twice"

    with live_server(app) as receiver, _guarded_process() as guarded_port:
        receiver_port = int(receiver.rsplit(":", 1)[1])
        assert receiver_port != 9095
        env = _environment(
            MLOPS_GUARD_WORKDIR=str(workdir),
            MLOPS_GUARD_WEBHOOK_TOKEN="stack-token",
            PUSHGATEWAY_PORT=str(ports["pushgateway"]),
            ALERTMANAGER_PORT=str(ports["alertmanager"]),
            PROMETHEUS_PORT=str(ports["prometheus"]),
            NODE_EXPORTER_PORT=str(ports["node"]),
            RECEIVER_URL=receiver,
            GUARDED_TARGETS=f"127.0.0.1:{guarded_port}",
            # The first scrape then comes within a second of the targets being known.
            SCRAPE_INTERVAL="1s",
        )
        try:
            started = _run("start", stack, env)
            assert started.returncode == 0, started.stdout + started.stderr
            pids = {path.stem: int(path.read_text()) for path in stack.glob("*.pid")}
            assert set(pids) == {"prometheus", "alertmanager", "pushgateway", "node-exporter"}

            exports = [line for line in started.stdout.splitlines() if line.startswith("export ")]
            assert exports == [
                f"export MLOPS_GUARD_WORKDIR={workdir}",
                f"export MLOPS_GUARD_PUSHGATEWAY_URL=http://127.0.0.1:{ports['pushgateway']}",
                f"export MLOPS_GUARD_ALERTS_PORT={receiver_port}",
            ]
            for line in started.stdout.splitlines():
                assert line.startswith(("export ", "# ")), line  # stdout stays eval-able

            prometheus = f"http://127.0.0.1:{ports['prometheus']}"
            expected = {
                ("pushgateway", f"http://127.0.0.1:{ports['pushgateway']}/metrics"),
                ("mlops_guard_receiver", f"{receiver}/metrics"),
                ("mlops_guard", f"http://127.0.0.1:{guarded_port}/metrics"),
                ("node", f"http://127.0.0.1:{ports['node']}/metrics"),
            }
            seen: list[list[dict[str, Any]]] = [[]]

            def all_up() -> bool:
                seen[0] = _targets(prometheus)
                found = {(t["labels"]["job"], t["scrapeUrl"]) for t in seen[0]}
                return found == expected and all(t["health"] == "up" for t in seen[0])

            try:
                wait_for(all_up, 60, "every target up")
            except AssertionError:
                summary = [(t["scrapeUrl"], t["health"], t["lastError"]) for t in seen[0]]
                raise AssertionError(f"targets {summary}, expected {sorted(expected)}") from None

            alertmanagers = httpx.get(f"{prometheus}/api/v1/alertmanagers", timeout=5).json()
            assert [am["url"] for am in alertmanagers["data"]["activeAlertmanagers"]] == [
                f"http://127.0.0.1:{ports['alertmanager']}/api/v2/alerts"
            ]
            status = httpx.get(
                f"http://127.0.0.1:{ports['alertmanager']}/api/v2/status", timeout=5
            ).json()
            assert f"url: {receiver}/alertmanager" in status["config"]["original"]
            token_file = stack / "webhook-token"
            assert token_file.read_text() == "stack-token"
            assert token_file.stat().st_mode & 0o777 == 0o600

            samples = wait_for(
                lambda: _query(prometheus, f'{SAMPLE}{{job="node"}}'), 30, "the textfile sample"
            )
            assert [(s["metric"]["source"], s["value"][1]) for s in samples] == [("textfile", "42")]

            listening = {name: _bound_sockets(pid) for name, pid in pids.items()}
            assert listening == {
                "prometheus": {("tcp", "127.0.0.1", ports["prometheus"])},
                "alertmanager": {("tcp", "127.0.0.1", ports["alertmanager"])},
                "pushgateway": {("tcp", "127.0.0.1", ports["pushgateway"])},
                "node-exporter": {("tcp", "127.0.0.1", ports["node"])},
            }

            checked = _run("status", stack, env)
            assert checked.returncode == 0, checked.stdout + checked.stderr
            states = {line.split()[0]: line.split()[1] for line in checked.stdout.splitlines()}
            assert states == {
                "prometheus": "up",
                "alertmanager": "up",
                "pushgateway": "up",
                "node-exporter": "up",
                "receiver": "up",
            }
        finally:
            stopped = _run("stop", stack, env)

        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        wait_for(lambda: not any(map(_alive, pids.values())), 30, f"{pids} to exit")
        assert not list(stack.glob("*.pid"))
        after = _run("status", stack, env)
        assert after.returncode == 3, after.stdout + after.stderr
        # The receiver was not the script's to stop.
        assert httpx.get(f"{receiver}/healthz", timeout=5).status_code == 200


# What the script runs besides the servers; the test below offers it nothing else on PATH.
TOOLS = (
    *("bash", "cat", "dirname", "grep", "mkdir", "ps", "rm", "sed", "seq", "sleep", "sort", "uniq"),
    *("prometheus", "promtool", "prometheus-alertmanager", "prometheus-pushgateway"),
)


def test_without_node_exporter_the_node_job_is_left_out(tmp_path: Path) -> None:
    servers = _require_servers()
    tools = tmp_path / "bin"
    tools.mkdir()
    for tool in TOOLS:
        path = servers.get(tool) or shutil.which(tool)
        assert path, f"{tool} is not installed"
        (tools / tool).symlink_to(path)
    stack = tmp_path / "stack"
    env = _environment(
        PATH=str(tools),
        MLOPS_GUARD_WORKDIR=str(tmp_path / "guard"),
        PUSHGATEWAY_PORT=str(free_port()),
        ALERTMANAGER_PORT=str(free_port()),
        PROMETHEUS_PORT=str(free_port()),
        RECEIVER_URL=f"http://127.0.0.1:{free_port()}",
        GUARDED_TARGETS="",
    )
    try:
        started = _run("start", stack, env)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "prometheus-node-exporter is missing" in started.stderr
        assert "# node_exporter" not in started.stdout  # no URL of a server that is not there
        config = yaml.safe_load((stack / "prometheus.yml").read_text())
        assert [job["job_name"] for job in config["scrape_configs"]] == [
            "pushgateway",
            "mlops_guard_receiver",
        ]
        checked = _run("status", stack, env)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert "node-exporter  not started" in checked.stdout
    finally:
        stopped = _run("stop", stack, env)
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
