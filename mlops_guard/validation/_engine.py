"""Vectorised evaluation of the common expectation types, with Great Expectations' semantics.

GX 1.x evaluates a pandas batch metric by metric through its execution engine; on a million rows
most of the time goes into that machinery, not the arithmetic. The types below are evaluated
here directly in pandas/numpy, following GX 1.24's pandas code paths (cited per function), and
``tests/validation/test_engine.py`` checks that success and unexpected counts agree with real GX
on clean and corrupted batches. Every other type is handed to GX itself (see ``_gx.py``).

Deliberate difference: ``expect_column_values_to_be_between`` on a column of text (a numeric
column that arrived with words in it) fails here with the non-numeric values counted as
unexpected; GX raises inside the expectation and reports only success=False.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import SuiteError
from mlops_guard.validation._result import ExpectationOutcome
from mlops_guard.validation._suite import ExpectationSpec

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

__all__ = ["NATIVE_TYPES", "Evaluation", "RunCache", "evaluate_native"]


@dataclass(frozen=True)
class Evaluation:
    """One expectation's outcome plus, for row-level outcomes, the mask of unexpected rows."""

    outcome: ExpectationOutcome
    mask: np.ndarray | None = None


def _mostly(spec: ExpectationSpec) -> float:
    mostly = spec.kwargs.get("mostly", 1.0)
    if mostly is None:
        return 1.0
    if not isinstance(mostly, (int, float)) or not 0.0 <= float(mostly) <= 1.0:
        raise SuiteError(
            f"{spec.label}: mostly={mostly!r} is not a number between 0 and 1",
            hint="fix 'mostly' in the suite",
        )
    return float(mostly)


def _mostly_success(considered: int, unexpected: int, mostly: float) -> bool:
    # GX expectation.py _mostly_success, and ColumnMapExpectation._validate: nothing to
    # consider (no rows, or only nulls) is a success.
    if considered == 0:
        return True
    return (considered - unexpected) / considered >= mostly


def _require(spec: ExpectationSpec, key: str) -> Any:
    if key not in spec.kwargs:
        raise SuiteError(f"{spec.label} needs the kwarg {key!r}", hint="add it to the suite")
    return spec.kwargs[key]


def _map_outcome(
    spec: ExpectationSpec,
    series: pd.Series[Any],
    unexpected: np.ndarray,
    considered: int,
    max_examples: int,
    *,
    detail: str | None = None,
) -> Evaluation:
    import numpy as np

    count = int(unexpected.sum())
    success = _mostly_success(considered, count, _mostly(spec))
    rows: list[int] = []
    examples: list[Any] = []
    if count and max_examples:
        rows = [int(i) for i in np.flatnonzero(unexpected)[:max_examples]]
        examples = [series.iat[i] for i in rows]
    outcome = ExpectationOutcome(
        expectation=spec.type,
        column=spec.column,
        success=success,
        unexpected_count=count,
        unexpected_examples=examples,
        unexpected_rows=rows,
        detail=detail,
        row_level=True,
        kwargs=dict(spec.kwargs),
    )
    return Evaluation(outcome, unexpected)


def _table_outcome(
    spec: ExpectationSpec,
    success: bool,
    unexpected_count: int,
    detail: str | None,
    examples: list[Any] | None = None,
) -> Evaluation:
    return Evaluation(
        ExpectationOutcome(
            expectation=spec.type,
            column=spec.column,
            success=success,
            unexpected_count=unexpected_count if not success else 0,
            unexpected_examples=examples or [],
            detail=detail if not success else None,
            kwargs=dict(spec.kwargs),
        )
    )


# --- text columns, encoded once -----------------------------------------------------------


@dataclass(frozen=True)
class _Codes:
    """A text column as dictionary codes: ``codes[i]`` indexes ``values``, -1 for null.

    Hashing a million Python strings once and then working on integers is what makes the text
    expectations (nulls, sets, uniqueness) cheap; pandas re-hashes the objects for each one.
    """

    codes: np.ndarray
    values: list[str]

    @property
    def nonnull(self) -> np.ndarray:
        return self.codes >= 0


