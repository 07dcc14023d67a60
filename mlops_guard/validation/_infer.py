"""Inferring a suite from reference data, the way a careful engineer would write one by hand."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import EmptyData, UsageError
from mlops_guard.validation._settings import ValidationSettings
from mlops_guard.validation._suite import _NAME, ExpectationSpec, Suite

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BOOL_TYPES", "NUMERIC_TYPES", "TEXT_TYPES", "infer_suite"]

# Type lists for expect_column_values_to_be_in_type_list. Numeric columns accept any integer or
# float dtype: an integer column that gains a null is read back as float64 from CSV, and that is
# not a schema change. 'int' and 'float' also accept Python numbers in an object column.
NUMERIC_TYPES: tuple[str, ...] = (
    "int",
    "float",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Float32",
    "Float64",
)
BOOL_TYPES: tuple[str, ...] = ("bool", "boolean")
TEXT_TYPES: tuple[str, ...] = ("str",)
_SIGNIFICANT = 6  # digits kept in inferred bounds: readable, and always rounded outward
_MOSTLY_SCALE = 10_000  # 'mostly' is rounded down to 4 decimals, i.e. toward more tolerance


def _round_out(value: float, *, up: bool) -> float:
    if value == 0 or not math.isfinite(value):
        return value
    scale = 10 ** (_SIGNIFICANT - 1 - math.floor(math.log10(abs(value))))
    rounded = (math.ceil if up else math.floor)(value * scale) / scale
    return float(rounded)


def _meta(reason: str) -> dict[str, Any]:
    return {"mlops_guard": {"inferred": reason}}


def _spec(kind: str, column: str, reason: str, **kwargs: Any) -> ExpectationSpec:
    return ExpectationSpec(kind, {"column": column, **kwargs}, _meta(reason))


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _numeric(column: str, s: pd.Series[Any], cfg: ValidationSettings) -> list[ExpectationSpec]:
    import numpy as np

    values = s.dropna().to_numpy(dtype="float64")
    values = values[np.isfinite(values)]
    if values.size == 0:
        return []
    distinct = np.unique(values)
    integral = bool(np.all(np.floor(values) == values))
    if distinct.size <= 2:
        # A flag or a binary label: any third value is a defect, however close.
        value_set = [int(v) if integral else float(v) for v in distinct]
        return [
            _spec(
                "expect_column_values_to_be_in_set",
                column,
                f"{distinct.size} distinct value(s) in the reference",
                value_set=value_set,
            )
        ]
    if (
        integral
        and distinct.size >= cfg.id_unique_share * values.size
        and (distinct.size > cfg.max_categories)
    ):
        return _id_like(column, s, "integer id: values nearly all distinct")
    low, high = float(values.min()), float(values.max())
    margin = cfg.range_margin * (high - low)
    lower = low - margin
    if low >= 0:
        lower = max(lower, 0.0)
    upper = high + margin
    bounds: dict[str, Any]
    if integral:
        bounds = {"min_value": math.floor(lower), "max_value": math.ceil(upper)}
    else:
        bounds = {
            "min_value": _round_out(lower, up=False),
            "max_value": _round_out(upper, up=True),
        }
    reason = (
        f"reference range [{_plain(low)}, {_plain(high)}] widened by {cfg.range_margin:g} x range"
        + (" (floored at 0: no negatives in the reference)" if low >= 0 else "")
    )
    return [_spec("expect_column_values_to_be_between", column, reason, **bounds)]


def _id_like(column: str, s: pd.Series[Any], reason: str) -> list[ExpectationSpec]:
    nonnull = s.dropna()
    if nonnull.is_unique:
        return [_spec("expect_column_values_to_be_unique", column, f"{reason}; unique")]
    return []


def _text(column: str, s: pd.Series[Any], cfg: ValidationSettings) -> list[ExpectationSpec]:
    nonnull = s.dropna()
    if nonnull.empty:
        return []
    distinct = nonnull.unique()
    n = len(distinct)
    if n >= cfg.id_unique_share * len(nonnull) and n > cfg.max_categories:
        return _id_like(column, s, "id-like: values nearly all distinct")
    if n <= cfg.max_categories and n <= cfg.max_category_share * len(nonnull):
        return [
            _spec(
                "expect_column_values_to_be_in_set",
                column,
                f"categorical: {n} categories in the reference",
                value_set=sorted(str(v) for v in distinct),
            )
        ]
    return []  # free text or high cardinality: no value set


def _kind(s: pd.Series[Any]) -> str:
    import pandas as pd

    dtype = s.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_numeric_dtype(dtype):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_object_dtype(dtype) or isinstance(
        dtype, (pd.StringDtype, pd.CategoricalDtype)
    ):
        inferred = pd.api.types.infer_dtype(s, skipna=True)
        if inferred in ("string", "categorical"):
            return "text"
        if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
            return "numeric-object"
    return "other"


def infer_suite(
    df: pd.DataFrame, name: str, *, settings: ValidationSettings | None = None
) -> Suite:
    """Infer a suite from reference data.

    Per column: its type; not-null where the reference has no nulls, else a null-rate bound
    (``mostly``) at ``null_rate_factor`` times the reference rate; for numbers, a range widened
    by ``range_margin`` (flags and binary labels get a value set instead); for low-cardinality
    text, the set of categories (an unseen category fails); nothing value-based for id-like or
    high-cardinality columns (uniqueness instead, when the reference ids are unique);
    datetimes get not-null only (GX 1.24's type list cannot name a time-zone-aware dtype of any
    unit, and a range would reject every later batch). Plus the exact column set.

    >>> from mlops_guard.demo import make_dataset
    >>> suite = infer_suite(make_dataset(rows=2000, seed=1), "churn")
    >>> suite.expectations[0].type
    'expect_table_columns_to_match_set'
    """
    import pandas as pd

    cfg = settings or ValidationSettings()
    if not _NAME.match(name):
        raise UsageError(
            f"suite name {name!r} cannot be a file name", hint="use letters, digits, '.', '_', '-'"
        )
    if not isinstance(df, pd.DataFrame):
        raise UsageError(f"infer_suite() needs a DataFrame, got {type(df).__name__}")
    if df.empty or len(df.columns) == 0:
        raise EmptyData(
            "the reference data has no rows", hint="infer a suite from a representative batch"
        )
    columns = [str(c) for c in df.columns]
    specs: list[ExpectationSpec] = [
        ExpectationSpec(
            "expect_table_columns_to_match_set",
            {"column_set": columns, "exact_match": True},
            _meta("the reference columns; a missing or extra column fails"),
        )
    ]
    rows = len(df)
    for column in columns:
        s = df[column]
        kind = _kind(s)
        type_list = {"numeric": NUMERIC_TYPES, "bool": BOOL_TYPES, "text": TEXT_TYPES}.get(kind)
        if type_list:
            specs.append(
                _spec(
                    "expect_column_values_to_be_in_type_list",
                    column,
                    f"{kind} column (dtype {s.dtype} in the reference)",
                    type_list=list(type_list),
                )
            )
        nulls = int(s.isna().sum())
        if nulls == 0:
            specs.append(
                _spec("expect_column_values_to_not_be_null", column, "no nulls in the reference")
            )
        elif nulls < rows:
            rate = nulls / rows
            allowed = rate * cfg.null_rate_factor
            if allowed < 1:
                mostly = math.floor((1 - allowed) * _MOSTLY_SCALE) / _MOSTLY_SCALE
                specs.append(
                    _spec(
                        "expect_column_values_to_not_be_null",
                        column,
                        f"null rate {rate:.4f} in the reference; up to "
                        f"{cfg.null_rate_factor:g}x allowed",
                        mostly=mostly,
                    )
                )
        if kind == "numeric":
            specs.extend(_numeric(column, s, cfg))
        elif kind == "text":
            specs.extend(_text(column, s, cfg))
    meta = {
        "mlops_guard": {
            "inferred_from_rows": rows,
            "settings": {
                "range_margin": cfg.range_margin,
                "null_rate_factor": cfg.null_rate_factor,
                "max_categories": cfg.max_categories,
                "max_category_share": cfg.max_category_share,
                "id_unique_share": cfg.id_unique_share,
            },
        }
    }
    return Suite(name=name, expectations=tuple(specs), meta=meta)
