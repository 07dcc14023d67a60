"""Latency of the alert receiver: webhook POST to champion alias moved, p50 and p99.

    /tmp/venv/bin/python benchmarks/receiver_latency.py [--alerts 200]

Each round promotes version 2 (so there is a promotion to undo), POSTs a new firing alert
(own fingerprint) to a real `mlops_guard.alerts` receiver on loopback (uvicorn, SQLite inbox,
real MLflow registry on SQLite) and waits until the inbox row is done, which the processor
records right after the registry moved the alias. The baseline is what a user would otherwise
run in the same process: `mlops_guard.registry.rollback(...)` called directly, with no webhook,
no durable inbox and no de-duplication. The ratio is the price of those guarantees.
Figures go to benchmarks/results/receiver_latency.json.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=200, help="alerts to time (default 200)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    args = parser.parse_args()

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