@dataclass
class RunCache:
    """Work shared by the expectations of one run on one batch.

    Only columns with a value set are encoded: their few distinct values make encoding cheap
    and every later check on them nearly free. Encoding an id column (a million distinct
    values) would cost more than it saves.
    """

    encode: frozenset[str] = frozenset()
    codes: dict[str, _Codes | None] = field(default_factory=dict)


_Cache = RunCache


def _text_codes(s: pd.Series[Any], cache: _Cache) -> _Codes | None:
    """The column's codes when it holds only text (and nulls) and is worth encoding."""
    key = str(s.name)
    if key in cache.codes:
        return cache.codes[key]
    if key not in cache.encode:
        return None
    found: _Codes | None = None
    if s.dtype == object:
        import pandas as pd

        # factorize: None and NaN get code -1, exactly pandas' isna() for these values.
        codes, uniques = pd.factorize(s, use_na_sentinel=True)
        values = list(uniques)
        # Only pure text: with mixed objects, 1, 1.0 and True would share one code.
        if all(type(value) is str for value in values):
            found = _Codes(codes.astype("int64", copy=False), values)
    cache.codes[key] = found
    return found


# --- column map expectations -------------------------------------------------------------


def _not_null(spec: ExpectationSpec, s: pd.Series[Any], k: int, cache: _Cache) -> Evaluation:
    # GX ExpectColumnValuesToNotBeNull._validate: nulls over all rows, 'mostly' on all rows.
    codes = _text_codes(s, cache)
    unexpected = ~codes.nonnull if codes is not None else s.isna().to_numpy()
    return _map_outcome(spec, s, unexpected, len(s), k)


def _null(spec: ExpectationSpec, s: pd.Series[Any], k: int, cache: _Cache) -> Evaluation:
    codes = _text_codes(s, cache)
    unexpected = codes.nonnull if codes is not None else s.notna().to_numpy()
    return _map_outcome(spec, s, unexpected, len(s), k)


def _between(spec: ExpectationSpec, s: pd.Series[Any], k: int, cache: _Cache) -> Evaluation:
    import numpy as np
    import pandas as pd

    low = spec.kwargs.get("min_value")
    high = spec.kwargs.get("max_value")
    if low is None and high is None:
        raise SuiteError(f"{spec.label}: min_value and max_value are both null", hint="set one")
    if not all(v is None or isinstance(v, (int, float)) for v in (low, high)):
        raise _Delegate
    if low is not None and high is not None and low > high:
        raise SuiteError(f"{spec.label}: min_value {low} > max_value {high}", hint="swap them")
    nonnull = s.notna().to_numpy()
    detail = None
    if pd.api.types.is_bool_dtype(s.dtype) or not (
        pd.api.types.is_numeric_dtype(s.dtype) or s.dtype == object
    ):
        raise _Delegate
    if s.dtype == object:
        values = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        not_number = nonnull & np.isnan(values)
        detail = f"column {spec.column!r} holds text, not numbers ({int(not_number.sum())} values)"
    else:
        values = s.to_numpy(dtype="float64", na_value=np.nan)
        not_number = np.zeros(len(s), dtype=bool)
    # GX column_values_between._pandas_vectorized: strict_* pick < or <=.
    with np.errstate(invalid="ignore"):
        bad = np.zeros(len(s), dtype=bool)
        if low is not None:
            bad |= values <= low if spec.kwargs.get("strict_min") else values < low
        if high is not None:
            bad |= values >= high if spec.kwargs.get("strict_max") else values > high
    unexpected = nonnull & (bad | not_number)
    return _map_outcome(spec, s, unexpected, int(nonnull.sum()), k, detail=detail)


