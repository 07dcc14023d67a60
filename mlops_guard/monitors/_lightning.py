"""A Lightning-style callback that drives a :class:`CheckpointMonitor`; needs no Lightning import.

Lightning calls the hooks by name, so this duck-typed class works as is with trainers that accept
any object with the hooks. Lightning's own ``Trainer`` insists on ``Callback`` instances: mix it
in there, ``class GuardCallback(CheckpointMonitorCallback, lightning.pytorch.Callback): pass``.

Timing a save: Lightning calls ``on_save_checkpoint`` just before it writes and has no hook
just after, so the save is timed from that hook to the next batch (or the end of training):
the write plus a negligible loop overhead, which is what the accelerators wait for.
"""

from __future__ import annotations

from typing import Any

from mlops_guard.monitors._monitor import CheckpointMonitor

__all__ = ["CheckpointMonitorCallback"]


class CheckpointMonitorCallback:
    """Lightning-style hooks feeding a monitor.

    >>> from mlops_guard.monitors import CheckpointMonitor
    >>> callback = CheckpointMonitorCallback(CheckpointMonitor(job="train"))
    >>> # trainer = lightning.Trainer(callbacks=[callback])  # see the module docs
    """

    def __init__(self, monitor: CheckpointMonitor) -> None:
        self.monitor = monitor
        self._saving = False

    def _finish_save(self) -> None:
        if self._saving:
            self._saving = False
            self.monitor._end_save(nbytes=None, ok=True)

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if not self.monitor.running:
            self.monitor.start()

    def on_train_batch_start(
        self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int
    ) -> None:
        self._finish_save()

    def on_train_batch_end(
        self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self._finish_save()
        self.monitor.step()

    def on_save_checkpoint(self, trainer: Any, pl_module: Any, checkpoint: Any) -> None:
        if self._saving:  # a second save before any batch: close the first one first
            self._finish_save()
        step = getattr(trainer, "global_step", None)
        self.monitor._begin_save(int(step) if step is not None else None)
        self._saving = True

    def on_train_end(self, trainer: Any, pl_module: Any) -> None:
        self._finish_save()
        self.monitor.stop()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._saving = False
        self.monitor.stop()
