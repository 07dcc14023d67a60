"""The real alerting chain for a drill: Pushgateway -> Prometheus -> Alertmanager -> the
drill's receiver, on free 127.0.0.1 ports, in the scenario's directory.

Configured from the project's deployment files, changed only where a drill must:

* ``prometheus/prometheus.yml``: only the ``pushgateway`` job is kept (the drill's pipelines
  push; nothing else runs), the rule file ``rules/mlops_guard.rules.yml`` is used as is, and
  the scrape and evaluation intervals are 1 s. Prometheus' 15 s of the deployed file would add
  up to 30 s to every detection (a push waits up to one scrape, the rule up to one
  evaluation), which measures the intervals, not the product.
* ``alertmanager/alertmanager.yml``: the route is unchanged; the ``mlops-guard-rollback``
  receiver posts to the drill's receiver (``<receiver>/alertmanager``) with the run's bearer
  token, read from a file (mode 0600) as in a deployment.

The processes serve every run of one scenario and live in the scenario's directory (see
:class:`AlertChain` for what is per run and how one run's series and alerts are kept from the
next). Without the binaries or the files, :func:`resolve_chain` says why and the drill uses
the built-in evaluator (:class:`mlops_guard.drills._alerting.RuleEvaluator`).
"""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "BINARIES",
    "INTERVAL",
    "AlertChain",
    "ChainSetup",
    "default_deployments",
    "resolve_chain",
]

_log = logging.getLogger("mlops_guard.drills")

#: Debian's package names of the binaries (apt-get install prometheus
#: prometheus-alertmanager prometheus-pushgateway).
BINARIES = {
    "pushgateway": "prometheus-pushgateway",
    "prometheus": "prometheus",
    "alertmanager": "prometheus-alertmanager",
}
#: Scrape and evaluation interval in a drill (the deployed file: 15 s; see the module docs).
INTERVAL = "1s"
#: A server that does not answer its readiness endpoint in this long failed to start (a
#: loaded 2-core machine starts Prometheus in about a second).
STARTUP_SECONDS = 60.0
#: After the wipe, the next scrape marks the series stale and the next evaluation resolves the
#: alert: about 2 s at 1 s intervals; this long means Prometheus is stuck.
_RESOLVE_SECONDS = 30.0
_POLL_SECONDS = 0.05
_INSTALL = "apt-get install prometheus prometheus-alertmanager prometheus-pushgateway"


@dataclass(frozen=True)
class ChainSetup:
    """Where the binaries and the deployment files are."""

    binaries: dict[str, str]
    deployments: Path

    @property
    def prometheus_config(self) -> Path:
        return self.deployments / "prometheus" / "prometheus.yml"

    @property
    def rules(self) -> Path:
        return self.deployments / "prometheus" / "rules" / "mlops_guard.rules.yml"

    @property
    def alertmanager_config(self) -> Path:
        return self.deployments / "alertmanager" / "alertmanager.yml"


def default_deployments() -> Path | None:
    """The repository's ``deployments/`` next to the package (a source checkout), if any."""
    import mlops_guard

    found = Path(mlops_guard.__file__).resolve().parents[1] / "deployments"
    return found if found.is_dir() else None


def _which(name: str) -> str | None:
    # Debian installs them in /usr/bin; a PATH without it (a minimal service) still finds them.
    return shutil.which(name) or shutil.which(name, path="/usr/bin:/usr/sbin")


def resolve_chain(deployments: Path | None = None) -> tuple[ChainSetup | None, str]:
    """The chain to use, or None and the reason the built-in evaluator is used instead."""
    directory = deployments if deployments is not None else default_deployments()
    if directory is None:
        return None, (
            "no deployments/ directory next to the package: pass --deployments DIR "
            "(the repository's deployments/) to use Prometheus and Alertmanager"
        )
    found = {role: _which(name) for role, name in BINARIES.items()}
    missing = [BINARIES[role] for role, path in found.items() if path is None]
    if missing:
        return None, f"{', '.join(missing)} not installed ({_INSTALL})"
    setup = ChainSetup({k: str(v) for k, v in found.items()}, directory.resolve())
    absent = [
        str(p)
        for p in (setup.prometheus_config, setup.rules, setup.alertmanager_config)
        if not p.is_file()
    ]
    if absent:
        return None, (
            f"{', '.join(absent)} not found: pass --deployments DIR with prometheus/ and "
            "alertmanager/ as in the repository"
        )
    return setup, "prometheus"


