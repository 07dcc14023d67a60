"""Scenarios that hit a training job: a stall, slow checkpoint storage, a straggler.

A small training loop on threads (one per worker) takes steps and saves checkpoints at a steady
pace, watched by the product's :class:`~mlops_guard.monitors.CheckpointMonitor` (and, for
several workers, its :class:`~mlops_guard.monitors.StragglerDetector`) with their default
thresholds. Without the guard no monitor watches: the job never fails, so a plain orchestrator
reports nothing.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any

from mlops_guard.drills._runner import DrillContext, Scenario

if TYPE_CHECKING:
    from mlops_guard.drills._watch import Detection

__all__ = ["CheckpointStall", "SlowStorage", "Straggler", "TrainingLoop"]

JOB = "drill-train"
# A step every 10 ms and a checkpoint every 50 steps taking 150 ms: a save 10x slower (1.5 s)
# clears the monitor's floor on median-based limits (min_limit_seconds, 1 s), and a checkpoint
# interval stretched by it (2 s) stays under five medians (3.25 s), so a slow store reads as
# slow storage, not as checkpoints that stopped.
STEP_SECONDS = 0.01
SAVE_SECONDS = 0.15
CHECKPOINT_EVERY = 50
WARM_CHECKPOINTS = 5  # one warm-up save, then enough for the save median
WARM_TIMEOUT = 60.0


class _Worker:
    def __init__(self, name: str, monitor: Any) -> None:
        self.name = name
        self.monitor = monitor
        self.slowdown = 1.0
        self.save_factor = 1.0
        self.running = threading.Event()
        self.running.set()
        self.stop = False
        self.steps = 0
        self.saves = 0
        self.last_save_seconds = 0.0


class TrainingLoop:
    """``workers`` threads, each stepping and checkpointing; faults are knobs on a worker."""

    def __init__(self, ctx: DrillContext, workers: int = 1, *, detector: bool = False) -> None:
        from mlops_guard.monitors import CheckpointMonitor, StragglerDetector

        self.detector: Any = None
        address = None
        if ctx.guard and detector:
            self.detector = StragglerDetector(job=JOB, guard_settings=ctx.settings).start()
            address = self.detector.address
        self.workers = []
        for i in range(workers):
            monitor = None
            if ctx.guard:
                extra = {"straggler_address": address} if address else {}
                monitor = CheckpointMonitor(
                    job=JOB, guard_settings=ctx.settings, worker=f"w{i}", **extra
                )
            self.workers.append(_Worker(f"w{i}", monitor))
        self._threads: list[threading.Thread] = []

    def start(self) -> TrainingLoop:
        for worker in self.workers:
            if worker.monitor is not None:
                worker.monitor.start()
            thread = threading.Thread(
                target=self._run, args=(worker,), name=f"drill-{worker.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop = True
            worker.running.set()
        for thread in self._threads:
            thread.join(timeout=30)
        for worker in self.workers:
            if worker.monitor is not None:
                worker.monitor.stop()
        if self.detector is not None:
            self.detector.stop()

    def _run(self, worker: _Worker) -> None:
        monitor = worker.monitor
        while not worker.stop:
            # A hung worker waits here, as on a collective that never completes.
            worker.running.wait()
            if worker.stop:
                return
            time.sleep(STEP_SECONDS * worker.slowdown)
            worker.steps += 1
            if monitor is not None:
                monitor.step()
            if worker.steps % CHECKPOINT_EVERY == 0:
                began = time.monotonic()
                if monitor is not None:
                    with monitor.checkpoint(worker.steps):
                        time.sleep(SAVE_SECONDS * worker.save_factor)
                else:
                    time.sleep(SAVE_SECONDS * worker.save_factor)
                worker.saves += 1
                worker.last_save_seconds = time.monotonic() - began

    def warm(self, ctx: DrillContext) -> None:
        """Until every worker has saved enough checkpoints for the monitor's medians."""
        ready = ctx.wait(
            lambda: all(w.saves >= WARM_CHECKPOINTS for w in self.workers), WARM_TIMEOUT
        )
        if not ready:
            raise TimeoutError("the drill's training loop did not warm up")


