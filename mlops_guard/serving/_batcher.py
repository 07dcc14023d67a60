"""Concurrent requests to one version scored in one ``predict`` call.

A scikit-learn pipeline spends most of a one-row call on per-call overhead (input checks,
column dispatch), so twenty one-row requests cost about what one twenty-row request costs.
Requests that arrive while the model is busy wait for its next call and are joined into one
frame; there is no timer, so a lone request never waits for company. A joined call that
fails is retried request by request, so one request the model cannot score fails alone.
"""

from __future__ import annotations

import asyncio
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.contract import Predictor
    from mlops_guard.serving._payload import Inputs

__all__ = ["Batcher", "Scored"]


@dataclass(frozen=True)
class Scored:
    """One request's answer from one version: the predictions to return, and one number a
    row for telemetry (the positive score, the value, or the winning probability)."""

    version: str
    predictions: list[Any]
    numbers: list[float]


def _numbers(predictor: Predictor, out: pd.DataFrame) -> list[float]:
    from mlops_guard.contract import PREDICTION_COLUMN, SCORE_COLUMN

    contract = predictor.contract
    if not contract.is_classifier:
        return [float(v) for v in out[PREDICTION_COLUMN].tolist()]
    if contract.task == "binary":
        return [float(v) for v in out[SCORE_COLUMN].tolist()]
    probabilities = out[contract.probability_columns]
    return [float(v) for v in probabilities.max(axis=1).tolist()]


def _predict(predictor: Predictor, items: list[Inputs]) -> list[Scored | BaseException]:
    """Score ``items`` in one call (or one by one after a failure); runs on the model thread."""
    import pandas as pd

    from mlops_guard.contract import PREDICTION_COLUMN

    def answer(out: pd.DataFrame) -> list[Any]:
        return list(out[PREDICTION_COLUMN].tolist())

    if len(items) == 1:
        joined = items[0].columns
    else:
        joined = {name: [] for name in items[0].columns}
        for item in items:
            for name, values in joined.items():
                values.extend(item.columns.get(name, [None] * item.rows))
    try:
        out = predictor.predict(pd.DataFrame(joined))
    except Exception as exc:  # noqa: BLE001 - a model's failure is the request's answer
        if len(items) == 1:
            return [exc]
        return [result for item in items for result in _predict(predictor, [item])]
    predictions, numbers = answer(out), _numbers(predictor, out)
    results: list[Scored | BaseException] = []
    start = 0
    for item in items:
        stop = start + item.rows
        results.append(Scored(predictor.version, predictions[start:stop], numbers[start:stop]))
        start = stop
    return results


class Batcher:
    """Joins concurrent requests per version; one model thread does every ``predict``."""

    def __init__(self, max_rows: int) -> None:
        self.max_rows = max_rows
        self._pending: deque[tuple[Predictor, Inputs, asyncio.Future[Scored]]] = deque()
        self._draining = False
        self._task: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlops-guard-model")
        #: predict calls made and rows they scored (for the benchmark and tests).
        self.calls = 0
        self.rows = 0

    async def score(self, predictor: Predictor, inputs: Inputs) -> Scored:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Scored] = loop.create_future()
        self._pending.append((predictor, inputs, future))
        if not self._draining:
            self._draining = True
            self._task = loop.create_task(self._drain())
        return await future

    def _take(self) -> tuple[Predictor, list[tuple[Inputs, asyncio.Future[Scored]]]]:
        predictor, inputs, future = self._pending.popleft()
        taken = [(inputs, future)]
        rows = inputs.rows
        kept: deque[tuple[Predictor, Inputs, asyncio.Future[Scored]]] = deque()
        while self._pending:
            other, more, later = self._pending.popleft()
            if other is predictor and rows + more.rows <= self.max_rows:
                taken.append((more, later))
                rows += more.rows
            else:
                kept.append((other, more, later))
        self._pending.extendleft(reversed(kept))
        return predictor, taken

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._pending:
                predictor, taken = self._take()
                items = [inputs for inputs, _ in taken]
                self.calls += 1
                self.rows += sum(item.rows for item in items)
                try:
                    results = await loop.run_in_executor(self._executor, _predict, predictor, items)
                except BaseException as exc:  # noqa: BLE001 - every waiter gets an answer
                    results = [exc] * len(taken)
                for (_inputs, future), result in zip(taken, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._draining = False

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
