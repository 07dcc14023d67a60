"""Stragglers: four real worker processes report over loopback UDP; one is slowed 2x.

Real processes (spawn), real sockets, the real detector and metrics; each worker's step sleeps
(the workload). Waiting uses Events with deadlines.
"""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading
import time

import pytest

from mlops_guard.errors import MonitorError
from mlops_guard.metrics import GuardMetrics
from mlops_guard.monitors import MonitorAlert, StragglerDetector, StragglerReporter
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings

from ._labels import monitor_labels
from ._workers import train_worker

STEP = 0.02
REPORT_PERIOD = 0.1  # the workers' watchdog period: each report is the median of ~5 steps
# Process start (spawn + imports) on a busy 2-core machine can take several seconds.
START_DEADLINE = 60.0
DEADLINE = 10.0
# A report covers one period; the first report after the slow-down can mix fast and slow
# steps, and a worker is flagged after two slow reports in a row (straggler_reports), so
# detection takes up to three periods plus a slow step. The margin covers scheduling of five
# processes on two shared cores.
MARGIN = 0.5


@pytest.mark.slow
def test_worker_slowed_2x_among_four_is_flagged_then_clears(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    flagged = threading.Event()
    cleared = threading.Event()
    seen: list[tuple[float, MonitorAlert]] = []

    def on_alert(alert: MonitorAlert) -> None:
        seen.append((time.perf_counter(), alert))
        if alert.kind == "straggler":
            flagged.set()
        elif alert.kind == "straggler_recovered":
            cleared.set()

    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    slow_down = ctx.Event()
    with StragglerDetector(
        job="train", model="churn", guard_settings=settings, metrics=metrics, on_alert=on_alert
    ) as detector:
        readies = [ctx.Event() for _ in range(4)]
        procs = [
            ctx.Process(
                target=train_worker,
                kwargs={
                    "address": detector.address,
                    "worker": str(rank),
                    "step_seconds": STEP,
                    "report_period": REPORT_PERIOD,
                    "workdir": str(settings.workdir),
                    "ready": readies[rank],
                    "slow_down": slow_down if rank == 3 else None,
                    "stop": stop,
                },
                daemon=True,
            )
            for rank in range(4)
        ]
        for proc in procs:
            proc.start()
        try:
            for ready in readies:
                assert ready.wait(START_DEADLINE), "worker did not start"
            deadline = time.monotonic() + DEADLINE
            while time.monotonic() < deadline:
                report = detector.report()
                if report.median_step_seconds is not None and len(report.workers) == 4:
                    break
                time.sleep(REPORT_PERIOD)  # polling the detector's state with a deadline
            before = detector.report()
            assert len(before.workers) == 4
            assert before.stragglers == (), before
            assert not flagged.is_set()

            slowed_at = time.perf_counter()
            slow_down.set()
            assert flagged.wait(DEADLINE), "straggler not detected"
            detected_at, alert = next((t, a) for t, a in seen if a.kind == "straggler")
            during = detector.report()
            slow_down.clear()
            assert cleared.wait(DEADLINE), "straggler flag did not clear after recovery"
        finally:
            stop.set()
            for proc in procs:
                proc.join(DEADLINE)

    time_to_detect = detected_at - slowed_at
    print(f"straggler: detected after {time_to_detect * 1000:.0f} ms, score {alert.value:.2f}")
    assert alert.worker == "3"
    assert alert.value is not None
    assert 0.35 < alert.value < 0.75
    assert time_to_detect <= 3 * REPORT_PERIOD + 2 * STEP + MARGIN, time_to_detect
    assert during.stragglers == ("3",)
    scores = {w.worker: w.score for w in during.workers}
    assert all(score is not None and score > 0.75 for name, score in scores.items() if name != "3")
    gauge = metrics.sample(
        "mlops_guard_straggler_score", monitor_labels("train", "churn", worker="3")
    )
    assert gauge is not None
    assert [a.worker for _, a in seen if a.kind == "straggler"] == ["3"]
    events = [e["event"] for e in read_runlog(settings.runlog_path)]
    assert "training.straggler" in events
    assert "training.straggler_recovered" in events


def _datagram(**overrides: object) -> bytes:
    message: dict[str, object] = {
        "v": 1,
        "job": "train",
        "model": "churn",
        "worker": "0",
        "p50": 0.01,
        "n": 5,
        "steps": 5,
        "stalled": False,
    }
    message.update(overrides)
    return json.dumps(message).encode()


def test_scores_need_two_fresh_workers_and_garbage_is_ignored(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    detector = StragglerDetector(
        job="train", model="churn", guard_settings=settings, metrics=metrics
    )
    detector.ingest(_datagram(worker="0"))
    assert detector.report().median_step_seconds is None, "one worker has no peers"
    for bad in (
        b"not json",
        _datagram(job="other"),
        _datagram(p50=-1),
        _datagram(p50="x"),
        b"[1, 2]",
    ):
        detector.ingest(bad)
    assert [w.worker for w in detector.report().workers] == ["0"]
    detector.ingest(_datagram(worker="1", p50=0.01))
    detector.ingest(_datagram(worker="2", p50=0.03))
    assert detector.report().stragglers == (), "one slow report is a hiccup"
    detector.ingest(_datagram(worker="2", p50=0.03))
    report = detector.report()
    assert report.stragglers == ("2",)
    scores = {w.worker: w.score for w in report.workers}
    assert scores["0"] == pytest.approx(1.0)
    assert scores["2"] == pytest.approx(1 / 3)
    assert report.to_dict()["stragglers"] == ["2"]


def test_reporter_reaches_a_detector_over_udp(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    got = threading.Event()
    with StragglerDetector(
        job="train",
        model="churn",
        guard_settings=settings,
        metrics=metrics,
        on_alert=lambda alert: got.set(),
    ) as detector:
        assert detector.address.startswith("127.0.0.1:")
        fast = StragglerReporter(detector.address, worker="a", job="train", model="churn")
        slow = StragglerReporter(detector.address, worker="b", job="train", model="churn")
        try:
            assert fast.report(0.01, n=10)
            assert slow.report(0.04, n=10)
            assert slow.report(0.04, n=10)
            assert got.wait(DEADLINE)
        finally:
            fast.close()
            slow.close()
        assert detector.report().stragglers == ("b",)


def test_bad_addresses_are_clear_errors(settings: GuardSettings, metrics: GuardMetrics) -> None:
    with pytest.raises(MonitorError, match="not host:port"):
        StragglerReporter("localhost", worker="0")
    with pytest.raises(MonitorError, match="out of range"):
        StragglerReporter("127.0.0.1:70000", worker="0")
    with pytest.raises(MonitorError, match="not started"):
        _ = StragglerDetector(guard_settings=settings, metrics=metrics).address
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
        detector = StragglerDetector(
            guard_settings=settings, metrics=metrics, host="127.0.0.1", port=port
        )
        with pytest.raises(MonitorError, match="cannot bind"):
            detector.start()
