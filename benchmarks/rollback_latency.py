"""Wall time of a rollback, from command to alias moved, on the default SQLite store.

Compares mlops-guard's rollback (read, lock, compare-and-set, move, record in MLflow) with what
a user would otherwise do: move the ``champion`` alias by hand with MLflow's client
(``MlflowClient.set_registered_model_alias``), which neither checks nor records anything.

Two measures:

* in process: ``mlops_guard.registry.rollback(...)`` vs ``set_registered_model_alias(...)``,
  median over ``--repeats`` promote/rollback cycles;
* command: ``mlops-guard rollback MODEL`` vs ``python -c "MlflowClient(...).set_..."``, each a
  fresh process (what an operator or an alert hook runs), median over ``--commands`` runs.

Usage: ``python benchmarks/rollback_latency.py [--repeats 30] [--commands 3]``. Writes
``benchmarks/results/rollback_latency.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

MODEL = "churn"
RESULTS = Path(__file__).resolve().parent / "results" / "rollback_latency.json"


def _cli() -> list[str]:
    found = shutil.which("mlops-guard") or str(Path(sys.executable).with_name("mlops-guard"))
    return [found] if Path(found).exists() else [sys.executable, "-m", "mlops_guard.cli"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="in-process cycles")
    parser.add_argument("--commands", type=int, default=3, help="fresh-process runs of each")
    args = parser.parse_args()

    from mlflow import MlflowClient

    from mlops_guard.registry import get_champion, history, promote, rollback
    from mlops_guard.settings import GuardSettings

    workdir = Path(tempfile.mkdtemp(prefix="mlops-guard-bench-"))
    settings = GuardSettings(workdir=workdir)
    os.environ["MLOPS_GUARD_WORKDIR"] = str(workdir)
    os.environ["MLOPS_GUARD_REGISTRY_LOCK_BACKEND"] = "file"
    uri = settings.mlflow_tracking_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL)
    for i in range(2):
        client.create_model_version(MODEL, source=str(workdir / f"m{i}"))
    promote(MODEL, "1", reason="baseline", actor="bench", settings=settings)

    guard_s: list[float] = []
    raw_s: list[float] = []
    for _ in range(args.repeats):
        promote(MODEL, "2", reason="bench", actor="bench", settings=settings)
        began = time.perf_counter()
        rollback(MODEL, reason="bench", actor="bench", settings=settings)
        guard_s.append(time.perf_counter() - began)
        assert get_champion(MODEL, settings) == "1"
        client.set_registered_model_alias(MODEL, "champion", "2")
        began = time.perf_counter()
        client.set_registered_model_alias(MODEL, "champion", "1")
        raw_s.append(time.perf_counter() - began)
    # Leave the recorded stack consistent after the raw moves.
    assert get_champion(MODEL, settings) == "1"

    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_API")}
    raw_cmd = [
        sys.executable,
        "-c",
        "from mlflow import MlflowClient; import sys; "
        f"c = MlflowClient(tracking_uri={uri!r}, registry_uri={uri!r}); "
        f"c.set_registered_model_alias({MODEL!r}, 'champion', '1')",
    ]
    cmd_guard: list[float] = []
    cmd_raw: list[float] = []
    for _ in range(args.commands):
        promote(MODEL, "2", reason="bench", actor="bench", settings=settings)
        began = time.perf_counter()
        subprocess.run(
            [*_cli(), "rollback", MODEL, "--reason", "bench"],
            env=env,
            check=True,
            capture_output=True,
        )
        cmd_guard.append(time.perf_counter() - began)
        assert get_champion(MODEL, settings) == "1"
        client.set_registered_model_alias(MODEL, "champion", "2")
        began = time.perf_counter()
        subprocess.run(raw_cmd, env=env, check=True, capture_output=True)
        cmd_raw.append(time.perf_counter() - began)

    figures = {
        "store": "sqlite (default, in the workdir)",
        "history_events_at_end": len(history(MODEL, settings=settings)),
        "in_process": {
            "repeats": args.repeats,
            "mlops_guard_rollback_median_s": statistics.median(guard_s),
            "mlops_guard_rollback_p90_s": sorted(guard_s)[int(0.9 * (len(guard_s) - 1))],
            "mlflow_set_alias_median_s": statistics.median(raw_s),
            "ratio": statistics.median(guard_s) / statistics.median(raw_s),
        },
        "command": {
            "runs": args.commands,
            "mlops_guard_rollback_cli_median_s": statistics.median(cmd_guard),
            "python_mlflow_set_alias_median_s": statistics.median(cmd_raw),
            "ratio": statistics.median(cmd_guard) / statistics.median(cmd_raw),
        },
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    ip, cmd = figures["in_process"], figures["command"]
    print(
        f"in process: rollback {ip['mlops_guard_rollback_median_s'] * 1000:.1f} ms vs "
        f"MLflow set_registered_model_alias {ip['mlflow_set_alias_median_s'] * 1000:.1f} ms "
        f"(ratio {ip['ratio']:.1f}x; median of {args.repeats})"
    )
    print(
        f"command:    mlops-guard rollback {cmd['mlops_guard_rollback_cli_median_s']:.2f} s vs "
        f"python + MLflow client {cmd['python_mlflow_set_alias_median_s']:.2f} s "
        f"(ratio {cmd['ratio']:.2f}x; median of {args.commands})"
    )
    print(f"figures written to {RESULTS}")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
