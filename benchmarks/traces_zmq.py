"""Clock skew in a real three-stage inference pipeline over ZeroMQ, before and after correction.

Three processes on loopback: ``ingest`` (stage A) pushes feature batches to ``model`` (B),
which scores them and pushes the scores to ``postprocess`` (C), which sends the result back to
``ingest``. Every hop is a PRODUCER span and the CONSUMER span it causes, with the W3C
``traceparent`` in the message; each stage writes its spans with the OpenTelemetry SDK to OTLP
JSON lines. Each stage's clock is skewed where it takes timestamps (B behind A by the skew,
C ahead of A by it), and every hop gets an added one-way delay (the receiver holds a message
until its true send time plus the delay, as a network would).

For each skew it prints the share of cross-host pairs that are causally wrong before and after
``trace adjust``, and the offsets ``trace check`` finds against the injected ones. A last run
lets B and C drift (ppm) from an initial offset.

    python benchmarks/traces_zmq.py                       # skews 0,1,3,5,10 ms, 4 ms delay
    python benchmarks/traces_zmq.py --delay-ms 2 --messages 500 --drift-ppm 300

Needs ``pyzmq`` (``pip install 'mlops-guard[bench]'``).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STAGES = ("ingest", "model", "postprocess")
HOSTS = {"ingest": "stage-a", "model": "stage-b", "postprocess": "stage-c"}


# ---------------------------------------------------------------- one stage (its own process)


class SkewedClock:
    """The stage's wall clock: true time plus an offset and a drift from ``t0``."""

    def __init__(self, offset_ms: float, drift_ppm: float, t0_ns: int) -> None:
        self.offset_ns = offset_ms * 1e6
        self.drift = drift_ppm * 1e-6
        self.t0_ns = t0_ns

    def now(self) -> int:
        true = time.time_ns()
        return int(true + self.offset_ns + self.drift * (true - self.t0_ns))


def _hold_until(true_ns: int) -> None:
    """The added one-way delay: the message 'arrives' at its true send time plus the delay."""
    while True:
        left = true_ns - time.time_ns()
        if left <= 0:
            return
        time.sleep(min(left / 1e9, 0.0005) if left > 200_000 else 0)


def run_stage(args: argparse.Namespace) -> None:
    import numpy as np
    import zmq
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from mlops_guard.traces._export import build_provider

    clock = SkewedClock(args.offset_ms, args.drift_ppm, args.t0_ns)
    provider = build_provider(
        service=f"pipeline-{args.stage}",
        directory=Path(args.spans_dir),
        host=HOSTS[args.stage],
        environ={},
    )
    tracer = provider.get_tracer("mlops_guard.benchmarks.zmq")
    propagator = TraceContextTextMapPropagator()
    delay_ns = int(args.delay_ms * 1e6)
    context = zmq.Context()
    inbox = context.socket(zmq.PULL)
    inbox.bind(f"tcp://127.0.0.1:{args.port_in}")
    outbox = context.socket(zmq.PUSH)
    outbox.connect(f"tcp://127.0.0.1:{args.port_out}")
    weights = np.linspace(-1, 1, 16)

    def send(payload: dict[str, Any], parent_context: Any, name: str) -> None:
        producer = tracer.start_span(
            name, context=parent_context, kind=SpanKind.PRODUCER, start_time=clock.now()
        )
        carrier: dict[str, str] = {}
        propagator.inject(carrier, context=trace.set_span_in_context(producer))
        payload = {**payload, "carrier": carrier, "sent_true_ns": time.time_ns()}
        outbox.send(json.dumps(payload).encode())
        producer.end(end_time=clock.now())

    def receive(timeout_ms: int) -> tuple[dict[str, Any], Any, int] | None:
        if not inbox.poll(timeout_ms):
            return None
        message = json.loads(inbox.recv())
        _hold_until(message.get("sent_true_ns", 0) + delay_ns)
        return message, propagator.extract(message.get("carrier", {})), clock.now()

    if args.stage == "ingest":
        import threading

        # Results are collected while requests go out, as a serving front end would: a
        # consumer span starts when the result arrives, not after the last request.
        received = [0]

        def collect() -> None:
            while received[0] < args.messages:
                got = receive(5000)
                if got is None:
                    return
                _, parent, start = got
                span = tracer.start_span(
                    "collect", context=parent, kind=SpanKind.CONSUMER, start_time=start
                )
                span.end(end_time=clock.now())
                received[0] += 1

        collector = threading.Thread(target=collect, name="collect")
        collector.start()
        rng = np.random.default_rng(0)
        for number in range(args.messages):
            root = tracer.start_span("request", kind=SpanKind.INTERNAL, start_time=clock.now())
            features = rng.normal(size=16).round(4).tolist()
            send({"id": number, "features": features}, trace.set_span_in_context(root), "send")
            root.end(end_time=clock.now())
            time.sleep(args.interval_ms / 1e3)
        collector.join()
        outbox.send(json.dumps({"stop": True}).encode())
        print(json.dumps({"stage": args.stage, "received": received[0]}), flush=True)
    else:
        while True:
            got = receive(30000)
            if got is None:
                break
            message, parent, start = got
            if message.get("stop"):
                outbox.send(json.dumps({"stop": True}).encode())
                break
            consumer = tracer.start_span(
                "receive", context=parent, kind=SpanKind.CONSUMER, start_time=start
            )
            inside = trace.set_span_in_context(consumer)
            work = tracer.start_span(
                "predict" if args.stage == "model" else "format",
                context=inside,
                start_time=clock.now(),
            )
            if args.stage == "model":
                score = float(1 / (1 + np.exp(-np.dot(weights, message["features"]))))
                payload = {"id": message["id"], "score": score}
            else:
                payload = {"id": message["id"], "label": int(message["score"] > 0.5)}
            work.end(end_time=clock.now())
            send(payload, inside, "send")
            consumer.end(end_time=clock.now())
    provider.shutdown()
    outbox.close(linger=2000)
    inbox.close(linger=0)
    context.term()


