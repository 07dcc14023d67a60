"""Benchmark: ``mlops-guard trace check`` on 1,000,000 spans, parsing included.

The spans are generated multi-host traces with known clocks (three hosts, client/server calls
and one-way messages, 20 and -10 ppm drift over an hour), written once as OTLP JSON lines in
documents of 1,000 spans, as the collector's file exporter batches them. Each run is a fresh
``mlops-guard trace check --json`` process, so imports, parsing, the violation counts and the
offset/drift fit are all in the figure; peak memory is the process's maximum resident set.

The baseline is what any Python tool reading the same file pays before doing anything: the
standard library's ``json.loads`` of every line (no span extracted).

    python benchmarks/traces_check.py [--spans 1000000] [--repeat 3]

Writes ``benchmarks/results/traces_check.json``.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import save


def _generate(path: Path, spans: int) -> None:
    from mlops_guard.traces._otlp import write_documents
    from mlops_guard.traces._synthetic import Clock, Hop, synthetic_documents

    hops = [
        Hop("a", "b", delay_ms=1.0),
        Hop("b", "c", delay_ms=0.5),
        Hop("c", "a", style="message", delay_ms=0.3),
    ]
    clocks = {"a": Clock(), "b": Clock(3.0, 20.0), "c": Clock(-2.0, -10.0)}
    traces = spans // 7 + 1  # seven spans per trace
    write_documents(synthetic_documents(hops, clocks, traces=traces, window_s=3600), path)


def _timed(command: list[str]) -> tuple[float, float, int, str]:
    """Wall and CPU seconds, peak RSS (KiB) of one child process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss, done.stdout


_BASELINE = (
    "import json, sys\nwith open(sys.argv[1], 'rb') as f:\n    for line in f: json.loads(line)\n"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--file", type=Path, default=None, help="reuse this span file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-guard-traces-") as tmp:
        path = args.file or Path(tmp) / "spans.jsonl"
        if not path.exists():
            _generate(path, args.spans)
        check = [sys.executable, "-m", "mlops_guard.cli", "trace", "check", str(path), "--json"]
        runs = [_timed(check) for _ in range(args.repeat)]
        report = json.loads(runs[-1][3])
        baseline_command = [sys.executable, "-c", _BASELINE, str(path)]
        baseline = [_timed(baseline_command) for _ in range(args.repeat)]
        size = path.stat().st_size
    spans = report["spans"]
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    base_wall = statistics.median(r[0] for r in baseline)
    base_cpu = statistics.median(r[1] for r in baseline)
    figures = {
        "spans": spans,
        "file_bytes": size,
        "repeat": args.repeat,
        "wall_seconds_median": round(wall, 3),
        "cpu_seconds_median": round(cpu, 3),
        "spans_per_second_wall": round(spans / wall),
        "spans_per_second_cpu": round(spans / cpu),
        "peak_rss_mib": round(max(r[2] for r in runs) / 1024, 1),
        "stdlib_json_loads_wall_seconds_median": round(base_wall, 3),
        "stdlib_json_loads_cpu_seconds_median": round(base_cpu, 3),
        "ratio_to_stdlib_json_loads_wall": round(wall / base_wall, 2),
        "ratio_to_stdlib_json_loads_cpu": round(cpu / base_cpu, 2),
        "violations": report["violations"],
        "offsets_ms": {h: v["offset_ms"] for h, v in report["hosts"].items()},
        "drift_ppm": {h: v["drift_ppm"] for h, v in report["hosts"].items()},
    }
    print(json.dumps(figures, indent=2))
    print(f"wrote {save('traces_check', figures)}")


if __name__ == "__main__":
    main()
