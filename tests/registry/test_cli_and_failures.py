"""The registry CLI in-process and as a subprocess, an unreachable MLflow, two rollbacks at once."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_guard.cli import main
from mlops_guard.errors import RegistryUnavailable
from mlops_guard.registry import get_champion, history, promote, rollback
from mlops_guard.registry._lock import lock_name
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings

MakeModel = Callable[..., list[str]]


def _cli() -> list[str]:
    found = shutil.which("mlops-guard") or str(Path(sys.executable).with_name("mlops-guard"))
    return [found] if Path(found).exists() else [sys.executable, "-m", "mlops_guard.cli"]


def _env(settings: GuardSettings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    env["MLOPS_GUARD_WORKDIR"] = str(settings.workdir)
    env["MLOPS_GUARD_REGISTRY_LOCK_BACKEND"] = "file"
    return env


def _ship_three(settings: GuardSettings, make_model: MakeModel) -> None:
    make_model(versions=3)
    for version in ("1", "2", "3"):
        promote("churn", version, reason="ship", actor="t", settings=settings)


def test_cli_promote_rollback_history_json(
    settings: GuardSettings, make_model: MakeModel, capsys: pytest.CaptureFixture[str]
) -> None:
    make_model(versions=2)
    assert main(["promote", "churn", "1", "--reason", "first"]) == 0
    assert main(["promote", "churn", "2"]) == 0
    capsys.readouterr()
    assert main(["rollback", "churn", "--reason", "latency", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert {k: out[k] for k in ("model", "from_version", "to_version", "reason")} == {
        "model": "churn",
        "from_version": "2",
        "to_version": "1",
        "reason": "latency",
    }
    assert out["alert_fingerprint"] is None
    assert out["at"].endswith("Z")
    assert out["actor"].startswith("cli")
    assert out["alias"] == "champion"

    assert main(["registry", "history", "churn", "--json"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [(e["action"], e["to_version"]) for e in events] == [
        ("promote", "1"),
        ("promote", "2"),
        ("rollback", "1"),
    ]
    assert all({"alias", "actor", "at", "reason"} <= set(e) for e in events)

    assert main(["registry", "history", "churn"]) == 0
    assert "rollback" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["rollback", "nope"], "no registered model 'nope'"),
        (["promote", "churn", "9"], "no version '9'"),
        (["rollback", "churn"], "no promotion of 'churn' left to undo"),
        (["registry", "history", "nope"], "no registered model"),
    ],
)
def test_cli_user_errors_exit_2_with_one_line(
    settings: GuardSettings,
    make_model: MakeModel,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    needle: str,
) -> None:
    make_model(versions=1)
    promote("churn", "1", reason="first", actor="t", settings=settings)
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1
    assert needle in captured.err
    assert get_champion("churn", settings) == "1"


def test_subprocess_nothing_to_roll_back_exits_2_without_traceback(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    make_model(versions=1)
    promote("churn", "1", reason="first", actor="t", settings=settings)
    done = subprocess.run(
        [*_cli(), "rollback", "churn"],
        env=_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert "version 1 stays champion" in done.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_tracking_server_is_reported_after_bounded_retries(
    settings: GuardSettings, capsys: pytest.CaptureFixture[str]
) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    down = GuardSettings(workdir=settings.workdir, tracking_uri=uri)
    with pytest.raises(RegistryUnavailable, match="after 3 tries"):
        rollback("churn", reason="alert", actor="t", settings=down)
    assert main(["rollback", "churn", "--tracking-uri", uri]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "nothing was changed" in err


def test_unreadable_sqlite_store_exits_3_and_leaves_the_alias(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    _ship_three(settings, make_model)
    db = settings.workdir / "mlflow.db"
    kept = db.with_suffix(".kept")
    os.replace(db, kept)
    try:
        db.write_bytes(b"this is not a database\n" * 512)
        done = subprocess.run(
            [*_cli(), "rollback", "churn", "--reason", "alert"],
            env={**_env(settings), "MLOPS_GUARD_REGISTRY_BACKOFF_SECONDS": "0.05"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.replace(kept, db)
    assert done.returncode == 3, done.stderr
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr
    assert get_champion("churn", settings) == "3"
    assert [e.action for e in history("churn", settings=settings)].count("rollback") == 0


@pytest.mark.slow  # two CLI processes start: about 15 s on a shared 2-core host
def test_two_rollbacks_started_together_move_once(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    from filelock import FileLock

    _ship_three(settings, make_model)
    lock_dir = settings.workdir / "locks"
    lock_dir.mkdir(parents=True, exist_ok=True)
    held = FileLock(str(lock_dir / f"{lock_name('churn')}.lock"))
    held.acquire()
    procs = []
    try:
        # Both decide on champion 3, then queue on the lock this test holds.
        procs = [
            subprocess.Popen(
                [*_cli(), "rollback", "churn", "--json", "--reason", f"responder {i}"],
                env=_env(settings),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(2)
        ]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            waiting = [
                r
                for r in read_runlog(settings.runlog_path)
                if r["event"] == "registry.lock_waiting"
            ]
            if len(waiting) == 2 or any(p.poll() is not None for p in procs):
                break
            time.sleep(0.1)  # polling interval of a condition with a deadline
        assert len(waiting) == 2, [p.poll() for p in procs]
    finally:
        held.release()
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 2], results
    loser = next(err for code, _out, err in results if code == 2)
    assert "already rolled back" in loser
    assert loser.count("\n") == 1
    winner = json.loads(next(out for code, out, _err in results if code == 0))
    assert (winner["from_version"], winner["to_version"]) == ("3", "2")
    assert get_champion("churn", settings) == "2"
    assert [e.action for e in history("churn", settings=settings)].count("rollback") == 1


def test_mlflow_http_budget_is_bounded_only_during_registry_calls(
    settings: GuardSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLOPS_GUARD_MLFLOW_HTTP_RESET", raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "42")
    uri = f"http://127.0.0.1:{_closed_port()}"
    down = GuardSettings(workdir=settings.workdir, tracking_uri=uri)
    seen: list[tuple[str | None, str | None]] = []

    from mlops_guard.registry._client import RegistryClient

    client = RegistryClient(down)
    client.call(
        "look",
        lambda: seen.append(
            (
                os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES"),
                os.environ.get("MLFLOW_HTTP_REQUEST_TIMEOUT"),
            )
        ),
    )
    assert seen == [("0", "42")]  # bounded retries; the user's timeout kept
    from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES

    # Back to MLflow's own budget, and the key stays: removing it would race with threads
    # copying the environment.
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == str(
        MLFLOW_HTTP_REQUEST_MAX_RETRIES.default
    )
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "42"
    # A child process started now inherits MLflow's default marked as ours, not as a setting.
    reset = os.environ["MLOPS_GUARD_MLFLOW_HTTP_RESET"].split(",")
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" in reset
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in reset
    client.call(
        "look again", lambda: seen.append((os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES"), None))
    )
    assert seen[-1] == ("0", None)  # bounded again on the next call


def test_a_stuck_lock_holder_gives_registry_unavailable_and_moves_nothing(
    settings: GuardSettings, make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    from filelock import FileLock

    _ship_three(settings, make_model)
    monkeypatch.setenv("MLOPS_GUARD_REGISTRY_LOCK_BACKEND", "file")
    monkeypatch.setenv("MLOPS_GUARD_REGISTRY_LOCK_TIMEOUT_SECONDS", "0.3")
    held = FileLock(str(settings.workdir / "locks" / f"{lock_name('churn')}.lock"))
    with held, pytest.raises(RegistryUnavailable, match="still held"):
        rollback("churn", reason="alert", actor="t", settings=settings)
    assert get_champion("churn", settings) == "3"
