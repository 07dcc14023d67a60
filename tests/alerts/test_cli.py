"""`mlops-guard alerts ...`: in-process through cli.main, and as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_guard.alerts import AlertStore, WebhookPayload
from mlops_guard.cli import main
from tests.alerts._helpers import alert, payload


def _command() -> list[str]:
    exe = shutil.which("mlops-guard") or str(Path(sys.executable).with_name("mlops-guard"))
    return [exe] if Path(exe).exists() else [sys.executable, "-m", "mlops_guard.cli"]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_command(), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_inbox_json_lists_stored_alerts(workdir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with AlertStore(workdir / "alerts" / "inbox.sqlite") as store:
        body = payload(alert("f1f1f1f1f1f1f1f1"), alert("f2f2f2f2f2f2f2f2", status="resolved"))
        store.add(WebhookPayload.model_validate(body).alerts, receiver="r")
    assert main(["alerts", "inbox", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["fingerprint"], r["state"]) for r in rows] == [
        ("f1f1f1f1f1f1f1f1", "pending"),
        ("f2f2f2f2f2f2f2f2", "recorded"),
    ]
    assert main(["alerts", "inbox", "--json", "--state", "recorded"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 1


def test_inbox_without_a_store_is_a_one_line_error(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "inbox"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert "does not exist" in captured.err


def test_serve_rejects_a_bad_port_in_process(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["alerts", "serve", "--port", "70000"]) == 2
    assert "--port 70000" in capsys.readouterr().err


def test_serve_refuses_a_public_address_without_token(workdir: Path) -> None:
    done = _run("alerts", "serve", "--host", "0.0.0.0", env={"MLOPS_GUARD_WEBHOOK_TOKEN": ""})
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "0.0.0.0" in lines[0]
    assert "MLOPS_GUARD_WEBHOOK_TOKEN" in lines[0]
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_serve_on_a_busy_port_is_a_one_line_error(workdir: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        done = _run("alerts", "serve", "--port", str(port))
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert f"127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_second_receiver_on_one_inbox_is_refused(workdir: Path) -> None:
    with AlertStore(workdir / "alerts" / "inbox.sqlite", exclusive=True):
        done = _run("alerts", "serve", "--port", "0")
    assert done.returncode == 2
    assert "in use by another receiver" in done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
