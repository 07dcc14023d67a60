"""``mlops-guard serve`` against ``mlflow models serve``, the server a user would otherwise run.

    python benchmarks/serve_vs_mlflow.py [--requests 3000] [--big-requests 400] [--concurrency 16]

The demo churn pipeline (scikit-learn: scaling, one-hot encoding, logistic regression) is
trained on 5,000 rows and registered in a fresh SQLite store with its contract and drift
profile, untimed. Then, one after the other on loopback, each in its own process with one
worker:

* ``mlflow models serve -m models:/churn/1 --env-manager local``;
* ``mlops-guard serve churn`` with all its telemetry on (request log, per-version metrics,
  spans, live drift);
* ``mlops-guard serve churn`` with ``MLOPS_GUARD_SERVING_TELEMETRY=false``, for the cost of the
  telemetry.

Each gets the same payloads (``dataframe_split``) from the same client in this process: a
minimal keep-alive HTTP/1.1 client, ``--concurrency`` connections, so the client costs far
less than either server. Two workloads: 1-row and 100-row requests; 100 warm-up requests
each, then requests per second and p50/p99 latency. The predictions of the two servers on
the same rows are compared first (they must be equal). Goal: twice MLflow's throughput at
equal or better p99, telemetry on.

Figures go to benchmarks/results/serve_vs_mlflow.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
MODEL = "churn"
GOAL_THROUGHPUT_RATIO = 2.0
WARM_UP = 100


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _train(root: Path) -> str:
    """Train and register v1 of churn with its contract and profile; returns the store URI."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from mlops_guard.contract import infer_contract, save_contract
    from mlops_guard.demo import (
        CATEGORICAL_FEATURES,
        FEATURES,
        ID_COLUMN,
        LABEL,
        NUMERICAL_FEATURES,
        TIMESTAMP_COLUMN,
        make_dataset,
    )
    from mlops_guard.drift import PROFILE_ARTIFACT_PATH, build_profile
    from mlops_guard.registry import promote
    from mlops_guard.settings import GuardSettings

    uri = f"sqlite:///{root / 'mlflow.db'}"
    settings = GuardSettings(workdir=root, tracking_uri=uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    experiment = mlflow.create_experiment("bench", artifact_location=(root / "artifacts").as_uri())
    df = make_dataset(rows=5000, seed=1)
    x, y = df[list(FEATURES)], df[LABEL]
    prep = ColumnTransformer(
        [
            ("num", StandardScaler(), list(NUMERICAL_FEATURES)),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL_FEATURES)),
        ]
    )
    model = Pipeline([("prep", prep), ("clf", LogisticRegression(max_iter=500))]).fit(x, y)
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=MODEL,
            pip_requirements=["scikit-learn"],
            signature=infer_signature(x.head(), model.predict(x.head())),
        )
        scored = x.copy()
        scored["score"] = model.predict_proba(x)[:, 1]
        path = root / "profile" / Path(PROFILE_ARTIFACT_PATH).name
        path.parent.mkdir()
        build_profile(scored).save(path)
        mlflow.log_artifact(str(path), str(Path(PROFILE_ARTIFACT_PATH).parent))
    contract = infer_contract(
        label=LABEL,
        task="binary",
        reference=df,
        features=list(FEATURES),
        id_column=ID_COLUMN,
        timestamp_column=TIMESTAMP_COLUMN,
    )
    save_contract(contract, model=MODEL, version="1", run_id=run.info.run_id, settings=settings)
    promote(MODEL, "1", reason="benchmark", actor="benchmark", settings=settings)
    return uri