def _in_set(spec: ExpectationSpec, s: pd.Series[Any], k: int, cache: _Cache) -> Evaluation:
    value_set = _require(spec, "value_set")
    if not isinstance(value_set, list):
        raise SuiteError(f"{spec.label}: value_set is not a list", hint="make it a JSON list")
    codes = _text_codes(s, cache)
    if codes is not None:
        import numpy as np

        try:
            allowed = set(value_set)
        except TypeError:  # an unhashable entry: let pandas compare value by value
            codes = None
    if codes is not None:
        ok = np.array([value in allowed for value in codes.values] + [True], dtype=bool)
        # codes of -1 (null) pick the trailing True: nulls are never unexpected here.
        unexpected = ~ok[codes.codes]
        return _map_outcome(spec, s, unexpected, int(codes.nonnull.sum()), k)
    nonnull = s.notna().to_numpy()
    unexpected = nonnull & ~s.isin(value_set).to_numpy()
    return _map_outcome(spec, s, unexpected, int(nonnull.sum()), k)


def _unique(spec: ExpectationSpec, s: pd.Series[Any], k: int, cache: _Cache) -> Evaluation:
    # GX column_values_unique._pandas: ~column.duplicated(keep=False) over non-null values.
    codes = _text_codes(s, cache)
    if codes is not None:
        import numpy as np

        nonnull = codes.nonnull
        counts = np.bincount(codes.codes[nonnull], minlength=max(1, len(codes.values)))
        unexpected = nonnull & (counts[np.where(nonnull, codes.codes, 0)] > 1)
        return _map_outcome(spec, s, unexpected, int(nonnull.sum()), k)
    nonnull = s.notna().to_numpy()
    unexpected = nonnull & _duplicated(s, nonnull)
    return _map_outcome(spec, s, unexpected, int(nonnull.sum()), k)


def _duplicated(s: pd.Series[Any], nonnull: np.ndarray) -> np.ndarray:
    """``s.duplicated(keep=False)``, exactly, but fast on text: hash, sort, then verify.

    Equal values have equal hashes, so only rows whose hash repeats can be duplicates; those
    few are settled by pandas' exact comparison. On a million distinct ids this is about twice
    as fast as ``duplicated`` on the whole column.
    """
    import numpy as np
    import pandas as pd

    if s.dtype != object:
        return s.duplicated(keep=False).to_numpy()
    positions = np.flatnonzero(nonnull)
    try:
        hashes = pd.util.hash_array(s.to_numpy(dtype=object)[positions], categorize=False)
    except TypeError:
        return s.duplicated(keep=False).to_numpy()
    out = np.zeros(len(s), dtype=bool)
    ordered = np.sort(hashes)
    if not np.any(ordered[1:] == ordered[:-1]):
        return out  # no hash repeats: no duplicates (the common case for ids); no argsort
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    same = ordered[1:] == ordered[:-1]
    repeated = np.zeros(len(ordered), dtype=bool)
    repeated[1:] |= same
    repeated[:-1] |= same
    candidates = positions[order[repeated]]
    if candidates.size:
        exact = s.iloc[candidates].duplicated(keep=False).to_numpy()
        out[candidates[exact]] = True
    return out


def _native_types(name: str) -> tuple[type, ...]:
    # GX type_comparison.native_type_type_map.
    lowered = name.lower()
    table: dict[str, tuple[type, ...]] = {
        "none": (type(None),),
        "bool": (bool,),
        "int": (int,),
        "long": (int,),
        "float": (float,),
        "bytes": (bytes,),
        "complex": (complex,),
        "str": (str,),
        "string_types": (str,),
        "list": (list,),
        "dict": (dict,),
    }
    return table.get(lowered, ())


def _pandas_dtypes_module() -> Any:
    import importlib

    # GX also looks names up in pandas.core.dtypes.dtypes (DatetimeTZDtype, CategoricalDtype...).
    return importlib.import_module("pandas.core.dtypes.dtypes")


