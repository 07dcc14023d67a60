"""The monitor in the frameworks users run: a real PyTorch loop and the Lightning-style callback."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

from mlops_guard.metrics import GuardMetrics
from mlops_guard.monitors import CheckpointMonitor, CheckpointMonitorCallback
from mlops_guard.settings import GuardSettings

from ._labels import monitor_labels

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "torch_training_loop.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("torch_training_loop", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # importing torch alone takes several seconds on a busy 2-core machine
def test_real_pytorch_loop_under_the_monitor(
    settings: GuardSettings, metrics: GuardMetrics, tmp_path: Path
) -> None:
    if importlib.util.find_spec("torch") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("torch is missing under CI=true: make installs the [torch] extra")
        pytest.skip("torch is the optional extra [torch] (make test installs it)")
    import torch

    example = _load_example()
    monitor = CheckpointMonitor(
        job="train", model="churn", guard_settings=settings, metrics=metrics, prefect_events=False
    )
    status = example.train(tmp_path / "ckpt", steps=120, checkpoint_every=30, monitor=monitor)

    files = sorted((tmp_path / "ckpt").glob("*.pt"))
    assert [f.name for f in files] == [f"step-{s:06d}.pt" for s in (30, 60, 90, 120)]
    assert torch.load(files[-1], weights_only=True)["step"] == 120
    assert status.steps == 120
    assert status.checkpoints == 4
    assert status.last_checkpoint_step == 120
    assert status.save_bytes_total == sum(f.stat().st_size for f in files)
    assert status.stalls == 0
    assert status.step_seconds_p50 is not None
    assert 0 < status.save_share < 1
    labels = monitor_labels("train", "churn")
    assert metrics.sample("mlops_guard_checkpoint_save_seconds_count", labels) == 4.0
    assert metrics.sample("mlops_guard_step_seconds_count", labels) == 119.0


def test_lightning_style_callback_drives_the_monitor(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    # Lightning itself is not installed here; this loop calls the hooks in the order Lightning's
    # fit loop does (ModelCheckpoint saves from on_train_batch_end, after other callbacks).
    monitor = CheckpointMonitor(
        job="train", model="churn", guard_settings=settings, metrics=metrics, prefect_events=False
    )
    callback = CheckpointMonitorCallback(monitor)
    trainer = SimpleNamespace(global_step=0)
    module = object()
    callback.on_train_start(trainer, module)
    assert monitor.running
    for batch_idx in range(20):
        callback.on_train_batch_start(trainer, module, None, batch_idx)
        time.sleep(0.002)  # the training step
        trainer.global_step += 1
        callback.on_train_batch_end(trainer, module, None, None, batch_idx)
        if trainer.global_step % 5 == 0:
            callback.on_save_checkpoint(trainer, module, {})
            time.sleep(0.01)  # Lightning writes the checkpoint after the hook
    callback.on_train_end(trainer, module)

    status = monitor.status()
    assert status.state == "stopped"
    assert status.steps == 20
    assert status.checkpoints == 4
    assert status.last_checkpoint_step == 20
    assert status.save_seconds_p50 is not None
    assert status.save_seconds_p50 >= 0.01
    assert not status.saving


def test_callback_on_exception_stops_the_monitor(
    settings: GuardSettings, metrics: GuardMetrics
) -> None:
    monitor = CheckpointMonitor(
        job="train", model="churn", guard_settings=settings, metrics=metrics, prefect_events=False
    )
    callback = CheckpointMonitorCallback(monitor)
    trainer = SimpleNamespace(global_step=3)
    callback.on_train_start(trainer, None)
    callback.on_save_checkpoint(trainer, None, {})
    callback.on_exception(trainer, None, RuntimeError("boom"))
    assert not monitor.running
    assert monitor.status().checkpoints == 0