# ---------------------------------------------------------------- the experiment (driver)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_pipeline(
    spans_dir: Path,
    *,
    offsets_ms: dict[str, float],
    drifts_ppm: dict[str, float],
    delay_ms: float,
    messages: int,
    interval_ms: float,
) -> None:
    ports = {stage: _free_port() for stage in STAGES}
    downstream = {"ingest": "model", "model": "postprocess", "postprocess": "ingest"}
    t0 = time.time_ns()
    processes = []
    # Receivers first, so no message waits on a missing peer.
    for stage in ("postprocess", "model", "ingest"):
        command = [
            sys.executable,
            __file__,
            "--stage",
            stage,
            "--port-in",
            str(ports[stage]),
            "--port-out",
            str(ports[downstream[stage]]),
            "--offset-ms",
            str(offsets_ms.get(stage, 0.0)),
            "--drift-ppm",
            str(drifts_ppm.get(stage, 0.0)),
            "--t0-ns",
            str(t0),
            "--delay-ms",
            str(delay_ms),
            "--messages",
            str(messages),
            "--interval-ms",
            str(interval_ms),
            "--spans-dir",
            str(spans_dir),
        ]
        processes.append(subprocess.Popen(command, env={**os.environ, "PYTHONUNBUFFERED": "1"}))
        if stage != "ingest":
            time.sleep(0.3)  # let the receiver bind before the sender connects its pushes
    for process in processes:
        if process.wait(timeout=300) != 0:
            raise SystemExit(f"a stage failed (exit {process.returncode})")


def _rates(files: list[Path]) -> tuple[float, int, dict[str, int]]:
    from mlops_guard.traces._causality import find_pairs, violations_of
    from mlops_guard.traces._otlp import read_spans

    table = read_spans(files)
    pairs = find_pairs(table)
    violations = violations_of(table, pairs)
    bad = sum(v for k, v in violations.items() if k != "negative_duration")
    return (bad / len(pairs.parent) if len(pairs.parent) else 0.0), len(pairs.parent), violations


def measure(
    label: str,
    workdir: Path,
    offsets_ms: dict[str, float],
    drifts_ppm: dict[str, float],
    args: argparse.Namespace,
) -> dict[str, Any]:
    from mlops_guard.traces import adjust_spans, check_spans

    spans_dir = workdir / label
    spans_dir.mkdir(parents=True)
    run_pipeline(
        spans_dir,
        offsets_ms=offsets_ms,
        drifts_ppm=drifts_ppm,
        delay_ms=args.delay_ms,
        messages=args.messages,
        interval_ms=args.interval_ms,
    )
    files = sorted(spans_dir.glob("*.jsonl"))
    before, pairs, violations = _rates(files)
    report = check_spans(files, reference=HOSTS["ingest"])
    fixed = workdir / f"{label}-adjusted.jsonl"
    adjust_spans(files, fixed, reference=HOSTS["ingest"])
    after, _, _ = _rates([fixed])
    found = {stage: report.hosts[HOSTS[stage]] for stage in ("model", "postprocess")}
    return {
        "label": label,
        "pairs": pairs,
        "violations": violations,
        "before": before,
        "after": after,
        "found": found,
        "warned": report.early_warnings,
        "at": report.at_unix_nano,
    }


