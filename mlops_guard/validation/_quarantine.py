"""Quarantine: failed batches (or failed rows) kept whole, with a manifest saying why."""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import ConfigError
from mlops_guard.validation._result import ExpectationOutcome, ValidationResult
from mlops_guard.validation._settings import ValidationSettings
from mlops_guard.validation._suite import Suite

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = [
    "MANIFEST_NAME",
    "NestedCell",
    "REASON_COLUMN",
    "quarantine_batch",
    "quarantine_rows",
    "quarantine_unscored",
    "evaluable",
    "read_manifest",
    "split_rows",
]

REASON_COLUMN = "quarantine_reason"
MANIFEST_NAME = "manifest.json"
DATA_NAME = "data.parquet"
MANIFEST_VERSION = 1


def _to_parquet(df: pd.DataFrame, path: Path) -> list[str]:
    """Write ``df`` to Parquet; returns the columns that had to be stored as text.

    A bad batch is often bad precisely because a column mixes types (numbers and words), or
    holds values Arrow reads but cannot infer back from pandas (maps arrive as lists of pairs),
    which Arrow cannot store as one type. Such columns are kept as their text form (nulls stay
    null) rather than dropping the batch; the manifest lists them.
    """
    import pyarrow as pa

    try:
        df.to_parquet(path, index=False)
        return []
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        pass
    fixed = df.copy()
    stringified: list[str] = []
    for position, column in enumerate(fixed.columns):
        if not _storable(fixed.iloc[:, position]):
            fixed.isetitem(position, _as_text(fixed.iloc[:, position]))
            stringified.append(str(column))
    try:
        fixed.to_parquet(path, index=False)
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        # Each column converts alone but the table still does not write: keep every column as
        # text rather than lose the batch.
        fixed = df.copy()
        for position in range(fixed.shape[1]):
            fixed.isetitem(position, _as_text(fixed.iloc[:, position]))
        fixed.columns = [str(c) for c in fixed.columns]
        fixed.to_parquet(path, index=False)
        stringified = [str(c) for c in df.columns]
    return stringified


def _storable(column: pd.Series[Any]) -> bool:
    """Whether Arrow converts the column and Parquet can hold its type."""
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        array = pa.array(column, from_pandas=True)
        # Some types convert but do not write (a struct without fields): try a few rows.
        pq.write_table(pa.table({"c": array.slice(0, 8)}), io.BytesIO())
    except (pa.ArrowException, TypeError, ValueError, OverflowError):
        return False
    return True


def _as_text(column: pd.Series[Any]) -> np.ndarray:
    return column.map(_text_or_null).astype(object).to_numpy()


def _text_or_null(value: Any) -> Any:
    import numpy as np

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, (np.ndarray, list, tuple, dict)):
        # str() of a long array abbreviates it with "..."; the kept text must be whole.
        return json.dumps(_plain(value), default=str, ensure_ascii=False)
    return str(value)


def _plain(value: Any) -> Any:
    """Nested cells (arrays, dicts, lists of pairs) as plain lists and dicts for JSON."""
    import numpy as np

    if isinstance(value, np.ndarray):
        return [_plain(item) for item in value]
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _source_info(source: str | None) -> dict[str, Any]:
    from mlops_guard.data import file_sha256

    info: dict[str, Any] = {"source": source}
    if source and Path(source).is_file():
        info["source_sha256"] = file_sha256(source)
    return info


