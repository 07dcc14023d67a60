"""``mlops-guard report`` on a real demo run, opened in a real headless Chromium (Debian's):
the page loads from disk with no console error and no request leaving the file, every section
is in the DOM with its plots drawn, and the screenshot is not blank."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.cli import main
from mlops_guard.report import SECTIONS

pytestmark = [pytest.mark.servers, pytest.mark.slow]


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        reason = "chromium not installed (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return found


# Chromium's own services (component updates, network time, sign-in), which it calls at start
# whatever page it opens, even with background networking switched off: no page can cause these.
CHROMIUM_OWN_HOSTS = frozenset(
    {
        "update.googleapis.com",
        "accounts.google.com",
        "clients2.google.com",
        "redirector.gvt1.com",
        "edgedl.me.gvt1.com",
        "optimizationguide-pa.googleapis.com",
        "safebrowsingohttpgateway.googleapis.com",
    }
)


def _host(request_line: str) -> str:
    """The host an HTTP proxy request names: ``CONNECT host:443 ...`` or ``GET http://host/...``."""
    parts = request_line.split()
    if len(parts) < 2:
        return request_line
    target = parts[1].removeprefix("http://").removeprefix("https://")
    return target.split("/", 1)[0].rsplit(":", 1)[0]


class _Trap:
    """A proxy that answers nothing and records who connects: Chromium sends every http(s)
    request through it, so any request it records (Chromium's own services aside) is a
    request leaving the file."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.requests: list[str] = []
        self.server.settimeout(0.2)
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            connection.settimeout(2)
            try:
                head = connection.recv(4096).split(b"\r\n", 1)[0].decode("latin-1")
            except OSError:
                head = "<no request line>"
            self.requests.append(head)
            connection.close()

    def leaving_the_file(self) -> list[str]:
        return [line for line in self.requests if _host(line) not in CHROMIUM_OWN_HOSTS]

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(5)
        self.server.close()


def _flow_run(workdir: Path) -> str:
    for line in (workdir / "logs" / "runlog.jsonl").read_text().splitlines():
        event = json.loads(line)
        if event["event"] == "demo.started":
            return str(event["flow_run_id"])
    raise AssertionError("no demo.started event")


def test_report_of_the_demo_run_loads_offline_in_chromium(
    team_demo: Any,
    postgres: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    browser = _chromium()
    # The demo's own MLflow store, where the report is also logged.
    monkeypatch.setenv("MLOPS_GUARD_TRACKING_URI", postgres.sqlalchemy_url(team_demo.database))
    out = tmp_path / "report.html"
    workdir = Path(team_demo.workdir)
    assert main(["report", "--workdir", str(workdir), "--flow-run", _flow_run(workdir), "-o",
                 str(out)]) == 0  # fmt: skip
    assert "report written" in capsys.readouterr().out
    page = out.read_text()
    # Content of the run, not just headings.
    assert "rows_quarantined" in page
    assert "alertmanager" in page  # the alert's rollback in the alias history
    assert '"job": "train"' not in page  # summaries are tabulated, not dumped
    assert "train" in page

    trap = _Trap()
    profile = tmp_path / "chromium-profile"
    common = [
        browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        f"--user-data-dir={profile}", f"--proxy-server=http://127.0.0.1:{trap.port}",
        "--proxy-bypass-list=<-loopback>", "--enable-logging=stderr", "--v=0",
        "--virtual-time-budget=10000", "--window-size=1280,2400",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-pings", "--disable-domain-reliability", "--disable-extensions",
    ]  # fmt: skip
    try:
        dom = subprocess.run(
            [*common, "--dump-dom", out.as_uri()],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        shot = tmp_path / "report.png"
        screenshot = subprocess.run(
            [*common, f"--screenshot={shot}", out.as_uri()],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
    finally:
        trap.close()
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert screenshot.returncode == 0, screenshot.stderr[-2000:]
    assert trap.leaving_the_file() == []
    console = [line for line in dom.stderr.splitlines() if "CONSOLE" in line]
    assert not [line for line in console if "rror" in line or "Uncaught" in line], console
    for key, _ in SECTIONS:
        assert f'<section id="{key}">' in dom.stdout, key
    # Plotly ran: the figures are drawn as SVG in the live DOM, not only embedded as JSON.
    assert dom.stdout.count('class="main-svg"') >= 3

    from PIL import Image

    image = Image.open(shot).convert("L")
    low, high = image.getextrema()
    assert high - low > 100
    assert len(set(image.resize((320, 600)).getdata())) > 20
