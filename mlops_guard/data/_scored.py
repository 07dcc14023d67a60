"""Scored batches: the columns the pipelines add to a batch, and where its file lives.

The inference pipeline and the canary write scored rows; the drift check reads them back. All
three go through this module, so the format and the layout are written once:

* columns added to the batch: :data:`SCORE_COLUMN` (P(positive)), :data:`PREDICTION_COLUMN`
  (0/1 at the decision threshold), and the bookkeeping columns :data:`MODEL_VERSION_COLUMN`,
  :data:`BATCH_ID_COLUMN`, :data:`SCORED_AT_COLUMN`;
* one Parquet file per model, version, kind and batch::

      <workdir>/predictions/<model>/v<version>/batch/<batch_id>.parquet    (inference pipeline)
      <workdir>/predictions/<model>/v<version>/canary/<batch_id>.parquet   (canary splits)

  so a reader asking for one version and one kind cannot pick up another's files, whatever the
  model names, versions or batch ids look like.

Workdirs written before this layout hold flat files
``<workdir>/predictions/<model>-v<version>-<batch_id>.parquet``; :func:`scored_batches` still
lists them (canary splits among them have batch ids starting ``canary-``). A flat name cannot
tell model ``churn`` version 1 from a model named ``churn-v1``: readers should check
:data:`MODEL_VERSION_COLUMN`, as the drift check does.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from mlops_guard.errors import UsageError

if TYPE_CHECKING:
    from datetime import datetime

    import numpy as np
    import numpy.typing as npt
    import pandas as pd

    from mlops_guard.settings import GuardSettings

__all__ = [
    "BATCH_ID_COLUMN",
    "BOOKKEEPING_COLUMNS",
    "MODEL_VERSION_COLUMN",
    "OUTPUT_COLUMNS",
    "PREDICTION_COLUMN",
    "SCORED_AT_COLUMN",
    "SCORED_COLUMNS",
    "SCORE_COLUMN",
    "ScoredKind",
    "add_scores",
    "scored_batch_path",
    "scored_batches",
]

SCORE_COLUMN = "score"
PREDICTION_COLUMN = "prediction"
MODEL_VERSION_COLUMN = "model_version"
BATCH_ID_COLUMN = "batch_id"
SCORED_AT_COLUMN = "scored_at"
#: What the model produced for each row.
OUTPUT_COLUMNS: tuple[str, ...] = (SCORE_COLUMN, PREDICTION_COLUMN)
#: Who scored the row and when.
BOOKKEEPING_COLUMNS: tuple[str, ...] = (MODEL_VERSION_COLUMN, BATCH_ID_COLUMN, SCORED_AT_COLUMN)
#: Every column the pipelines add to a batch, in the order they add them.
SCORED_COLUMNS: tuple[str, ...] = OUTPUT_COLUMNS + BOOKKEEPING_COLUMNS

ScoredKind = Literal["batch", "canary"]
_KINDS: tuple[str, ...] = ("batch", "canary")
_SUFFIX = ".parquet"
# Batch ids of canary splits in the flat layout (the canary named them so).
_LEGACY_CANARY_PREFIX = "canary-"


def _component(what: str, value: str) -> str:
    text = str(value)
    if not text or text in (".", "..") or "/" in text or "\\" in text:
        raise UsageError(
            f"{what} {text!r} cannot name a scored-batch file",
            hint=f"use a {what} without '/' or '\\', not empty, '.' or '..'",
        )
    return text


def _kind(kind: str) -> str:
    if kind not in _KINDS:
        raise UsageError(f"scored-batch kind {kind!r} is unknown", hint="use 'batch' or 'canary'")
    return kind


def _directory(settings: GuardSettings, model: str, version: str, kind: str) -> Path:
    return (
        settings.predictions_dir
        / _component("model", model)
        / f"v{_component('version', version)}"
        / _kind(kind)
    )


def scored_batch_path(
    settings: GuardSettings,
    model: str,
    version: str,
    batch_id: str,
    kind: ScoredKind = "batch",
) -> Path:
    """Where the scored batch ``batch_id`` of ``model`` version ``version`` is written.

    >>> from mlops_guard.settings import GuardSettings
    >>> scored_batch_path(GuardSettings(workdir="w"), "churn", "3", "b1", "canary").as_posix()
    'w/predictions/churn/v3/canary/b1.parquet'
    """
    directory = _directory(settings, model, version, kind)
    return directory / f"{_component('batch id', batch_id)}{_SUFFIX}"


def _legacy(settings: GuardSettings, model: str, version: str, kind: str) -> list[Path]:
    """Flat files ``<model>-v<version>-<batch_id>.parquet`` of workdirs written before the
    per-version directories."""
    import glob

    pattern = re.compile(rf"{re.escape(model)}-v{re.escape(version)}-(.+){re.escape(_SUFFIX)}")
    found = []
    for path in settings.predictions_dir.glob(f"{glob.escape(model)}-v*{_SUFFIX}"):
        match = pattern.fullmatch(path.name)
        if match is None or not path.is_file():
            continue
        canary = match.group(1).startswith(_LEGACY_CANARY_PREFIX)
        if canary == (kind == "canary"):
            found.append(path)
    return found


def scored_batches(
    settings: GuardSettings, model: str, version: str, kind: ScoredKind = "batch"
) -> list[Path]:
    """The scored batch files of one model, one version and one kind, newest first (by
    modification time, then by name); empty when there is none.

    Includes the flat files of older workdirs (see the module docs).
    """
    directory = _directory(settings, model, version, kind)
    files = [p for p in directory.glob(f"*{_SUFFIX}") if p.is_file()]
    files.extend(_legacy(settings, str(model), str(version), kind))
    files.sort(key=lambda p: (p.stat().st_mtime_ns, p.name), reverse=True)
    return files


def add_scores(
    frame: pd.DataFrame,
    scores: npt.ArrayLike,
    *,
    version: str,
    batch_id: str,
    threshold: float,
    scored_at: datetime | None = None,
) -> pd.DataFrame:
    """A copy of ``frame`` with the scored-batch columns: ``score`` (``scores``),
    ``prediction`` (1 where the score is at least ``threshold``), ``model_version``,
    ``batch_id`` and ``scored_at`` (now, in UTC, unless given).

    >>> import pandas as pd
    >>> out = add_scores(pd.DataFrame({"x": [1, 2]}), [0.2, 0.7], version="3", batch_id="b1",
    ...                  threshold=0.5)
    >>> list(out.columns), out["prediction"].tolist()
    (['x', 'score', 'prediction', 'model_version', 'batch_id', 'scored_at'], [0, 1])
    """
    from datetime import UTC
    from datetime import datetime as _datetime

    import numpy as np
    import pandas as pd

    values: npt.NDArray[np.float64] = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1 or values.size != len(frame):
        raise UsageError(
            f"{values.size} scores for {len(frame)} rows", hint="pass one score per row"
        )
    out = frame.copy()
    out[SCORE_COLUMN] = values
    out[PREDICTION_COLUMN] = (values >= threshold).astype("int64")
    out[MODEL_VERSION_COLUMN] = str(version)
    out[BATCH_ID_COLUMN] = str(batch_id)
    out[SCORED_AT_COLUMN] = pd.Timestamp(scored_at or _datetime.now(UTC))
    return out


def with_predictions(
    frame: pd.DataFrame,
    predictions: pd.DataFrame,
    *,
    version: str,
    batch_id: str,
    scored_at: datetime | None = None,
    copy: bool = True,
) -> pd.DataFrame:
    """A copy of ``frame`` with the model's prediction columns (``predictions``, one row per
    row of ``frame``, in order: the contract's ``prediction``, ``score``, ``proba_<class>``)
    and the bookkeeping columns ``model_version``, ``batch_id`` and ``scored_at``.

    With ``copy=False`` the result shares ``frame``'s columns instead of copying them (the
    new columns are its own): for a caller that owns ``frame`` and will not change either
    frame in place. On a million rows the copy is a sizeable share of the scoring stage."""
    from datetime import UTC
    from datetime import datetime as _datetime

    import pandas as pd

    if len(predictions) != len(frame):
        raise UsageError(
            f"{len(predictions)} rows of predictions for a batch of {len(frame)}",
            hint="pass one prediction row per row of the batch",
        )
    out = frame.copy(deep=copy)
    for column in predictions.columns:
        out[column] = predictions[column].to_numpy()
    out[MODEL_VERSION_COLUMN] = str(version)
    out[BATCH_ID_COLUMN] = str(batch_id)
    out[SCORED_AT_COLUMN] = pd.Timestamp(scored_at or _datetime.now(UTC))
    return out