def _dtype_candidates(type_list: list[str]) -> list[Any]:
    # GX ExpectColumnValuesToBeInTypeList._validate_pandas (columns of a non-object dtype).
    import numpy as np
    import pandas as pd
    from pandas.api.extensions import ExtensionDtype

    found: list[Any] = []
    for name in type_list:
        try:
            found.append(np.dtype(name).type)
            found.append(np.dtype(name))
        except TypeError:
            pd_type = getattr(pd, name, None)
            if isinstance(pd_type, type):
                found.append(pd_type)
                try:
                    instance = pd_type()
                    if isinstance(instance, ExtensionDtype):
                        found.append(instance)
                except TypeError:
                    pass
            dtypes_type = getattr(_pandas_dtypes_module(), name, None)
            if isinstance(dtypes_type, type):
                found.append(dtypes_type)
        found.extend(_native_types(name))
    return found


def _value_candidates(type_list: list[str]) -> tuple[type, ...]:
    # GX column_values_in_type_list._pandas (object columns: value by value).
    import numpy as np
    import pandas as pd

    found: list[type] = []
    for name in type_list:
        try:
            found.append(np.dtype(name).type)
        except TypeError:
            for holder in (pd, _pandas_dtypes_module()):
                candidate = getattr(holder, name, None)
                if isinstance(candidate, type):
                    found.append(candidate)
        found.extend(_native_types(name))
    return tuple(found)


def _describe(type_list: list[str]) -> str:
    if {"int", "float"} <= set(type_list):
        return "numbers"
    if type_list == ["str"]:
        return "text"
    shown = ", ".join(type_list[:4])
    return f"of type {shown}" + (f" (+{len(type_list) - 4} more)" if len(type_list) > 4 else "")


def _in_type_list(spec: ExpectationSpec, s: pd.Series[Any], k: int, cache: _Cache) -> Evaluation:
    import numpy as np
    import pandas as pd

    type_list = _require(spec, "type_list")
    if type_list is None:
        return _table_outcome(spec, True, 0, None)
    if not isinstance(type_list, list) or not all(isinstance(t, str) for t in type_list):
        raise SuiteError(f"{spec.label}: type_list is not a list of names", hint="fix it")
    if s.dtype != object:
        success = s.dtype in _dtype_candidates(type_list)
        return _table_outcome(
            spec,
            success,
            len(s),
            f"column {spec.column!r} has dtype {s.dtype}, expected {_describe(type_list)}",
            [str(s.dtype)],
        )
    candidates = _value_candidates(type_list)
    if not candidates:
        raise SuiteError(
            f"{spec.label}: no recognised type in {type_list}", hint="use names like 'str', 'int64'"
        )
    codes = _text_codes(s, cache)
    nonnull = codes.nonnull if codes is not None else s.notna().to_numpy()
    # Fast path: an all-text column needs no per-value isinstance when str is allowed.
    if str in candidates and (
        codes is not None or pd.api.types.infer_dtype(s, skipna=True) in ("string", "empty")
    ):
        unexpected = np.zeros(len(s), dtype=bool)
    else:
        is_type = s.map(lambda value: isinstance(value, candidates)).to_numpy(dtype=bool)
        unexpected = nonnull & ~is_type
    detail = f"column {spec.column!r} holds values that are not {_describe(type_list)}"
    return _map_outcome(spec, s, unexpected, int(nonnull.sum()), k, detail=detail)


# --- table expectations --------------------------------------------------------------------


def _column_to_exist(spec: ExpectationSpec, df: pd.DataFrame, k: int) -> Evaluation:
    column = _require(spec, "column")
    columns = list(df.columns)
    index = spec.kwargs.get("column_index")
    if column not in columns:
        return _table_outcome(spec, False, len(df), f"column {column!r} is missing", [column])
    if index is not None and columns.index(column) != index:
        detail = f"column {column!r} is at position {columns.index(column)}, not {index}"
        return _table_outcome(spec, False, len(df), detail, [column])
    return _table_outcome(spec, True, 0, None)


