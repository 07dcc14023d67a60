"""Latency of the alert receiver: webhook POST to champion alias moved, p50 and p99.

    .venv/bin/python benchmarks/receiver_latency.py [--alerts 200]
    .venv/bin/python benchmarks/receiver_latency.py --first [--rounds 5]

Each round promotes version 2 (so there is a promotion to undo), POSTs a new firing alert
(own fingerprint) to a real `mlops_guard.alerts` receiver on loopback (uvicorn, SQLite inbox,
real MLflow registry on SQLite) and waits until the inbox row is done, which the processor
records right after the registry moved the alias. The baseline is what a user would otherwise
run in the same process: `mlops_guard.registry.rollback(...)` called directly, with no webhook,
no durable inbox and no de-duplication. The ratio is the price of those guarantees.
Figures go to benchmarks/results/receiver_latency.json.

``--first`` times what a user meets after a deploy or a restart: each round starts a fresh
``mlops-guard alerts serve`` process (in-process rollback mode, the same SQLite registry), waits
until ``/healthz`` answers 200, POSTs one alert and times it until the inbox row is done. It
also reports how long the process took to become healthy, where the warm-up now sits.
Figures go to benchmarks/results/receiver_first_alert.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import save

MODEL = "churn"
POLL_SECONDS = 0.002  # poll interval of the completion check (a deadline loop, not a wait)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _payload(i: int) -> dict[str, object]:
    return {
        "version": "4",
        "status": "firing",
        "receiver": "mlops-guard-rollback",
        "groupKey": "{}",
        "alerts": [
            {
                "status": "firing",
                "labels": {
                    "alertname": "ModelErrorRateHigh",
                    "action": "rollback",
                    "model": MODEL,
                    "model_version": "2",
                    "round": str(i),
                },
                "annotations": {"summary": "benchmark"},
                "startsAt": "2026-11-23T16:00:00Z",
                "fingerprint": f"{i:016x}",
            }
        ],
    }


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def _fresh_receiver_round(
    command: list[str], workdir: Path, inbox: Path, i: int
) -> tuple[float, float]:
    """Start a receiver process, wait until healthy, time one alert; (startup, first alert)."""
    import httpx

    from mlops_guard.alerts import AlertStore

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "MLOPS_GUARD_WORKDIR": str(workdir),
        "MLOPS_GUARD_ALERTS_STORE": str(inbox),
        "MLOPS_GUARD_ALERTS_ROLLBACK_MODE": "in_process",
    }
    env.pop("MLOPS_GUARD_WEBHOOK_TOKEN", None)
    env.pop("PREFECT_API_URL", None)

    def healthy() -> bool:
        try:
            return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    launched = time.perf_counter()
    process = subprocess.Popen(
        [*command, "alerts", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(healthy, 120, "the receiver to answer /healthz")
        startup = time.perf_counter() - launched
        started = time.perf_counter()
        response = httpx.post(f"{url}/alertmanager", json=_payload(i), timeout=30)
        row_id = response.json()["stored"][0]["id"]
        with AlertStore(inbox) as reader:

            def finished() -> bool:
                row = reader.get(row_id)
                return row is not None and row.state in ("done", "failed", "skipped")

            _wait(finished, 120, "the first alert to be acted on")
            elapsed = time.perf_counter() - started
            row = reader.get(row_id)
    finally:
        process.terminate()
        process.wait(30)
    assert row is not None
    if row.state != "done":
        raise SystemExit(f"round {i}: alert ended {row.state}: {row.last_error}")
    return startup, elapsed


def first_alert(rounds: int) -> None:
    """Fresh receiver process per round: start -> healthy, then POST -> alias moved."""
    from mlops_guard import registry
    from tests.alerts._models import build_registry

    workdir = Path(tempfile.mkdtemp(prefix="receiver-first-"))
    print("registering two versions of a small model ...", flush=True)
    settings = build_registry(workdir / "guard")
    exe = shutil.which("mlops-guard") or str(Path(sys.executable).with_name("mlops-guard"))
    command = [exe] if Path(exe).exists() else [sys.executable, "-m", "mlops_guard.cli"]
    startup: list[float] = []
    first: list[float] = []
    for i in range(rounds):
        if registry.get_champion(MODEL, settings=settings) != "2":
            registry.promote(MODEL, "2", reason="benchmark round", actor="bench", settings=settings)
        up, elapsed = _fresh_receiver_round(
            command, settings.workdir, workdir / f"inbox-{i}.sqlite", i
        )
        startup.append(up)
        first.append(elapsed)
        print(
            f"round {i}: healthy after {up:.2f} s, "
            f"first alert POST -> alias moved {elapsed * 1000:.0f} ms",
            flush=True,
        )
    figures = {
        "rounds": rounds,
        "first_alert_seconds": {
            "median": statistics.median(first),
            "max": max(first),
            "all": first,
        },
        "start_to_healthy_seconds": {"median": statistics.median(startup), "all": startup},
    }
    path = save("receiver_first_alert", figures)
    print(
        f"first alert after a start, POST -> alias moved: median "
        f"{statistics.median(first) * 1000:.0f} ms, max {max(first) * 1000:.0f} ms over "
        f"{rounds} fresh receivers (start -> healthy median {statistics.median(startup):.2f} s)"
        f" -> {path}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200, help="alerts to time (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    parser.add_argument(
        "--first", action="store_true", help="time the first alert of fresh receiver processes"
    )
    parser.add_argument("--rounds", type=int, default=5, help="fresh receivers with --first")
    args = parser.parse_args()
    if args.first:
        first_alert(args.rounds)
        return

    import httpx
    import uvicorn

    from mlops_guard import registry
    from mlops_guard.alerts import AlertsSettings, AlertStore, create_app
    from tests.alerts._models import build_registry

    workdir = Path(tempfile.mkdtemp(prefix="receiver-bench-"))
    print("registering two versions of a small model ...", flush=True)
    settings = build_registry(workdir / "guard")

    def promote() -> None:
        registry.promote(MODEL, "2", reason="benchmark round", actor="bench", settings=settings)

    alert_settings = AlertsSettings(store=workdir / "inbox.sqlite")
    app = create_app(guard_settings=settings, settings=alert_settings)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("receiver did not start")
        time.sleep(POLL_SECONDS)

    # Rounds alternate between the receiver and the baseline, so that drift over the run (the
    # alias history grows by two events a round) weighs on both alike.
    latencies: list[float] = []
    direct: list[float] = []
    reader = AlertStore(alert_settings.store_path(settings.workdir))
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for i in range(args.warmup + args.alerts):
            promote()
            started = time.perf_counter()
            registry.rollback(MODEL, reason="direct", actor="bench", settings=settings)
            direct_elapsed = time.perf_counter() - started

            promote()
            started = time.perf_counter()
            response = client.post("/alertmanager", json=_payload(i))
            row_id = response.json()["stored"][0]["id"]
            while True:
                row = reader.get(row_id)
                if row is not None and row.state in ("done", "failed", "skipped"):
                    break
                time.sleep(POLL_SECONDS)
            elapsed = time.perf_counter() - started
            if row.state != "done":
                raise SystemExit(f"round {i}: alert ended {row.state}: {row.last_error}")
            if i >= args.warmup:
                latencies.append(elapsed)
                direct.append(direct_elapsed)
    server.should_exit = True
    thread.join(30)
    reader.close()
    assert registry.get_champion(MODEL, settings=settings) == "1"

    figures = {
        "alerts": args.alerts,
        "receiver_seconds": {
            "p50": _percentile(latencies, 0.5),
            "p99": _percentile(latencies, 0.99),
            "mean": statistics.fmean(latencies),
            "max": max(latencies),
        },
        "direct_rollback_seconds": {
            "p50": _percentile(direct, 0.5),
            "p99": _percentile(direct, 0.99),
            "mean": statistics.fmean(direct),
        },
    }
    ratio = figures["receiver_seconds"]["p50"] / figures["direct_rollback_seconds"]["p50"]
    figures["ratio_p50_receiver_over_direct"] = ratio
    path = save("receiver_latency", figures)
    r, d = figures["receiver_seconds"], figures["direct_rollback_seconds"]
    print(
        f"receiver  POST -> alias moved: p50 {r['p50'] * 1000:.0f} ms, "
        f"p99 {r['p99'] * 1000:.0f} ms over {args.alerts} alerts"
    )
    print(
        f"direct    registry.rollback(): p50 {d['p50'] * 1000:.0f} ms, p99 {d['p99'] * 1000:.0f} ms"
    )
    print(f"ratio (p50 receiver / p50 direct): {ratio:.2f}x  -> {path}")


if __name__ == "__main__":
    main()