def _free_port() -> int:
    # The servers bind the port themselves; another process could take it in between, and
    # then the server exits and _Server.start says so with its log.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout:.0f} s")
        time.sleep(_POLL_SECONDS)


def _get(url: str) -> Any:
    import httpx

    try:
        answer = httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return None
    return answer.json() if answer.status_code == 200 else None


class _Server:
    """One of the chain's processes: started, ready when ``/-/ready`` answers, stopped."""

    def __init__(self, role: str, binary: str, workdir: Path, port: int | None = None) -> None:
        self.role = role
        self.binary = binary
        self.workdir = workdir
        self.port = _free_port() if port is None else port
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = workdir / f"{role}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, *args: str) -> _Server:
        import httpx

        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as sink:
            self.process = subprocess.Popen(
                [self.binary, f"--web.listen-address=127.0.0.1:{self.port}", *args],
                stdout=sink,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        process = self.process

        def ready() -> bool:
            if process.poll() is not None:
                return True
            try:
                return httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            _wait(ready, STARTUP_SECONDS, f"{self.role} did not become ready")
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}; its log is {self.log}:\n{self._tail()}") from None
        if process.poll() is not None:
            raise RuntimeError(
                f"{self.role} exited with status {process.returncode} at start; "
                f"its log is {self.log}:\n{self._tail()}"
            )
        return self

    def _tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(20)


