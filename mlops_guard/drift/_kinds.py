"""Column kinds, decided the way Evidently 0.7's ``infer_column_type`` decides them.

A column's *family* is its storage type (float, int, bool, string, ...); its *kind* is what the
drift engine does with it: ``numerical`` and ``categorical`` are tested, ``text``, ``datetime``
and ``unknown`` are skipped (Evidently tests text with a domain classifier, which is out of scope
here; ids and free text are its usual cause).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from mlops_guard.drift._settings import DriftSettings

__all__ = [
    "ColumnKind",
    "Family",
    "arrow_family",
    "conflicting_families",
    "infer_kind",
    "pandas_family",
]

Family = Literal["float", "int", "bool", "string", "datetime", "other"]
ColumnKind = Literal["numerical", "categorical", "text", "datetime", "unknown"]
NUMERIC_FAMILIES: frozenset[str] = frozenset({"float", "int"})


def pandas_family(series: pd.Series) -> Family:  # noqa: PLR0911 - one return per dtype
    """The family of a pandas column (object columns: strings only when the first and last
    non-null values are strings, as Evidently checks)."""
    name = series.dtype.name
    if name.startswith(("float", "Float")):
        return "float"
    if name.startswith(("int", "Int", "uint", "UInt")):
        return "int"
    if name in ("bool", "boolean"):
        return "bool"
    if name.startswith("datetime"):
        return "datetime"
    if name in ("string", "str", "category"):
        return "string"
    if name == "object":
        if len(series) == 0:
            return "other"
        first, last = series.iloc[0], series.iloc[-1]
        if not (isinstance(first, str) and isinstance(last, str)):
            # Only when an end is missing do we pay for a scan: Evidently looks at the first
            # and last non-null values.
            present = series.dropna()
            if present.empty:
                return "other"
            first, last = present.iloc[0], present.iloc[-1]
        return "string" if isinstance(first, str) and isinstance(last, str) else "other"
    return "other"


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


def infer_kind(  # noqa: PLR0911 - mirrors Evidently's infer_column_type ladder
    family: Family, *, nunique: int | None, count: int, nulls: int, settings: DriftSettings
) -> ColumnKind:
    """Evidently's rule: floats numerical; integers categorical up to 10 distinct values;
    strings text when more than half the values are distinct, else categorical.

    An integer column with nulls is read as float (pandas has no null for int64), hence
    numerical, as Evidently would see it. ``nunique`` None means "more than we counted".
    """
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
