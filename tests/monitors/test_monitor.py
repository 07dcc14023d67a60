"""CheckpointMonitor: injected faults (hung step, 10x slower save, hung save, checkpoints that
stop), their detection time, recovery, warm-up, figures, signals and misuse.

Everything here is real: the monitor's own watchdog thread, prometheus_client metrics, the run
log on disk. The "training" is a loop whose steps and saves sleep: that sleep is the workload,
not synchronisation; the tests wait for detections with threading.Events and deadlines.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.errors import ConfigError, GuardError, MonitorError
from mlops_guard.metrics import GuardMetrics
from mlops_guard.monitors import CheckpointMonitor, MonitorAlert, MonitorStatus
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings

from ._labels import monitor_labels

# Short intervals keep the suite fast; the logic is scale-free (limits are factors of medians).
STEP = 0.01
PERIOD = 0.02
FACTOR = 5.0
# Scheduling margin: on a shared 2-core machine a sleeping thread can wake late by a few tens of
# milliseconds, twice over (the watchdog's wait and the test's wait). A quarter second is an
# order of magnitude above what was observed here and still far below "minutes".
MARGIN = 0.25
# The longest a test waits for something that should happen within milliseconds.
DEADLINE = 10.0


class Alerts:
    """Collects alerts from on_alert and sets one Event per kind."""

    def __init__(self) -> None:
        self.items: list[tuple[float, MonitorAlert]] = []
        self.events: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def event(self, kind: str) -> threading.Event:
        with self._lock:
            return self.events.setdefault(kind, threading.Event())

    def __call__(self, alert: MonitorAlert) -> None:
        with self._lock:
            self.items.append((time.perf_counter(), alert))
        self.event(alert.kind).set()

    def of(self, kind: str) -> list[tuple[float, MonitorAlert]]:
        with self._lock:
            return [(t, a) for t, a in self.items if a.kind == kind]


def make_monitor(
    settings: GuardSettings, metrics: GuardMetrics, alerts: Alerts, **thresholds: Any
) -> CheckpointMonitor:
    options: dict[str, Any] = {
        "watchdog_period_seconds": PERIOD,
        "stall_factor": FACTOR,
        "warmup_steps": 2,
        "prefect_events": False,
        # Millisecond steps stand in for seconds-long ones: lift the one-second floor.
        "min_limit_seconds": 0.0,
    }
    options.update(thresholds)
    return CheckpointMonitor(
        job="train",
        model="churn",
        guard_settings=settings,
        metrics=metrics,
        on_alert=alerts,
        **options,
    )


def run_steps(mon: CheckpointMonitor, count: int, seconds: float = STEP) -> None:
    for _ in range(count):
        time.sleep(seconds)  # the simulated training step
        mon.step()


def labels() -> dict[str, str]:
    return monitor_labels("train", "churn")


def test_hung_step_is_detected_within_factor_times_median_plus_one_period_and_clears(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    alerts = Alerts()
    mon = make_monitor(settings, metrics, alerts)
    with mon:
        run_steps(mon, 30)
        assert alerts.of("stalled") == [], "no stall while steps flow"
        hang_started = time.perf_counter()
        # The hung step: it blocks until the watchdog notices (bounded by the deadline).
        assert alerts.event("stalled").wait(DEADLINE), "hang not detected"
        detected_at, alert = alerts.of("stalled")[0]
        stalled_gauge = metrics.sample("mlops_guard_training_stalled", labels())
        run_steps(mon, 5)
        assert alerts.event("recovered").wait(DEADLINE), "stall did not clear after recovery"
    status = mon.status()

    time_to_detect = detected_at - hang_started
    median = status.step_seconds_p50
    assert median is not None
    assert alert.reasons == ("heartbeat",)
    assert alert.limit_s == pytest.approx(FACTOR * median, rel=0.2)
    assert alert.detected_after_s is not None
    assert alert.limit_s is not None
    assert alert.limit_s <= alert.detected_after_s <= alert.limit_s + PERIOD + MARGIN
    assert time_to_detect <= FACTOR * median + PERIOD + MARGIN, time_to_detect
    assert stalled_gauge == 1.0
    print(f"hung step: detected after {time_to_detect * 1000:.1f} ms (limit {alert.limit_s:.3f} s)")

    assert status.stalls == 1
    assert not status.stalled
    assert metrics.sample("mlops_guard_training_stalled", labels()) == 0.0
    recovered = alerts.of("recovered")[0][1]
    assert recovered.value is not None
    assert recovered.value > 0
    events = [e["event"] for e in read_runlog(settings.runlog_path)]
    assert events == ["training.stalled", "training.recovered"]
    first = read_runlog(settings.runlog_path)[0]
    assert first["level"] == "WARNING"
    assert first["job"] == "train"
    assert first["model"] == "churn"
    # The stall was flushed to the textfile sink as it happened (alert rules see it).
    assert "mlops_guard_training_stalled" in settings.metrics_textfile("train").read_text()


def test_save_ten_times_slower_is_flagged_while_it_runs(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    alerts = Alerts()
    save = 0.03
    # This test is about slow saves: the stall limits sit far above any scheduling hiccup of a
    # loaded machine (heartbeat 1 s, save 1.8 s), so only the slow save can alert.
    mon = make_monitor(
        settings,
        metrics,
        alerts,
        slow_save_factor=3.0,
        warmup_saves=1,
        stall_factor=100.0,
        save_stall_factor=60.0,
    )
    with mon:
        for step in range(6):
            run_steps(mon, 3)
            with mon.checkpoint(step, nbytes=1000):
                time.sleep(save)  # a normal save
        assert alerts.of("slow_save") == []
        run_steps(mon, 3)
        save_started = time.perf_counter()
        with mon.checkpoint(99, nbytes=1000):
            time.sleep(10 * save)  # storage became 10x slower
        run_steps(mon, 3)
        assert alerts.event("slow_save").wait(DEADLINE)
    status = mon.status()

    detected_at, alert = alerts.of("slow_save")[0]
    time_to_detect = detected_at - save_started
    median_save = status.save_seconds_p50
    assert median_save is not None
    assert alert.step == 99
    assert alert.limit_s == pytest.approx(3.0 * median_save, rel=0.3)
    assert time_to_detect <= 3.0 * median_save + PERIOD + MARGIN, time_to_detect
    print(f"slow save: detected {time_to_detect * 1000:.1f} ms into a {10 * save:.2f} s save")
    assert len(alerts.of("slow_save")) == 1, "one slow save, one alert"
    assert status.slow_saves == 1
    assert status.checkpoints == 7
    assert status.save_bytes_total == 7000
    assert status.stalls == 0, "slow is not hung"
    assert metrics.sample("mlops_guard_checkpoint_slow_saves_total", labels()) == 1.0
    assert metrics.sample("mlops_guard_checkpoint_save_seconds_count", labels()) == 7.0
    assert "training.slow_save" in [e["event"] for e in read_runlog(settings.runlog_path)]


def test_hung_save_is_a_stall_and_clears_when_the_save_ends(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    alerts = Alerts()
    mon = make_monitor(settings, metrics, alerts, save_stall_factor=5.0, warmup_saves=0)
    with mon:
        for step in range(4):
            run_steps(mon, 2)
            with mon.checkpoint(step):
                time.sleep(0.01)
        with mon.checkpoint(10):
            assert alerts.event("stalled").wait(DEADLINE)  # the save hangs until noticed
        run_steps(mon, 3)
        assert alerts.event("recovered").wait(DEADLINE)
    stalled = alerts.of("stalled")[0][1]
    assert stalled.reasons == ("save",)
    assert alerts.of("slow_save"), "a hung save is also slow"


def test_checkpoints_that_stop_while_steps_go_on_are_a_stall(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    alerts = Alerts()
    mon = make_monitor(settings, metrics, alerts, checkpoint_stall_factor=3.0)
    with mon:
        for step in range(6):
            run_steps(mon, 4)
            with mon.checkpoint(step):
                time.sleep(0.002)
        deadline = time.monotonic() + DEADLINE
        while not alerts.event("stalled").is_set() and time.monotonic() < deadline:
            run_steps(mon, 1)  # training goes on, checkpoints quietly stopped
        assert alerts.event("stalled").is_set()
        with mon.checkpoint(100):
            time.sleep(0.002)
        assert alerts.event("recovered").wait(DEADLINE)
    status = mon.status()
    assert alerts.of("stalled")[0][1].reasons == ("checkpoint",)
    interval = status.checkpoint_interval_p50
    assert interval is not None
    alert = alerts.of("stalled")[0][1]
    assert alert.detected_after_s is not None
    assert alert.detected_after_s <= 3.0 * interval + PERIOD + MARGIN


def test_warmup_steps_do_not_count_and_hard_timeout_applies_meanwhile(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    alerts = Alerts()
    mon = make_monitor(settings, metrics, alerts, warmup_steps=3, stall_timeout_seconds=1.0)
    with mon:
        run_steps(mon, 4, seconds=0.15)  # compilation, data-loader start: slow first steps
        run_steps(mon, 30)
    status = mon.status()
    assert alerts.of("stalled") == [], "warm-up is not a stall"
    assert status.step_seconds_p99 is not None
    assert status.step_seconds_p99 < 0.1
    # Every interval is in the histogram; only the median and percentiles skip warm-up.
    assert metrics.sample("mlops_guard_step_seconds_count", labels()) == 33.0

    alerts2 = Alerts()
    mon2 = make_monitor(settings, metrics, alerts2, warmup_steps=100, stall_timeout_seconds=0.1)
    with mon2:
        run_steps(mon2, 3)
        assert alerts2.event("stalled").wait(DEADLINE)  # hung during warm-up
    alert = alerts2.of("stalled")[0][1]
    assert alert.limit_s == pytest.approx(0.1)


def test_no_first_heartbeat_is_a_stall(settings: GuardSettings, metrics: GuardMetrics) -> None:
    alerts = Alerts()
    mon = make_monitor(settings, metrics, alerts, first_step_timeout_seconds=0.05)
    with mon:
        assert alerts.event("stalled").wait(DEADLINE)
    assert alerts.of("stalled")[0][1].limit_s == pytest.approx(0.05)


def test_status_and_summary_report_percentiles_and_idle_share(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    alerts = Alerts()
    mon = make_monitor(settings, metrics, alerts, warmup_saves=0)
    assert mon.status().state == "new"
    with mon:
        for step in range(10):
            run_steps(mon, 1)
            with mon.checkpoint(step) as save:
                time.sleep(STEP)  # as long as a step: about half the wall time saving
                save.nbytes = 10
        live = mon.status()
        assert live.state == "running"
    status = mon.status()
    assert isinstance(status, MonitorStatus)
    assert status.state == "stopped"
    assert status.steps == 10
    assert status.checkpoints == 10
    assert status.last_checkpoint_step == 9
    assert status.save_bytes_total == 100
    assert status.step_seconds_p50 is not None
    assert status.step_seconds_p50 >= STEP
    assert status.save_seconds_p50 is not None
    assert status.save_seconds_p50 >= STEP
    assert status.save_seconds_p99 is not None
    assert status.save_seconds_p99 >= status.save_seconds_p50
    assert 0.3 < status.save_share < 0.7, status.save_share
    summary = mon.summary()
    assert summary["monitor_steps"] == 10.0
    assert summary["monitor_save_share"] == pytest.approx(status.save_share)
    assert all(isinstance(value, float) for value in summary.values())
    as_dict = status.to_dict()
    assert as_dict["job"] == "train"
    assert isinstance(as_dict["alerts"], list)
    assert metrics.sample("mlops_guard_seconds_since_checkpoint", labels()) is not None


def test_a_failing_save_is_not_a_checkpoint(settings: GuardSettings, metrics: GuardMetrics) -> None:
    mon = make_monitor(settings, metrics, Alerts())
    with mon:
        run_steps(mon, 2)
        with pytest.raises(OSError, match="disk full"), mon.checkpoint(1):
            raise OSError("disk full")
        with mon.checkpoint(2):
            pass
    status = mon.status()
    assert status.checkpoints == 1
    assert status.last_checkpoint_step == 2
    assert metrics.sample("mlops_guard_checkpoint_save_seconds_count", labels()) == 2.0


def test_a_failing_callback_is_counted_not_raised(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    called = threading.Event()

    def broken(alert: MonitorAlert) -> None:
        called.set()
        raise RuntimeError("callback bug")

    mon = CheckpointMonitor(
        job="train",
        model="churn",
        guard_settings=settings,
        metrics=metrics,
        on_alert=broken,
        first_step_timeout_seconds=0.02,
        watchdog_period_seconds=PERIOD,
        prefect_events=False,
    )
    with mon:
        assert called.wait(DEADLINE)
        run_steps(mon, 3)
    failures = metrics.sample("mlops_guard_sink_failures_total", {"sink": "monitor_callback"})
    assert failures is not None
    assert failures >= 1


def test_an_unwritable_runlog_never_reaches_the_training_loop(
    tmp_path: Path, metrics: GuardMetrics
) -> None:
    blocker = tmp_path / "workdir-is-a-file-below"
    blocker.mkdir()
    (blocker / "logs").write_text("a file where the log directory should be")
    guard = GuardSettings(workdir=blocker)
    alerts = Alerts()
    mon = make_monitor(guard, metrics, alerts, first_step_timeout_seconds=0.02)
    with mon:
        assert alerts.event("stalled").wait(DEADLINE)
        run_steps(mon, 2)
    failures = metrics.sample("mlops_guard_sink_failures_total", {"sink": "runlog"})
    assert failures is not None
    assert failures >= 1


# -- misuse ---------------------------------------------------------------------------------


def test_checkpoint_outside_with_is_a_clear_error(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    mon = make_monitor(settings, metrics, Alerts())
    with pytest.raises(MonitorError, match=r"before monitor 'train' started") as info:
        mon.checkpoint(1)
    assert "with mon" in str(info.value)
    with mon:
        pass
    with pytest.raises(MonitorError, match="after monitor 'train' stopped"):
        mon.checkpoint(2)
    with pytest.raises(MonitorError, match="before"):
        make_monitor(settings, metrics, Alerts()).step()


def test_step_from_a_thread_after_stop_is_a_clear_error(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    mon = make_monitor(settings, metrics, Alerts())
    with mon:
        mon.step()
    caught: list[BaseException] = []

    def late_worker() -> None:
        try:
            mon.step()
        except MonitorError as exc:
            caught.append(exc)

    thread = threading.Thread(target=late_worker, name="data-loader")
    thread.start()
    thread.join()
    assert len(caught) == 1
    message = str(caught[0])
    assert "after monitor 'train' stopped" in message
    assert "'data-loader'" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("stall_factor", 0),
        ("stall_factor", -1.0),
        ("slow_save_factor", 0),
        ("watchdog_period_seconds", -0.5),
        ("stall_timeout_seconds", 0),
        ("straggler_threshold", 0),
        ("min_samples", 0),
    ],
)
def test_zero_or_negative_thresholds_are_rejected(
    settings: GuardSettings, metrics: GuardMetrics, name: str, value: float
) -> None:
    options: dict[str, Any] = {name: value}
    with pytest.raises(ConfigError, match=f"MLOPS_GUARD_MONITORS_{name.upper()}") as info:
        CheckpointMonitor(job="train", guard_settings=settings, metrics=metrics, **options)
    assert isinstance(info.value, GuardError)
    assert info.value.exit_code == 2
    assert info.value.hint
    assert name.upper() in info.value.hint


def test_bad_threshold_from_the_environment_and_unknown_names(
    settings: GuardSettings, metrics: GuardMetrics, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_MONITORS_STALL_FACTOR", "-2")
    with pytest.raises(ConfigError, match="MLOPS_GUARD_MONITORS_STALL_FACTOR"):
        CheckpointMonitor(job="train", guard_settings=settings, metrics=metrics)
    monkeypatch.setenv("MLOPS_GUARD_MONITORS_STALL_FACTOR", "3")
    mon = CheckpointMonitor(job="train", guard_settings=settings, metrics=metrics)
    assert mon.settings.stall_factor == 3.0
    with pytest.raises(MonitorError, match="stal_factor"):
        CheckpointMonitor(job="train", guard_settings=settings, metrics=metrics, stal_factor=2)


def test_start_twice_nested_saves_and_negative_bytes_are_errors(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    mon = make_monitor(settings, metrics, Alerts())
    with mon:
        with pytest.raises(MonitorError, match="already started"):
            mon.start()
        with mon.checkpoint(1), pytest.raises(MonitorError, match="still running"):
            mon.checkpoint(2).__enter__()
        with pytest.raises(MonitorError, match="negative"):
            mon.checkpoint(3, nbytes=-1)
    with pytest.raises(MonitorError, match="already started"):
        mon.start()


def test_limits_never_go_below_the_floor(settings: GuardSettings, metrics: GuardMetrics) -> None:
    alerts = Alerts()
    floor = 0.2
    mon = make_monitor(settings, metrics, alerts, min_limit_seconds=floor)
    with mon:
        run_steps(mon, 30, seconds=0.001)  # sub-millisecond-ish steps: 5 medians is ~5 ms
        time.sleep(0.03)  # a GC pause or scheduling hiccup, not a stall
        run_steps(mon, 5, seconds=0.001)
        assert alerts.of("stalled") == []
        assert alerts.event("stalled").wait(DEADLINE)  # now a real hang
    alert = alerts.of("stalled")[0][1]
    assert alert.limit_s == pytest.approx(floor)