class AlertChain:
    """Pushgateway, Prometheus and Alertmanager for the runs of one scenario (module docs).

    Prometheus finds its scrape target and its Alertmanager through a discovery manager that
    publishes at most every 5 s, so a fresh Prometheus costs about 5 s before it can see a
    push: it and the Pushgateway are started once, at the first run. Alertmanager is started
    for each run (the run's receiver URL and token in its config, a fresh notification log,
    the same port, so Prometheus needs no rediscovery). At the end of a run the Pushgateway
    is wiped (admin API) and the run waits until Prometheus has no active alert left, so
    nothing of one run reaches the next; when that fails the chain is stopped and the next
    run starts a new one. :meth:`stop` (idempotent) ends every process.
    """

    def __init__(self, setup: ChainSetup, workdir: Path) -> None:
        self.setup = setup
        self.workdir = workdir
        self.pushgateway: _Server | None = None
        self.prometheus: _Server | None = None
        self.alertmanager: _Server | None = None
        self._manager_port = _free_port()
        self._wired = False
        self.runs = 0

    def begin_run(self) -> str:
        """Start the Pushgateway and Prometheus if not running; returns the gateway's URL
        (the run's ``pushgateway_url``)."""
        import yaml

        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.pushgateway is None:
            gateway = _Server("pushgateway", self.setup.binaries["pushgateway"], self.workdir)
            self.pushgateway = gateway
            # Debian's default persists to /var/lib/prometheus: keep the drill's groups its
            # own; the admin API wipes them between runs.
            gateway.start(
                f"--persistence.file={self.workdir / 'pushgateway.data'}",
                "--web.enable-admin-api",
            )
        if self.prometheus is None:
            config = self.workdir / "prometheus.yml"
            config.write_text(
                yaml.safe_dump(self._prometheus_config(self.pushgateway.port, self._manager_port))
            )
            prom = _Server("prometheus", self.setup.binaries["prometheus"], self.workdir)
            self.prometheus = prom
            prom.start(f"--config.file={config}", f"--storage.tsdb.path={self.workdir / 'tsdb'}")
            self._wired = False
        self.runs += 1
        return self.pushgateway.url

    def start_alerting(self, receiver_url: str, token: str) -> None:
        """Start this run's Alertmanager (posting to ``receiver_url``); return once
        Prometheus scrapes the Pushgateway and knows the Alertmanager."""
        import yaml

        if self.prometheus is None or self.pushgateway is None:
            raise RuntimeError("begin_run() must come before start_alerting()")
        run_dir = self.workdir / f"run-{self.runs}"
        run_dir.mkdir(parents=True, exist_ok=True)
        token_file = run_dir / "webhook-token"
        token_file.touch(mode=0o600)
        token_file.write_text(token, encoding="utf-8")
        am_config = run_dir / "alertmanager.yml"
        am_config.write_text(yaml.safe_dump(self._alertmanager_config(receiver_url, token_file)))
        manager = _Server(
            "alertmanager", self.setup.binaries["alertmanager"], run_dir, self._manager_port
        )
        self.alertmanager = manager
        manager.start(
            f"--config.file={am_config}",
            # Fresh per run: the notification log of an earlier run's alert (the same labels)
            # would hold this run's back until repeat_interval.
            f"--storage.path={run_dir / 'alertmanager-data'}",
            "--cluster.listen-address=",  # one node: no gossip port
        )
        if self._wired:
            return
        prom = self.prometheus

        def wired() -> bool:
            targets = _get(f"{prom.url}/api/v1/targets")
            managers = _get(f"{prom.url}/api/v1/alertmanagers")
            if not targets or not managers:
                return False
            active = targets["data"]["activeTargets"]
            return (
                bool(active)
                and all(t["health"] == "up" for t in active)
                and bool(managers["data"]["activeAlertmanagers"])
            )

        try:
            _wait(
                wired,
                STARTUP_SECONDS,
                "Prometheus did not scrape the Pushgateway and find Alertmanager",
            )
        except TimeoutError as exc:
            raise RuntimeError(f"{exc}; see {prom.log}") from None
        self._wired = True

    def end_run(self) -> None:
        """Stop the run's Alertmanager, wipe the Pushgateway and wait until Prometheus has
        no active alert (a scrape and an evaluation); else stop the whole chain."""
        import httpx

        if self.alertmanager is not None:
            self.alertmanager.stop()
            self.alertmanager = None
        gateway, prom = self.pushgateway, self.prometheus
        if gateway is None or prom is None:
            return

        def quiet() -> bool:
            found = _get(f"{prom.url}/api/v1/alerts")
            return found is not None and not found["data"]["alerts"]

        try:
            httpx.put(f"{gateway.url}/api/v1/admin/wipe", timeout=5).raise_for_status()
            _wait(quiet, _RESOLVE_SECONDS, "Prometheus kept an alert after the wipe")
        except (httpx.HTTPError, TimeoutError) as exc:
            _log.warning("drill: restarting the alert chain for the next run (%s)", exc)
            self.stop()

    def _servers(self) -> list[_Server]:
        # Prometheus first, so it sends nothing more; then Alertmanager, then the gateway.
        return [s for s in (self.prometheus, self.alertmanager, self.pushgateway) if s]

    def _prometheus_config(self, gateway_port: int, manager_port: int) -> dict[str, Any]:
        import yaml

        config: dict[str, Any] = yaml.safe_load(self.setup.prometheus_config.read_text())
        config["global"].update(scrape_interval=INTERVAL, evaluation_interval=INTERVAL)
        config["rule_files"] = [str(self.setup.rules)]
        config["alerting"]["alertmanagers"][0]["static_configs"] = [
            {"targets": [f"127.0.0.1:{manager_port}"]}
        ]
        jobs = [j for j in config["scrape_configs"] if j["job_name"] == "pushgateway"]
        if not jobs:
            raise RuntimeError(
                f"{self.setup.prometheus_config} has no scrape job named pushgateway: the "
                "drill's pipelines push there (restore the job from the repository's file)"
            )
        jobs[0]["static_configs"] = [{"targets": [f"127.0.0.1:{gateway_port}"]}]
        config["scrape_configs"] = jobs[:1]
        return config

    def _alertmanager_config(self, receiver_url: str, token_file: Path) -> dict[str, Any]:
        import yaml

        config: dict[str, Any] = yaml.safe_load(self.setup.alertmanager_config.read_text())
        found = [r for r in config.get("receivers", []) if r.get("name") == "mlops-guard-rollback"]
        if not found or not found[0].get("webhook_configs"):
            raise RuntimeError(
                f"{self.setup.alertmanager_config} has no mlops-guard-rollback receiver with a "
                "webhook: restore it from the repository's file"
            )
        hook = found[0]["webhook_configs"][0]
        hook["url"] = f"{receiver_url}/alertmanager"
        hook.setdefault("http_config", {})["authorization"] = {
            "type": "Bearer",
            "credentials_file": str(token_file),
        }
        return config

    def firing(self) -> list[dict[str, Any]]:
        """Alertmanager's active alerts (for the record and the tests)."""
        if self.alertmanager is None:
            return []
        found = _get(f"{self.alertmanager.url}/api/v2/alerts")
        return list(found or [])

    def stop(self) -> None:
        """Stop every process started (idempotent)."""
        for server in self._servers():
            try:
                server.stop()
            except Exception as exc:  # noqa: BLE001 - the others must still be stopped
                _log.warning(
                    "could not stop the drill's %s (%s: %s)",
                    server.role,
                    type(exc).__name__,
                    exc,
                )
        self.prometheus = self.alertmanager = self.pushgateway = None
