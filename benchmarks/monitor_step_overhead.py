"""Overhead of ``CheckpointMonitor.step()`` in a tight loop, against what a user would write.

    /tmp/venv/bin/python benchmarks/monitor_step_overhead.py [--steps N] [--repeats R]

Three loops of N iterations, each the best of R repeats (the minimum is the least disturbed
by the other processes on a shared machine):

* bare: the loop alone (the baseline every overhead is measured against);
* prometheus: what one writes by hand, ``perf_counter()`` plus ``Histogram.observe()`` per step;
* monitor: ``mon.step()`` with the watchdog thread running (period 50 ms, so it drains and
  observes concurrently, as in a real run).

Goal: under 20 microseconds per step.

Then two fault drills with the default settings (factor 5, one-second floor and watchdog
period): a hung step in a loop of 0.1 s steps, and a save that becomes 10x slower (0.2 s ->
2 s). Their time to detect is compared with the timeout a user otherwise relies on,
torch.distributed's default NCCL timeout of 600 s. ``--no-drills`` skips them.

Figures go to benchmarks/results/monitor_step_overhead.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).parent))
from _common import save

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

GOAL_US = 20.0
NCCL_DEFAULT_TIMEOUT_S = 600.0  # torch.distributed's default for NCCL process groups


def drills(guard: GuardSettings) -> dict[str, float]:
    """Hung step and 10x slower save under default thresholds; seconds to detect each."""
    import threading

    from mlops_guard.metrics import GuardMetrics
    from mlops_guard.monitors import CheckpointMonitor, MonitorAlert

    seen: dict[str, float] = {}
    events = {"stalled": threading.Event(), "slow_save": threading.Event()}

    def on_alert(alert: MonitorAlert) -> None:
        seen.setdefault(alert.kind, time.perf_counter())
        if alert.kind in events:
            events[alert.kind].set()

    mon = CheckpointMonitor(
        job="drill",
        model="churn",
        guard_settings=guard,
        metrics=GuardMetrics(),
        on_alert=on_alert,
        prefect_events=False,
        flush_metrics=False,
    )
    step, save = 0.1, 0.2
    with mon:
        for i in range(24):
            time.sleep(step)  # the training step
            mon.step()
            if i % 6 == 5:
                with mon.checkpoint(i):
                    time.sleep(save)  # a normal save
        slow_started = time.perf_counter()
        with mon.checkpoint(99):
            time.sleep(10 * save)  # storage 10x slower
        for _ in range(3):
            time.sleep(step)
            mon.step()
        hang_started = time.perf_counter()
        events["stalled"].wait(60)  # the hung step, until noticed
        mon.step()
    status = mon.status()
    hung = seen["stalled"] - hang_started
    slow = seen["slow_save"] - slow_started
    return {
        "drill_step_seconds": step,
        "drill_hung_step_detect_s": hung,
        "drill_hung_step_limit_s": float(status.heartbeat_limit_s or 0.0),
        "drill_slow_save_detect_s": slow,
        "drill_slow_save_seconds": 10 * save,
        "nccl_default_timeout_s": NCCL_DEFAULT_TIMEOUT_S,
        "hung_step_faster_than_nccl_timeout": NCCL_DEFAULT_TIMEOUT_S / hung,
    }


def best_of(repeats: int, run: Callable[[], float]) -> tuple[float, float]:
    """(minimum, median) seconds of ``repeats`` runs."""
    times = [run() for _ in range(repeats)]
    return min(times), statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", "--rows", type=int, default=200_000, dest="steps")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-drills", action="store_true", help="skip the fault drills")
    args = parser.parse_args(argv)
    n: int = args.steps

    from prometheus_client import CollectorRegistry, Histogram

    from mlops_guard.metrics import STEP_BUCKETS, GuardMetrics
    from mlops_guard.monitors import CheckpointMonitor
    from mlops_guard.settings import GuardSettings

    def bare() -> float:
        start = time.perf_counter()
        for _ in range(n):
            pass
        return time.perf_counter() - start

    hist = Histogram("bench_step_seconds", "", buckets=STEP_BUCKETS, registry=CollectorRegistry())

    def prometheus() -> float:
        clock = time.perf_counter
        observe = hist.observe
        last = clock()
        start = time.perf_counter()
        for _ in range(n):
            now = clock()
            observe(now - last)
            last = now
        return time.perf_counter() - start

    workdir = Path(tempfile.mkdtemp(prefix="mlops-guard-bench-"))
    guard = GuardSettings(workdir=workdir)
    # The loop runs at full speed: the stall logic must stay quiet, so keep the floor in place.
    monitors: list[CheckpointMonitor] = []

    def monitor() -> float:
        mon = CheckpointMonitor(
            job="bench",
            model="churn",
            guard_settings=guard,
            metrics=GuardMetrics(),
            watchdog_period_seconds=0.05,
            prefect_events=False,
            flush_metrics=False,
        )
        step = mon.step
        with mon:
            start = time.perf_counter()
            for _ in range(n):
                step()
            elapsed = time.perf_counter() - start
        monitors.append(mon)
        return elapsed

    bare_min, bare_med = best_of(args.repeats, bare)
    prom_min, prom_med = best_of(args.repeats, prometheus)
    mon_min, mon_med = best_of(args.repeats, monitor)
    status = monitors[-1].status()

    def per_step_us(total: float) -> float:
        return (total - bare_min) / n * 1e6

    figures = {
        "steps": n,
        "repeats": args.repeats,
        "bare_loop_ns_per_iteration": bare_min / n * 1e9,
        "prometheus_observe_overhead_us": per_step_us(prom_min),
        "monitor_step_overhead_us": per_step_us(mon_min),
        "monitor_step_overhead_us_median_of_repeats": per_step_us(mon_med),
        "prometheus_overhead_us_median_of_repeats": per_step_us(prom_med),
        "monitor_loop_vs_bare_loop": mon_min / bare_min,
        "monitor_vs_prometheus_observe": per_step_us(mon_min) / per_step_us(prom_min),
        "goal_us": GOAL_US,
        "goal_met": per_step_us(mon_min) < GOAL_US,
        "monitor_steps_seen": status.steps,
        "monitor_stalls": status.stalls,
        "bare_median_s": bare_med,
    }
    if not args.no_drills:
        figures.update(drills(guard))
    path = save("monitor_step_overhead", figures)
    print(f"steps per loop            {n:,} (best of {args.repeats})")
    print(f"bare loop                 {figures['bare_loop_ns_per_iteration']:.1f} ns/iteration")
    print(f"prometheus observe (hand) {figures['prometheus_observe_overhead_us']:.3f} us/step")
    print(
        f"CheckpointMonitor.step()  {figures['monitor_step_overhead_us']:.3f} us/step "
        f"(goal < {GOAL_US:g} us: {'met' if figures['goal_met'] else 'MISSED'})"
    )
    print(f"monitor loop / bare loop  {figures['monitor_loop_vs_bare_loop']:.1f}x")
    print(f"monitor / hand-written    {figures['monitor_vs_prometheus_observe']:.2f}x")
    if not args.no_drills:
        print(
            f"hung step (0.1 s steps)   detected after {figures['drill_hung_step_detect_s']:.2f} s"
            f" (NCCL default timeout {NCCL_DEFAULT_TIMEOUT_S:g} s: "
            f"{figures['hung_step_faster_than_nccl_timeout']:.0f}x sooner)"
        )
        print(
            f"save 10x slower (2 s)     flagged {figures['drill_slow_save_detect_s']:.2f} s "
            "into the save"
        )
    print(f"figures written to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
