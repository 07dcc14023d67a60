"""What the guard adds to a stage: a guarded vs a plain Prefect task, many calls in one flow run.

Both stages do nothing, so the difference is the guard's own cost: run-log lines (file and
Prefect's run logger), metrics, the textfile flush and the Prefect event. The core recorder
without Prefect is measured too.

    python benchmarks/guard_overhead.py [--calls 300]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import save


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import logging

    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.testing.utilities import prefect_test_harness

    from mlops_guard._stage import StageRecorder
    from mlops_guard.integrations.prefect import guard
    from mlops_guard.settings import GuardSettings, use_settings

    logging.getLogger().setLevel(logging.WARNING)
    settings = GuardSettings(workdir=Path(tempfile.mkdtemp(prefix="guard-bench-")))

    @task(cache_policy=NO_CACHE)
    def plain(x: int) -> int:
        return x

    @guard("trivial", model="bench")
    def guarded(x: int) -> int:
        return x

    @flow
    def run(stage: object, calls: int) -> float:
        start = time.perf_counter()
        for i in range(calls):
            stage(i)  # type: ignore[operator]
        return (time.perf_counter() - start) / calls

    def bare(calls: int) -> float:
        start = time.perf_counter()
        for i in range(calls):
            with StageRecorder("trivial", flow="bench", model="bench", settings=settings):
                _ = i
        return (time.perf_counter() - start) / calls

    def nothing(calls: int) -> float:
        start = time.perf_counter()
        for i in range(calls):
            _ = i
        return (time.perf_counter() - start) / calls

    with prefect_test_harness(server_startup_timeout=180), use_settings(settings):
        run(plain, 20)  # warm-up: imports, first API round trips
        run(guarded, 20)
        plain_s, guarded_s = [], []
        for _ in range(args.repeats):
            plain_s.append(run(plain, args.calls))
            guarded_s.append(run(guarded, args.calls))
        core_s = [bare(args.calls) - nothing(args.calls) for _ in range(args.repeats)]

    p, g, c = statistics.median(plain_s), statistics.median(guarded_s), statistics.median(core_s)
    figures = {
        "calls": args.calls,
        "repeats": args.repeats,
        "plain_task_ms_per_call": round(p * 1e3, 3),
        "guarded_task_ms_per_call": round(g * 1e3, 3),
        "added_ms_per_call": round((g - p) * 1e3, 3),
        "ratio_guarded_vs_plain": round(g / p, 3),
        "core_recorder_ms_per_call": round(c * 1e3, 3),
        "goal_added_ms_per_call": 5.0,
    }
    path = save("guard_overhead", figures)
    for key, value in figures.items():
        print(f"{key:28} {value}")
    print(f"written to {path}")


if __name__ == "__main__":
    main()