def _write(
    df: pd.DataFrame,
    quarantine_dir: str | Path,
    *,
    kind: str,
    result: ValidationResult,
    source: str | None,
) -> Path:
    from mlops_guard.data import fingerprint

    root = Path(quarantine_dir)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"quarantine directory {str(root)!r} is a file", hint="pass a directory")
    now = datetime.now(UTC)
    stamp = now.strftime("%Y%m%dT%H%M%S%fZ")
    # Written under a hidden name, then renamed: a reader never sees half a quarantine entry.
    # The data goes first, so nothing computed from it can stop the batch from being kept.
    tmp = root / f".{stamp}-{result.suite}-{kind}.{uuid.uuid4().hex[:6]}.tmp"
    final = tmp
    try:
        tmp.mkdir(parents=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create a quarantine entry in {str(root)!r}: {exc.strerror or exc}",
            hint="point --quarantine-dir (or MLOPS_GUARD_WORKDIR) at a writable directory; "
            "the batch itself was not changed",
        ) from exc
    try:
        stringified = _to_parquet(df, tmp / DATA_NAME)
        content_hash = fingerprint(df)
        name = f"{stamp}-{result.suite}-{kind}-{content_hash.split(':', 1)[1][:12]}"
        final = root / name
        manifest = {
            "version": MANIFEST_VERSION,
            "kind": kind,
            "suite": result.suite,
            "rows": len(df),
            "batch_rows": result.rows,
            "columns": [str(c) for c in df.columns],
            "content_hash": content_hash,
            **_source_info(source),
            "quarantined_at": now.isoformat(timespec="microseconds").replace("+00:00", "Z"),
            "failed": [o.to_json() for o in result.failed],
            "stored_as_text": stringified,
            "data": DATA_NAME,
        }
        (tmp / MANIFEST_NAME).write_text(
            json.dumps(manifest, indent=2, allow_nan=False) + "\n", encoding="utf-8"
        )
        if final.exists():  # the same batch, the same microsecond: keep both
            final = root / f"{name}-{uuid.uuid4().hex[:6]}"
        os.replace(tmp, final)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConfigError(
            f"cannot write the quarantine entry {str(final)!r}: {exc.strerror or exc}",
            hint="free space or fix permissions, then rerun; the batch itself was not changed",
        ) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def quarantine_batch(
    df: pd.DataFrame,
    result: ValidationResult,
    quarantine_dir: str | Path,
    source: str | None = None,
) -> Path:
    """Keep a whole failed batch: ``<dir>/<time>-<suite>-batch-<hash>/`` with the data as
    Parquet and ``manifest.json`` (suite, failed expectations, row count, source path and its
    SHA-256, content hash, time). Returns the entry's directory.
    """
    return _write(df, quarantine_dir, kind="batch", result=result, source=source or result.source)


def quarantine_rows(
    failing: pd.DataFrame,
    result: ValidationResult,
    quarantine_dir: str | Path,
    source: str | None = None,
) -> Path:
    """Keep the failing rows of a batch (with their :data:`REASON_COLUMN`), like
    :func:`quarantine_batch`."""
    return _write(
        failing, quarantine_dir, kind="rows", result=result, source=source or result.source
    )


#: The pseudo-expectation a row breaks when the model raised on it or gave no finite score.
SCORING_EXPECTATION = "model_scores_row"


def quarantine_unscored(
    failing: pd.DataFrame,
    *,
    model: str,
    version: str,
    batch_rows: int,
    quarantine_dir: str | Path,
    source: str | None = None,
) -> Path:
    """Keep rows that passed validation but that version ``version`` of ``model`` failed to
    score (with their :data:`REASON_COLUMN`), like :func:`quarantine_rows`. The manifest's
    suite is ``<model>-v<version>`` and its one failure :data:`SCORING_EXPECTATION`."""
    first = failing[REASON_COLUMN].iloc[0] if REASON_COLUMN in failing and len(failing) else None
    outcome = ExpectationOutcome(
        expectation=SCORING_EXPECTATION,
        column=None,
        success=False,
        unexpected_count=len(failing),
        detail=None if first is None else str(first),
        row_level=True,
    )
    result = ValidationResult(
        success=False, suite=f"{model}-v{version}", rows=batch_rows, outcomes=(outcome,)
    )
    return _write(failing, quarantine_dir, kind="unscored", result=result, source=source)


