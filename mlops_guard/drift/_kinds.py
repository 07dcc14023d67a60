"""Column kinds, decided the way Evidently 0.7's ``infer_column_type`` decides them.

A column's *family* is its storage type (float, int, bool, string, ...); its *kind* is what the
drift engine does with it: ``numerical``, ``categorical`` and ``text`` are tested (text with
Evidently's domain classifier), ``datetime`` and ``unknown`` are reported as skipped.

Evidently (``evidently/core/datasets.py``) infers the kinds on the **current** data only (the
report's data definition is the current data set's), from the pandas dtype name:

* ``float*``: numerical; ``int*``: categorical with at most 10 distinct values, else numerical;
* ``string``/``str``, and ``object`` columns whose first and last non-null values are strings:
  text when more than half the non-null values are distinct, else categorical;
* ``bool`` and ``category`` (whatever its number of levels): categorical;
* ``datetime*``: datetime (never drift-tested); anything else: unknown (skipped).

:func:`column_view` gives the dtype a column has as pandas holds it (an Arrow table as
``to_pandas`` would turn it: an int column with nulls becomes float64, a dictionary column a
``category`` unless its field is marked as plain text in the file, a bool column with nulls
``object``), so a Parquet or CSV file read through Arrow gets the kinds Evidently gives the file
read with pandas.

One deliberate difference: Evidently calls ``uint*``, the nullable ``Int*``/``UInt*``,
``Float*`` and ``boolean`` dtypes, and ``object`` columns of booleans, unknown, so it never
checks them. Here they get the kind of their plain counterpart (an integer with nulls is
numerical, as a numpy integer column with nulls would be) and the result says so in its note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mlops_guard.drift._settings import DriftSettings

__all__ = [
    "ColumnKind",
    "ColumnView",
    "Family",
    "KindDecision",
    "arrow_family",
    "arrow_view",
    "conflicting_families",
    "decide_kind",
    "infer_kind",
    "pandas_family",
    "pandas_view",
]

Family = Literal["float", "int", "bool", "string", "datetime", "other"]
ColumnKind = Literal["numerical", "categorical", "text", "datetime", "unknown"]
NUMERIC_FAMILIES: frozenset[str] = frozenset({"float", "int"})
#: Families a profile may record (anything else in a profile file is damage).
FAMILIES: frozenset[str] = frozenset({"float", "int", "bool", "string", "datetime", "other"})


@dataclass(frozen=True)
class ColumnView:
    """How a column looks to Evidently: the pandas dtype name, its family, whether it holds
    nulls, and (``object`` columns) whether its first and last non-null values are strings."""

    dtype: str
    family: Family
    has_nulls: bool
    strings: bool = False
    all_null: bool = False


@dataclass(frozen=True)
class KindDecision:
    """A kind, and why it differs from Evidently's when it does (else ``note`` is None)."""

    kind: ColumnKind
    note: str | None = None


def pandas_family(series: pd.Series) -> Family:
    """The family of a pandas column."""
    return pandas_view(series).family


def pandas_view(series: pd.Series) -> ColumnView:  # noqa: PLR0911 - one return per dtype
    """The :class:`ColumnView` of a pandas column."""
    name = series.dtype.name
    has_nulls = bool(series.hasnans) if name != "object" else bool(series.isna().any())
    all_null = len(series) == 0 or bool(series.isna().all()) if has_nulls else len(series) == 0
    if name.startswith(("float", "Float")):
        return ColumnView(name, "float", has_nulls, all_null=all_null)
    if name.startswith(("int", "Int", "uint", "UInt")):
        return ColumnView(name, "int", has_nulls, all_null=all_null)
    if name in ("bool", "boolean"):
        return ColumnView(name, "bool", has_nulls, all_null=all_null)
    if name.startswith("datetime"):
        return ColumnView(name, "datetime", has_nulls, all_null=all_null)
    if name in ("string", "str", "category"):
        return ColumnView(name, "string", has_nulls, strings=True, all_null=all_null)
    if name == "object":
        if all_null:
            return ColumnView(name, "other", has_nulls, all_null=True)
        first, last = series.iloc[0], series.iloc[-1]
        if has_nulls:
            present = series.dropna()
            first, last = present.iloc[0], present.iloc[-1]
        if isinstance(first, str) and isinstance(last, str):
            return ColumnView(name, "string", has_nulls, strings=True)
        if isinstance(first, bool) and isinstance(last, bool):
            return ColumnView(name, "bool", has_nulls)
        import datetime as dt

        if isinstance(first, dt.date) and isinstance(last, dt.date):
            return ColumnView(name, "datetime", has_nulls)
        return ColumnView(name, "other", has_nulls)
    return ColumnView(name, "other", has_nulls, all_null=all_null)


def arrow_family(data_type: pa.DataType) -> Family:  # noqa: PLR0911 - one return per type
    """The family of an Arrow column type (the profile reads files through Arrow)."""
    import pyarrow as pa

    if pa.types.is_floating(data_type) or pa.types.is_decimal(data_type):
        return "float"
    if pa.types.is_integer(data_type):
        return "int"
    if pa.types.is_boolean(data_type):
        return "bool"
    if pa.types.is_timestamp(data_type) or pa.types.is_date(data_type):
        return "datetime"
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_dictionary(data_type):
        return "string"
    return "other"


