"""Validating a batch against a suite."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_guard.errors import SchemaError, UsageError
from mlops_guard.validation._engine import Evaluation, RunCache, evaluate_native
from mlops_guard.validation._result import ExpectationOutcome, ValidationResult
from mlops_guard.validation._settings import Engine, ValidationSettings
from mlops_guard.validation._suite import Suite, load_suite

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["evaluate", "validate"]


def _check_frame(df: pd.DataFrame, source: str | None) -> None:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise UsageError(
            f"validate() needs a pandas DataFrame, got {type(df).__name__}",
            hint="read the file with mlops_guard.data.read_table first",
        )
    duplicates = sorted(str(n) for n, c in Counter(map(str, df.columns)).items() if c > 1)
    if duplicates:
        where = f"{source!r}" if source else "the batch"
        raise SchemaError(
            f"{where} has duplicate column names: {', '.join(map(repr, duplicates))}",
            hint="rename the columns so each name appears once",
            columns=duplicates,
        )


def evaluate(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    source: str | None = None,
    settings: ValidationSettings | None = None,
    engine: Engine | None = None,
) -> tuple[ValidationResult, dict[int, np.ndarray]]:
    """Validate and also return the unexpected-row masks of the row-level outcomes.

    The masks are keyed by the outcome's position in ``result.outcomes``; :func:`split_rows`
    uses them. Most callers want :func:`validate`.

    Cells an expectation cannot hash (lists, structs, maps from Parquet) are compared by their
    canonical text instead of crashing the run before a failing batch is quarantined; the
    masks are positional, so they select the same rows of the original cells.
    """
    try:
        return _evaluate(df, suite, source=source, settings=settings, engine=engine)
    except TypeError:
        from mlops_guard.validation._quarantine import evaluable

        view = evaluable(df)
        if view is None:
            raise
        return _evaluate(view, suite, source=source, settings=settings, engine=engine)


def _evaluate(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    source: str | None,
    settings: ValidationSettings | None,
    engine: Engine | None,
) -> tuple[ValidationResult, dict[int, np.ndarray]]:
    import pandas as pd

    settings = settings or ValidationSettings()
    engine = engine or settings.engine
    suite = load_suite(suite, expectations_dir=settings.expectations_dir)
    _check_frame(df, source)
    started = time.perf_counter()
    if not isinstance(df.index, pd.RangeIndex) or df.index.start != 0 or df.index.step != 1:
        # Row positions in results and masks mean positions; GX reports index labels.
        df = df.reset_index(drop=True)
    k = settings.max_examples
    slots: list[Evaluation | ExpectationOutcome | None] = []
    cache = RunCache(
        encode=frozenset(
            str(spec.column)
            for spec in suite.expectations
            if spec.type == "expect_column_values_to_be_in_set" and spec.column
        )
    )
    for spec in suite.expectations:
        slots.append(evaluate_native(spec, df, k, cache) if engine == "auto" else None)
    pending = [i for i, slot in enumerate(slots) if slot is None]
    if pending:
        from mlops_guard.validation._gx import run_with_gx

        gx_outcomes = run_with_gx(
            df,
            [suite.expectations[i] for i in pending],
            max_examples=k,
            source=str(suite.path) if suite.path else suite.name,
        )
        for i, outcome in zip(pending, gx_outcomes, strict=True):
            slots[i] = outcome
    outcomes: list[ExpectationOutcome] = []
    masks: dict[int, np.ndarray] = {}
    for i, slot in enumerate(slots):
        if isinstance(slot, Evaluation):
            outcomes.append(slot.outcome)
            if slot.mask is not None:
                masks[i] = slot.mask
        elif slot is not None:
            outcomes.append(slot)
    result = ValidationResult(
        success=all(o.success for o in outcomes),
        suite=suite.name,
        rows=len(df),
        outcomes=tuple(outcomes),
        source=source,
        duration_seconds=time.perf_counter() - started,
    )
    return result, masks


def validate(
    df: pd.DataFrame,
    suite: Suite | str | Path,
    *,
    source: str | None = None,
    settings: ValidationSettings | None = None,
    engine: Engine | None = None,
) -> ValidationResult:
    """Validate a batch against a suite (a :class:`Suite`, a suite name or a path).

    Missing, extra and mistyped columns are failed expectations
    (``expect_table_columns_to_match_set``, ``expect_column_values_to_be_in_type_list``), so a
    batch that has them is quarantined like any other failed batch; duplicate column names raise
    :class:`~mlops_guard.errors.SchemaError` (no expectation can refer to one of them).

    >>> from mlops_guard.demo import make_dataset
    >>> validate(make_dataset(rows=500, seed=3), "churn").success
    True
    """
    result, _masks = evaluate(df, suite, source=source, settings=settings, engine=engine)
    return result
