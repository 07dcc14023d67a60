"""What a canary step measures on each version's rows, for any task the contract names.

Every step, for both versions: latency (one sample per timed call of ``latency_batch_rows``
rows), errors (a row the model cannot score, found by :meth:`Predictor.score`, is a 1) and
the prediction distribution (``score``: P(positive) of a binary classifier with scores;
``predicted_class``: the class code of any other classifier; ``prediction``: a regressor's
value). On labelled rows also: ``correct`` (classifiers), ``abs_error`` (regression), and the
rows themselves for the aggregate metrics of :mod:`mlops_guard.canary._labelled`.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_guard.canary._labelled import LabelledRows

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from numpy.typing import NDArray

    from mlops_guard.canary._settings import CanarySettings
    from mlops_guard.contract import ModelContract, Predictor

__all__ = ["Scored", "Side", "measure_step"]

_log = logging.getLogger("mlops_guard.canary")


@dataclass
class Side:
    """One version's samples in one step, accumulated over the step's repeats."""

    predictor: Predictor
    samples: dict[str, list[float]] = field(default_factory=dict)
    labelled: LabelledRows = field(default_factory=LabelledRows)
    rows: int = 0

    def extend(self, name: str, values: Any) -> None:
        self.samples.setdefault(name, []).extend(float(v) for v in values)


@dataclass(frozen=True)
class Scored:
    """One version's share of a batch: the contract's prediction columns on every row (empty
    where the row failed to score) and which rows scored."""

    predictions: pd.DataFrame
    ok: NDArray[np.bool_]
    failures: dict[int, str]


def _plain(value: Any) -> Any:
    from mlops_guard.contract._model import _plain as plain

    return plain(value)


def _time_calls(parts: dict[str, tuple[Side, pd.DataFrame]], config: CanarySettings) -> None:
    """Latency samples: up to ``latency_calls`` timed calls of ``latency_batch_rows`` rows per
    version, the versions' calls interleaved in proportion to their counts, so load on a shared
    host (other jobs, a garbage collection) falls on both sides alike instead of biasing
    latency toward whichever version was scored second. Their outputs are discarded: every row
    is scored once more, untimed, by :meth:`Predictor.score`, which isolates failing rows."""
    size = config.latency_batch_rows
    schedule: list[tuple[float, str, int]] = []
    for version, (_side, frame) in parts.items():
        starts = range(0, min(len(frame), size * config.latency_calls), size)
        schedule.extend((i / len(starts), version, start) for i, start in enumerate(starts))
    schedule.sort()
    for _position, version, start in schedule:
        side, frame = parts[version]
        chunk = frame.iloc[start : start + size]
        began = time.perf_counter()
        try:
            side.predictor.predict(chunk)
        except Exception as exc:  # noqa: BLE001 - a failure is counted by score(), not here
            _log.debug("timed scoring call failed: %s", exc)
        side.extend("latency_seconds", [(time.perf_counter() - began) / len(chunk)])


def _score(predictor: Predictor, frame: pd.DataFrame) -> Scored:
    import numpy as np

    if not len(frame):
        empty = predictor.contract.prediction_columns
        return Scored(frame.iloc[:0].reindex(columns=empty), np.zeros(0, dtype=bool), {})
    try:
        predictions, failures = predictor.score(frame)
    except Exception as exc:  # noqa: BLE001 - a model that cannot score is a measurement
        # Predictor.score isolates failing rows, but a model failing on every row can still
        # raise from the final call on no rows; then every row counts as an error.
        reason = f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:300]
        failures = dict.fromkeys(range(len(frame)), reason)
        predictions = frame.iloc[:0].reindex(columns=predictor.contract.prediction_columns)
    ok = np.ones(len(frame), dtype=bool)
    ok[sorted(failures)] = False
    # The rows that scored keep their index, so the failed ones come back empty.
    full = predictions.reindex(frame.index)
    return Scored(full, ok, failures)


def _codes(values: Any, classes: tuple[Any, ...]) -> list[int]:
    """Each label's position among the contract's classes (-1 for a label outside them, which
    a labels-only model may return)."""
    index = {c: i for i, c in enumerate(classes)}
    return [index.get(_plain(v), -1) for v in values]


def _collect(side: Side, frame: pd.DataFrame, scored: Scored, contract: ModelContract) -> None:
    import numpy as np
    import pandas as pd

    from mlops_guard.contract import PREDICTION_COLUMN, SCORE_COLUMN

    ok = scored.ok
    side.rows += len(frame)
    side.extend("error", (~ok).astype(float))
    kept = scored.predictions[ok]
    with_scores = contract.task == "binary" and side.predictor.has_scores
    if with_scores:
        side.extend("score", kept[SCORE_COLUMN].to_numpy(dtype=np.float64))
    elif contract.is_classifier:
        assert contract.classes is not None
        side.extend("predicted_class", _codes(kept[PREDICTION_COLUMN], contract.classes))
    else:
        side.extend("prediction", kept[PREDICTION_COLUMN].to_numpy(dtype=np.float64))
    if contract.label not in frame.columns:
        return
    known = ok & frame[contract.label].notna().to_numpy()
    if not known.any():
        return
    truth = frame[contract.label][known]
    predicted = scored.predictions[known]
    side.labelled.add(truth, predicted)
    if contract.task == "regression":
        values = pd.to_numeric(predicted[PREDICTION_COLUMN]).to_numpy(dtype=np.float64)
        side.extend("abs_error", np.abs(truth.to_numpy(dtype=np.float64) - values))
        return
    hits = [
        _plain(t) == _plain(p) for t, p in zip(truth, predicted[PREDICTION_COLUMN], strict=True)
    ]
    side.extend("correct", hits)


def measure_step(
    parts: dict[str, tuple[Side, pd.DataFrame]],
    contract: ModelContract,
    config: CanarySettings,
) -> dict[str, Scored]:
    """Time, score and sample each version's rows (``parts``: version -> its side and rows);
    returns each version's scored rows. ``contract`` is the champion's: it names the label,
    classes and task both versions share."""
    _time_calls(parts, config)
    scored: dict[str, Scored] = {}
    for version, (side, frame) in parts.items():
        scored[version] = _score(side.predictor, frame)
        _collect(side, frame, scored[version], contract)
    return scored