class _TrainingScenario(Scenario):
    needs_pipeline = False
    workers = 1
    detector = False

    def prepare(self, ctx: DrillContext) -> None:
        loop = TrainingLoop(ctx, self.workers, detector=self.detector).start()
        ctx.stack.callback(loop.stop)
        ctx.state["loop"] = loop
        loop.warm(ctx)
        if self.detector and ctx.guard:
            # Every worker has reported to the detector (one report per watchdog period).
            ctx.wait(
                lambda: (
                    sum(1 for w in loop.detector.report().workers if w.score is not None)
                    == self.workers
                ),
                WARM_TIMEOUT,
            )

    def busy(self, ctx: DrillContext) -> bool:
        # The monitors watch as long as the job runs: a signal may come at any moment. Without
        # them nothing ever will.
        return ctx.guard

    def loop(self, ctx: DrillContext) -> TrainingLoop:
        found: TrainingLoop = ctx.state["loop"]
        return found


class CheckpointStall(_TrainingScenario):
    name = "checkpoint-stall"
    root_cause = "checkpoint_stall"
    fault = "the training worker hangs (no step, no checkpoint)"

    def inject(self, ctx: DrillContext) -> None:
        self.loop(ctx).workers[0].running.clear()

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        # The stalled worker is restarted and resumes from its last checkpoint.
        ctx.state["responded_at"] = time.monotonic()
        self.loop(ctx).workers[0].running.set()

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        since = ctx.state.get("responded_at")
        if since is None:
            return None
        back = ctx.watch.signals(since)
        found = [s for s in back if s.name == "training.recovered"]
        if not found:
            return None
        status = self.loop(ctx).workers[0].monitor.status()
        if status.stalled:
            return None
        return {"at": found[0].seen, "stalls": status.stalls, "steps": status.steps}


class SlowStorage(_TrainingScenario):
    name = "slow-storage"
    root_cause = "slow_storage"
    fault = "checkpoint saves 10x slower"

    def inject(self, ctx: DrillContext) -> None:
        self.loop(ctx).workers[0].save_factor = 10.0

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        # Checkpoints fail over to the healthy store.
        worker = self.loop(ctx).workers[0]
        worker.save_factor = 1.0
        ctx.state["saves_at_response"] = worker.saves

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        if "saves_at_response" not in ctx.state:
            return None
        worker = self.loop(ctx).workers[0]
        # The save under way when storage failed over was slow; the one after it is the test.
        if worker.saves < ctx.state["saves_at_response"] + 2:
            return None
        status = worker.monitor.status()
        if status.slow_save or status.stalled:
            return None
        return {
            "at": time.monotonic(),
            "last_save_seconds": status.last_save_seconds,
            "save_seconds_p50": status.save_seconds_p50,
            "slow_saves": status.slow_saves,
        }


class Straggler(_TrainingScenario):
    name = "straggler"
    root_cause = "straggler"
    fault = "one of four workers steps 2x slower"
    workers = 4
    detector = True

    def inject(self, ctx: DrillContext) -> None:
        self.loop(ctx).workers[-1].slowdown = 2.0

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        # The slow node is replaced by a healthy one.
        ctx.state["responded_at"] = time.monotonic()
        self.loop(ctx).workers[-1].slowdown = 1.0

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        since = ctx.state.get("responded_at")
        if since is None:
            return None
        back = [s for s in ctx.watch.signals(since) if s.name == "training.straggler_recovered"]
        if not back:
            return None
        report = self.loop(ctx).detector.report()
        if report.stragglers:
            return None
        return {
            "at": back[0].seen,
            "worker": back[0].event.get("worker"),
            "scores": {w.worker: w.score for w in report.workers},
        }