def arrow_view(  # noqa: PLR0911
    array: pa.ChunkedArray | pa.Array, *, plain_string: bool = False
) -> ColumnView:
    """The :class:`ColumnView` of an Arrow column, as ``to_pandas`` would hand it to pandas
    (``plain_string``: a dictionary column that is plain text in its file)."""
    import pyarrow as pa

    data_type = array.type
    nulls = array.null_count
    if pa.types.is_floating(data_type):
        nan = _has_nan(array)
        return ColumnView(
            f"float{data_type.bit_width}",
            "float",
            nulls > 0 or nan,
            all_null=len(array) == 0 or (nulls == len(array)) or (nan and _all_nan(array)),
        )
    all_null = len(array) == 0 or nulls == len(array)
    if pa.types.is_integer(data_type):
        if nulls:
            return ColumnView("float64", "int", True, all_null=all_null)
        sign = "int" if pa.types.is_signed_integer(data_type) else "uint"
        return ColumnView(f"{sign}{data_type.bit_width}", "int", False, all_null=all_null)
    if pa.types.is_decimal(data_type):
        return ColumnView("object", "float", nulls > 0, all_null=all_null)
    if pa.types.is_boolean(data_type):
        return ColumnView("object" if nulls else "bool", "bool", nulls > 0, all_null=all_null)
    if pa.types.is_timestamp(data_type):
        return ColumnView("datetime64[ns]", "datetime", nulls > 0, all_null=all_null)
    if pa.types.is_date(data_type):
        return ColumnView("object", "datetime", nulls > 0, all_null=all_null)
    if pa.types.is_dictionary(data_type) and not plain_string:
        return ColumnView("category", "string", nulls > 0, strings=True, all_null=all_null)
    if plain_string or pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        if all_null:
            return ColumnView("object", "other", True, all_null=True)
        return ColumnView("object", "string", nulls > 0, strings=True)
    return ColumnView("object", "other", nulls > 0, all_null=all_null)


def _has_nan(array: pa.ChunkedArray | pa.Array) -> bool:
    import pyarrow.compute as pc

    return bool(pc.any(pc.is_nan(array)).as_py() or False)


def _all_nan(array: pa.ChunkedArray | pa.Array) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(pc.or_kleene(pc.is_nan(array), pc.is_null(array))).as_py())


_SKIPPED_BY_EVIDENTLY = (
    "Evidently 0.7.23 skips {dtype} columns (unknown type); tested here as {kind}"
)


def decide_kind(  # noqa: PLR0911 - mirrors Evidently's infer_column_type ladder
    view: ColumnView, *, nunique: int | None, count: int, settings: DriftSettings
) -> KindDecision:
    """Evidently's ``infer_column_type`` on a column's view, ``nunique`` distinct and ``count``
    non-null values (``nunique`` None: more than were counted)."""
    dtype = view.dtype
    if dtype.startswith("float"):
        return KindDecision("numerical")
    if dtype.startswith("int"):
        if nunique is not None and nunique <= settings.integer_categorical_limit:
            return KindDecision("categorical")
        return KindDecision("numerical")
    if dtype in ("bool", "category"):
        return KindDecision("categorical")
    if dtype.startswith("datetime"):
        return KindDecision("datetime")
    if dtype in ("string", "str") or (dtype == "object" and view.strings):
        if nunique is None or nunique > count * settings.text_unique_share:
            return KindDecision("text")
        return KindDecision("categorical")
    # What Evidently leaves unknown but is plainly numbers or booleans.
    if view.family in ("float", "int", "bool") and not view.all_null:
        if view.family == "float" or (view.family == "int" and view.has_nulls):
            kind: ColumnKind = "numerical"
        elif view.family == "int":
            small = nunique is not None and nunique <= settings.integer_categorical_limit
            kind = "categorical" if small else "numerical"
        else:
            kind = "categorical"
        return KindDecision(kind, _SKIPPED_BY_EVIDENTLY.format(dtype=dtype, kind=kind))
    if view.family == "datetime":
        return KindDecision("datetime")
    return KindDecision("unknown")


def infer_kind(  # noqa: PLR0911 - mirrors Evidently's infer_column_type ladder
    family: Family, *, nunique: int | None, count: int, nulls: int, settings: DriftSettings
) -> ColumnKind:
    """Evidently's rule on a family alone (profiles): floats numerical; integers categorical
    up to 10 distinct values; strings text when more than half the values are distinct."""
    if family == "int" and nulls > 0:
        family = "float"
    if family == "float":
        return "numerical"
    if family == "int":
        if nunique is not None and nunique <= settings.integer_categorical_limit:
            return "categorical"
        return "numerical"
    if family == "string":
        if nunique is None or nunique > (count * settings.text_unique_share):
            return "text"
        return "categorical"
    if family == "bool":
        return "categorical"
    if family == "datetime":
        return "datetime"
    return "unknown"


def conflicting_families(reference: Family, current: Family) -> bool:
    """True when one side stores numbers and the other strings (or unparseable values)."""
    numeric = NUMERIC_FAMILIES | {"bool"}
    textual = {"string", "other"}
    return (reference in numeric and current in textual) or (
        reference in textual and current in NUMERIC_FAMILIES
    )