class NestedCell:
    """A list, struct or map cell, made hashable (by its canonical text) for the validator.

    The expectations hash and compare cells (value sets, uniqueness); a cell Parquet reads as
    an array or a dict cannot be hashed, and such a column is exactly the kind of bad batch
    that must fail and be kept rather than crash. The wrapper is none of the types a suite
    names (``str``, ``int``, ``list``...), so type expectations fail on it, and it is never
    null, in a value set, or a number. ``str()`` is the cell as JSON, for the report.
    """

    __slots__ = ("_text", "value")

    def __init__(self, value: Any) -> None:
        from mlops_guard.data._io import canonical_text

        self.value = value
        self._text = canonical_text(value)

    def __hash__(self) -> int:
        return hash(self._text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NestedCell) and other._text == self._text

    def __str__(self) -> str:
        text: str = _text_or_null(self.value)
        return text

    def __repr__(self) -> str:
        return str(self)


def _unhashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return True
    return False


def evaluable(df: pd.DataFrame) -> pd.DataFrame | None:
    """``df`` with its unhashable cells wrapped in :class:`NestedCell`, or None when it has none
    (then whatever failed on the frame was not its cells)."""
    import pandas as pd

    wrapped: pd.DataFrame | None = None
    for position in range(df.shape[1]):
        column = df.iloc[:, position]
        if column.dtype != object:
            continue
        cells = column.to_numpy()
        if not any(_unhashable(value) for value in cells):
            continue
        if wrapped is None:
            wrapped = df.copy()
        wrapped.isetitem(
            position,
            pd.Series(
                [NestedCell(v) if _unhashable(v) else v for v in cells], dtype=object
            ).to_numpy(),
        )
    return wrapped


def split_rows(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    settings: ValidationSettings | None = None,
    source: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, ValidationResult]:
    """Split a batch into rows that may go on and rows that may not.

    Rows are failing when they are unexpected for an expectation that failed on the batch
    (rows unexpected for an expectation that passed thanks to ``mostly`` go on). The failing
    frame has a :data:`REASON_COLUMN` naming the expectations each row broke. When a failure is
    about the whole table (a missing column, a wrong dtype, a row count), no row can pass:
    every row is failing, with that reason. Together the two frames hold every row, once.

    >>> from mlops_guard.demo import make_dataset
    >>> passing, failing, result = split_rows(make_dataset(rows=100, seed=1), "churn")
    >>> (len(passing), len(failing))
    (100, 0)
    """
    import numpy as np
    import pandas as pd

    from mlops_guard.validation._validate import evaluate

    result, masks = evaluate(df, suite, source=source, settings=settings, engine="auto")
    if result.success:
        # Nothing failed: every row goes on as it is, without a copy of the batch or a
        # reason per row (a million-row batch would pay for both).
        failing = df.iloc[:0].copy()
        failing[REASON_COLUMN] = pd.Series(dtype=object)
        return df, failing, result
    n = len(df)
    whole_table = [o.label for o in result.outcomes if not o.success and not o.row_level]
    reason = pd.Series([""] * n, dtype=object)
    any_bad = np.zeros(n, dtype=bool)
    if whole_table:
        any_bad[:] = True
        reason[:] = "; ".join(whole_table)
    for i, outcome in enumerate(result.outcomes):
        if outcome.success or not outcome.row_level:
            continue
        mask = masks[i]
        any_bad |= mask
        # Vectorised: a million failing rows must not mean a million Python iterations.
        joiner = np.where(reason.to_numpy()[mask] == "", "", "; ")
        reason[mask] = reason[mask] + joiner + outcome.label
    bad_rows = np.flatnonzero(any_bad)
    failing = df.iloc[bad_rows].copy()
    failing[REASON_COLUMN] = reason.to_numpy()[bad_rows]
    passing = df.iloc[np.flatnonzero(~any_bad)]
    return passing, failing, result


def read_manifest(entry: str | Path) -> dict[str, Any]:
    """The manifest of a quarantine entry (a directory returned by :func:`quarantine_batch`)."""
    path = Path(entry) / MANIFEST_NAME
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data