def _columns_match_set(spec: ExpectationSpec, df: pd.DataFrame, k: int) -> Evaluation:
    expected = _require(spec, "column_set")
    exact = spec.kwargs.get("exact_match", True)
    exact = True if exact is None else bool(exact)
    actual = {str(c) for c in df.columns}
    missing = sorted(set(expected or []) - actual)
    extra = sorted(actual - set(expected or [])) if expected is not None else []
    success = not exact if expected is None else not missing and (not extra or not exact)
    parts = []
    if missing:
        parts.append(f"missing column(s) {missing}")
    if extra and exact:
        parts.append(f"unexpected column(s) {extra}")
    examples: list[Any] = [*missing, *(extra if exact else [])]
    return _table_outcome(spec, success, len(examples), "; ".join(parts), examples[:k])


def _columns_match_list(spec: ExpectationSpec, df: pd.DataFrame, k: int) -> Evaluation:
    expected = list(_require(spec, "column_list") or [])
    actual = [str(c) for c in df.columns]
    mismatched = [
        f"{i}: {a!r} != {b!r}"
        for i, (a, b) in enumerate(zip(actual, expected, strict=False))
        if a != b
    ]
    success = actual == expected
    detail = f"columns {actual} are not in the order {expected}"
    count = len(mismatched) + abs(len(actual) - len(expected))
    return _table_outcome(spec, success, count, detail, mismatched[:k])


def _row_count_between(spec: ExpectationSpec, df: pd.DataFrame, k: int) -> Evaluation:
    low = spec.kwargs.get("min_value")
    high = spec.kwargs.get("max_value")
    rows = len(df)
    success = (low is None or rows >= low) and (high is None or rows <= high)
    detail = f"{rows} rows, expected between {low} and {high}"
    return _table_outcome(spec, success, 1, detail, [rows])


class _Delegate(Exception):  # a control-flow signal, not an error
    """This batch needs GX's own code path for the expectation (e.g. datetime bounds)."""


ColumnCheck = Callable[[ExpectationSpec, "pd.Series[Any]", int, _Cache], Evaluation]
TableCheck = Callable[[ExpectationSpec, "pd.DataFrame", int], Evaluation]

_COLUMN_CHECKS: dict[str, ColumnCheck] = {
    "expect_column_values_to_not_be_null": _not_null,
    "expect_column_values_to_be_null": _null,
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_unique": _unique,
    "expect_column_values_to_be_in_type_list": _in_type_list,
}
_TABLE_CHECKS: dict[str, TableCheck] = {
    "expect_column_to_exist": _column_to_exist,
    "expect_table_columns_to_match_set": _columns_match_set,
    "expect_table_columns_to_match_ordered_list": _columns_match_list,
    "expect_table_row_count_to_be_between": _row_count_between,
}
NATIVE_TYPES: frozenset[str] = frozenset(_COLUMN_CHECKS) | frozenset(_TABLE_CHECKS)


def evaluate_native(
    spec: ExpectationSpec, df: pd.DataFrame, max_examples: int, cache: _Cache | None = None
) -> Evaluation | None:
    """Evaluate one expectation here; None when it must go to GX instead.

    ``cache`` is shared by the expectations of one run on one batch (text columns are encoded
    once, however many expectations look at them).
    """
    cache = RunCache() if cache is None else cache
    if spec.type in _TABLE_CHECKS:
        return _TABLE_CHECKS[spec.type](spec, df, max_examples)
    check = _COLUMN_CHECKS.get(spec.type)
    if check is None:
        return None
    column = _require(spec, "column")
    if column not in df.columns:
        return _table_outcome(spec, False, len(df), f"column {column!r} is missing", [column])
    try:
        return check(spec, df[column], max_examples, cache)
    except _Delegate:
        return None