def _drift_run(workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    drift_args = argparse.Namespace(**{**vars(args), "messages": args.drift_messages})
    offsets = {"model": -args.drift_offset_ms, "postprocess": args.drift_offset_ms}
    drifts = {"model": -args.drift_ppm, "postprocess": args.drift_ppm}
    started = time.time_ns()
    result = measure("drift", workdir, offsets, drifts, drift_args)
    # The injected offset at the estimate's time: offset + drift * (at - t0), t0 ~ started.
    elapsed = result["at"] - started
    result["injected"] = {
        stage: (offsets[stage] * 1e6 + drifts[stage] * 1e-6 * elapsed) for stage in offsets
    }
    result["drift_injected"] = drifts
    return result


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:+.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=STAGES)
    parser.add_argument("--port-in", type=int)
    parser.add_argument("--port-out", type=int)
    parser.add_argument("--offset-ms", type=float, default=0.0)
    parser.add_argument("--t0-ns", type=int, default=0)
    parser.add_argument("--spans-dir")
    parser.add_argument("--skews", default="0,1,3,5,10", help="injected skews, ms")
    parser.add_argument("--delay-ms", type=float, default=4.0, help="added one-way delay, ms")
    parser.add_argument("--messages", type=int, default=300, help="requests per run")
    parser.add_argument("--interval-ms", type=float, default=5.0, help="between requests")
    parser.add_argument("--drift-ppm", type=float, default=300.0, help="drift run: B -, C +")
    parser.add_argument("--drift-offset-ms", type=float, default=2.0, help="drift run start")
    parser.add_argument("--drift-messages", type=int, default=1500, help="0: no drift run")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    if args.stage:
        run_stage(args)
        return

    rows = []
    with tempfile.TemporaryDirectory(prefix="mlops-guard-zmq-") as tmp:
        workdir = Path(tmp)
        for skew in [float(s) for s in args.skews.split(",")]:
            offsets = {"model": -skew, "postprocess": skew}
            result = measure(f"skew-{skew:g}", workdir, offsets, {}, args)
            result["injected"] = {"model": -skew * 1e6, "postprocess": skew * 1e6}
            result["drift_injected"] = {"model": 0.0, "postprocess": 0.0}
            rows.append(result)
        if args.drift_messages:
            rows.append(_drift_run(workdir, args))

    print(
        f"\nthree stages over ZeroMQ on loopback, {args.delay_ms:g} ms added one-way delay, "
        f"{args.messages} requests per skew ({args.drift_messages} in the drift run)\n"
    )
    header = (
        "| run | violating pairs before | after adjust | stage-b offset found [interval] "
        "(injected) ms | stage-c offset found [interval] (injected) ms | drift found "
        "(injected) ppm | early warning |"
    )
    print(header)
    print("|" + "---|" * 7)
    for r in rows:
        cells = []
        for stage in ("model", "postprocess"):
            host = r["found"][stage]
            cells.append(
                f"{_fmt(host.offset_ns)} [{_fmt(host.lower_ns)}, {_fmt(host.upper_ns)}] "
                f"({r['injected'][stage] / 1e6:+.2f})"
            )
        drift = ", ".join(
            f"{(r['found'][s].drift_ppm or 0):+.0f} ({r['drift_injected'][s]:+.0f})"
            for s in ("model", "postprocess")
        )
        print(
            f"| {r['label']} | {r['before']:.1%} of {r['pairs']} | {r['after']:.1%} | "
            f"{cells[0]} | {cells[1]} | {drift} | {', '.join(r['warned']) or '-'} |"
        )
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "run": r["label"],
                        "violating_share_before": r["before"],
                        "violating_share_after": r["after"],
                        "pairs": r["pairs"],
                        "early_warnings": r["warned"],
                        "hosts": {
                            HOSTS[s]: {
                                **r["found"][s].to_dict(),
                                "injected_offset_ms": r["injected"][s] / 1e6,
                                "injected_drift_ppm": r["drift_injected"][s],
                            }
                            for s in ("model", "postprocess")
                        },
                    }
                    for r in rows
                ],
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