def _start(
    command: list[str], env: dict[str, str], port: int, log: Path
) -> subprocess.Popen[bytes]:
    with log.open("wb") as sink:
        process = subprocess.Popen(command, env=env, stdout=sink, stderr=subprocess.STDOUT)
    for _ in range(1200):  # up to 2 minutes: MLflow's server imports a lot
        if process.poll() is not None:
            raise RuntimeError(f"{command[0]} exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=1) as answer:
                if answer.status == 200:
                    return process
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{command} did not answer /ping")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    return int(lines[0].split(" ", 2)[1]), await reader.readexactly(length)


async def _drive(port: int, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    """Send every body once, ``concurrency`` at a time; throughput and latency."""
    pending = list(reversed(bodies))
    latencies: list[float] = []
    failures = 0

    async def worker() -> None:
        nonlocal failures
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while pending:
            body = pending.pop()
            request = (
                f"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body
            began = time.perf_counter()
            status, _ = await _exchange(reader, writer, request)
            latencies.append(time.perf_counter() - began)
            failures += status != 200
        writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "requests": len(bodies),
        "failures": failures,
        "seconds": round(elapsed, 3),
        "requests_per_second": round(len(bodies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p90_ms": round(latencies[int(len(latencies) * 0.9) - 1] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
    }


def _bodies(rows: int, count: int) -> list[bytes]:
    from mlops_guard.demo import FEATURES, ID_COLUMN, make_dataset

    frame = make_dataset(rows=max(rows * 20, 200), seed=9)[[ID_COLUMN, *FEATURES]]
    out = []
    for i in range(count):
        start = (i * rows) % (len(frame) - rows + 1)
        part = frame.iloc[start : start + rows]
        out.append(
            json.dumps(
                {"dataframe_split": json.loads(part.to_json(orient="split", index=False))}
            ).encode()
        )
    return out


def _predictions(port: int, body: bytes) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/invocations",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["predictions"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=3000, help="1-row requests per server")
    parser.add_argument("--big-requests", type=int, default=400, help="100-row requests")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="mlops-guard-bench-serve-"))
    env = {
        **os.environ,
        "MLOPS_GUARD_WORKDIR": str(root),
        "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
        "PYTHONPATH": str(REPO),
        # MLflow's server starts `uvicorn` by name.
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    try:
        os.environ["MLOPS_GUARD_WORKDIR"] = str(root)
        uri = _train(root)
        env["MLFLOW_TRACKING_URI"] = env["MLOPS_GUARD_TRACKING_URI"] = uri
        workloads = {
            "1_row": _bodies(1, args.requests + WARM_UP),
            "100_rows": _bodies(100, args.big_requests + WARM_UP),
        }
        servers = {
            "mlflow": (
                [
                    str(BIN / "mlflow"),
                    "models",
                    "serve",
                    "-m",
                    f"models:/{MODEL}/1",
                    "--env-manager",
                    "local",
                    "--host",
                    "127.0.0.1",
                    "-w",
                    "1",
                    "-p",
                ],
                {},
            ),
            "mlops_guard": ([str(BIN / "mlops-guard"), "serve", MODEL, "--port"], {}),
            "mlops_guard_no_telemetry": (
                [str(BIN / "mlops-guard"), "serve", MODEL, "--port"],
                {"MLOPS_GUARD_SERVING_TELEMETRY": "false"},
            ),
        }
        figures: dict[str, Any] = {}
        check = workloads["100_rows"][0]
        answers: dict[str, Any] = {}
        for name, (command, extra) in servers.items():
            port = _free_port()
            process = _start([*command, str(port)], {**env, **extra}, port, root / f"{name}.log")
            try:
                answers[name] = _predictions(port, check)
                figures[name] = {}
                for workload, bodies in workloads.items():
                    asyncio.run(_drive(port, bodies[:WARM_UP], args.concurrency))
                    figures[name][workload] = asyncio.run(
                        _drive(port, bodies[WARM_UP:], args.concurrency)
                    )
                    print(name, workload, figures[name][workload], flush=True)
            finally:
                _stop(process)
        assert answers["mlops_guard"] == answers["mlflow"], "the servers disagree"
        ratios: dict[str, Any] = {}
        for workload in workloads:
            ours, theirs = figures["mlops_guard"][workload], figures["mlflow"][workload]
            bare = figures["mlops_guard_no_telemetry"][workload]
            ratios[workload] = {
                "throughput_vs_mlflow": round(
                    ours["requests_per_second"] / theirs["requests_per_second"], 2
                ),
                "p99_vs_mlflow": round(ours["p99_ms"] / theirs["p99_ms"], 2),
                "telemetry_overhead_throughput": round(
                    1 - ours["requests_per_second"] / bare["requests_per_second"], 3
                ),
            }
        result = {
            "goal": f">= {GOAL_THROUGHPUT_RATIO}x MLflow's throughput at equal or better p99",
            "concurrency": args.concurrency,
            "load_average": os.getloadavg(),
            "servers": figures,
            "ratios": ratios,
            "predictions_equal": True,
        }
        print(json.dumps(ratios, indent=2))
        print("saved", save("serve_vs_mlflow", result))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
