"""Reference profiles: what a drift check needs to know about the reference, without its rows.

A profile is built in chunks (bounded memory, files larger than memory), merged across chunks
and partitions with :func:`merge`, and saved as versioned JSON.

What is exact and what is approximate
-------------------------------------
Per column a profile keeps the row and null counts, the minimum and maximum, the mean and the
sum of squared deviations (merged with Chan's parallel formula: exact up to float rounding,
relative error about 1e-15), and:

* string and boolean columns: the count of every value, **exact** (up to
  ``profile_max_categories`` values; a text column with more cannot be tested from a profile
  and is reported as skipped). A text column is tested on its values rebuilt from the counts:
  the domain classifier then sees the values in another order than the rows, so its ROC AUC is
  close to, not equal to, the one on the rows (``exact: false``);
* numerical columns with at most ``profile_exact_values`` (20,000) distinct values: the count of
  every distinct value, **exact**; every test then gives the same statistic as on the rows;
* numerical columns with more distinct values: each value rounded to ``profile_mantissa_bits``
  (12) mantissa bits, so by at most ``2**-13`` (1.2e-4) of its magnitude (integers below 8,192
  stay exact), with counts of the rounded values. The profile also stores the exact sum
  ``E = sum |x - rounded(x)|`` over all rows. The normed Wasserstein distance computed from such
  a profile differs from the one on the rows by at most ``E / n / std`` (the triangle
  inequality: W1 between the rows and their rounded values is at most the mean rounding error);
  every column result carries this ``error_bound``. KS, PSI and Hellinger on rounded values are
  approximate without a bound (``exact: false``, ``error_bound: null``); Jensen-Shannon and
  chi-square are only chosen by default for columns with few values, which are exact.

The file records its format and version; :func:`load_profile` refuses another format or version
with :class:`~mlops_guard.errors.ProfileError`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.drift._kinds import FAMILIES, Family
from mlops_guard.drift._settings import DriftSettings
from mlops_guard.errors import DataError, ProfileError, SchemaError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pandas as pd
    import pyarrow as pa

    from mlops_guard.data._io import Dates
    from mlops_guard.drift._kinds import ColumnView
    from mlops_guard.drift._stats import CategoricalSummary, NumericSummary

__all__ = [
    "PROFILE_ARTIFACT_PATH",
    "PROFILE_FORMAT",
    "PROFILE_VERSION",
    "ColumnProfile",
    "NumericState",
    "ReferenceProfile",
    "build_profile",
    "load_profile",
    "merge",
]

PROFILE_FORMAT = "mlops-guard/drift-reference-profile"
PROFILE_VERSION = 1
#: Where a training run stores the profile among its MLflow artifacts.
PROFILE_ARTIFACT_PATH = "reference/profile.json"


def round_mantissa(values: npt.NDArray[np.float64], bits: int) -> npt.NDArray[np.float64]:
    """Round finite floats to ``bits`` mantissa bits (to nearest, ties away from zero)."""
    import numpy as np

    drop = 52 - bits
    if drop <= 0:
        return values.copy()
    as_int = np.ascontiguousarray(values, dtype=np.float64).view(np.int64)
    half = np.int64(1) << np.int64(drop - 1)
    mask = ~((np.int64(1) << np.int64(drop)) - np.int64(1))
    # Adding half an ulp of the kept precision to the magnitude bits rounds the magnitude; a
    # carry into the exponent is the right answer (e.g. 1.9999 -> 2.0).
    rounded: npt.NDArray[np.float64] = ((as_int + half) & mask).view(np.float64)
    return rounded


def _unique_counts(
    ordered: npt.NDArray[np.float64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    import numpy as np

    if ordered.size == 0:
        return ordered, np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.diff(np.append(starts, ordered.size)).astype(np.int64)


def _combine(
    values: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    more_values: npt.NDArray[np.float64],
    more_counts: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    import numpy as np

    if values.size == 0:
        return more_values, more_counts
    joined = np.concatenate((values, more_values))
    unique, inverse = np.unique(joined, return_inverse=True)
    summed = np.bincount(inverse, weights=np.concatenate((counts, more_counts)).astype(np.float64))
    return unique, np.rint(summed).astype(np.int64)


@dataclass
class NumericState:
    """Mergeable state of a numerical column (see the module docs for what is exact)."""

    values: npt.NDArray[np.float64]
    counts: npt.NDArray[np.int64]
    count: int = 0
    mean: float = 0.0
    m2: float = 0.0
    minimum: float = math.inf
    maximum: float = -math.inf
    exact: bool = True
    abs_error: float = 0.0

    @classmethod
    def empty(cls) -> NumericState:
        import numpy as np

        return cls(np.empty(0, dtype=np.float64), np.empty(0, dtype=np.int64))

    def _add_moments(self, count: int, mean: float, m2: float) -> None:
        if count == 0:
            return
        total = self.count + count
        delta = mean - self.mean
        self.mean += delta * count / total
        self.m2 += m2 + delta * delta * self.count * count / total
        self.count = total

    def _to_rounded(self, bits: int) -> None:
        import numpy as np

        rounded = round_mantissa(self.values, bits)
        self.abs_error += float(np.sum(np.abs(self.values - rounded) * self.counts))
        order = np.argsort(rounded, kind="stable")
        self.values, self.counts = _reduce_sorted(rounded[order], self.counts[order])
        self.exact = False

    def update(self, finite: npt.NDArray[np.float64], *, exact_limit: int, bits: int) -> None:
        """Add finite values (the caller drops NaN and +-inf and counts them as nulls)."""
        import numpy as np

        if finite.size == 0:
            return
        chunk_mean = float(np.mean(finite))
        self._add_moments(finite.size, chunk_mean, float(np.sum((finite - chunk_mean) ** 2)))
        self.minimum = min(self.minimum, float(finite.min()))
        self.maximum = max(self.maximum, float(finite.max()))
        if not self.exact:
            rounded = round_mantissa(finite, bits)
            self.abs_error += float(np.sum(np.abs(finite - rounded)))
            finite = rounded
        values, counts = _unique_counts(np.sort(finite))
        self.values, self.counts = _combine(self.values, self.counts, values, counts)
        if self.exact and self.values.size > exact_limit:
            self._to_rounded(bits)

    def merge(self, other: NumericState, *, exact_limit: int, bits: int) -> NumericState:
        import numpy as np

        out = NumericState(self.values.copy(), self.counts.copy(), self.count, self.mean, self.m2)
        out.minimum, out.maximum = self.minimum, self.maximum
        out.exact, out.abs_error = self.exact, self.abs_error
        out._add_moments(other.count, other.mean, other.m2)
        out.minimum = min(out.minimum, other.minimum)
        out.maximum = max(out.maximum, other.maximum)
        theirs = NumericState(other.values, other.counts, exact=other.exact)
        theirs.abs_error = other.abs_error
        if out.exact != theirs.exact:
            (theirs if theirs.exact else out)._to_rounded(bits)
        out.values, out.counts = _combine(out.values, out.counts, theirs.values, theirs.counts)
        out.abs_error += theirs.abs_error
        if out.exact and out.values.size > exact_limit:
            out._to_rounded(bits)
        assert int(np.sum(out.counts)) == out.count
        return out


def _reduce_sorted(
    values: npt.NDArray[np.float64], counts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    import numpy as np

    if values.size == 0:
        return values, counts
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    return values[starts], np.add.reduceat(counts, starts).astype(np.int64)


@dataclass
class ColumnProfile:
    """One column of a profile: its family, null count, and numeric state or value counts."""

    name: str
    family: Family
    rows: int = 0
    nulls: int = 0
    numeric: NumericState | None = None
    categories: dict[Any, int] | None = None
    overflow: bool = False

    @property
    def nunique(self) -> int | None:
        if self.numeric is not None:
            return int(self.numeric.values.size) if self.numeric.exact else None
        if self.categories is not None and not self.overflow:
            return len(self.categories)
        return None


@dataclass
class ReferenceProfile:
    """A compact, versioned, mergeable summary of reference data for drift checks.

    >>> from mlops_guard.demo import make_dataset
    >>> profile = build_profile(make_dataset(rows=3000, seed=1), chunk_rows=1000)
    >>> profile.rows, "age" in profile.columns
    (3000, True)
    """

    rows: int
    columns: dict[str, ColumnProfile]
    mantissa_bits: int
    exact_values: int
    max_categories: int
    metadata: dict[str, Any] = field(default_factory=dict)
    version: int = PROFILE_VERSION

    @property
    def schema(self) -> dict[str, str]:
        """Column name to family, in order."""
        return {name: column.family for name, column in self.columns.items()}

    @property
    def exact(self) -> bool:
        """True when no column was rounded: every statistic equals the one on the rows."""
        return all(c.numeric is None or c.numeric.exact for c in self.columns.values())

    def view(self, name: str) -> ColumnView:
        """The column as pandas would hold the reference rows (for families and nulls)."""
        from mlops_guard.drift._kinds import ColumnView

        column = self.columns[name]
        has_nulls = column.nulls > 0
        all_null = column.rows == column.nulls
        dtype = {
            "float": "float64",
            "int": "float64" if has_nulls else "int64",
            "bool": "object" if has_nulls else "bool",
            "string": "object",
            "datetime": "datetime64[ns]",
        }.get(column.family, "object")
        return ColumnView(
            dtype,
            column.family,
            has_nulls,
            strings=column.family == "string",
            all_null=all_null,
        )

    def numeric_summary(self, name: str) -> NumericSummary:
        from mlops_guard.drift._stats import NumericSummary

        state = self.columns[name].numeric
        if state is None:
            raise ProfileError(
                f"the profile holds no numbers for column {name!r}",
                hint="rebuild the profile from the reference data",
            )
        return NumericSummary(
            values=state.values,
            counts=state.counts,
            count=state.count,
            mean=state.mean if state.count else math.nan,
            std=math.sqrt(state.m2 / state.count) if state.count else math.nan,
            exact=state.exact,
            abs_error=state.abs_error,
        )

    def categorical_summary(self, name: str, *, integer: bool) -> CategoricalSummary:
        import numpy as np

        from mlops_guard.drift._stats import CategoricalSummary, categorical_from_numeric

        column = self.columns[name]
        if column.numeric is not None:
            return categorical_from_numeric(self.numeric_summary(name), integer=integer)
        if column.categories is None:
            raise ProfileError(
                f"the profile keeps no value counts for column {name!r} (more than "
                f"{self.max_categories:,} distinct values)",
                hint="exclude the column, or rebuild the profile with a higher "
                "MLOPS_GUARD_DRIFT_PROFILE_MAX_CATEGORIES",
            )
        keys = list(column.categories)
        counts = np.fromiter(column.categories.values(), dtype=np.int64, count=len(keys))
        return CategoricalSummary(keys=keys, counts=counts, count=int(counts.sum()))

    def texts(self, name: str) -> list[Any]:
        """The column's values rebuilt from its counts (their row order is not kept); empty
        when the profile kept no counts."""
        column = self.columns[name]
        if column.categories is None:
            return []
        out: list[Any] = []
        for key, count in column.categories.items():
            out.extend([key] * count)
        return out

    # --- persistence ---------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        for name, column in self.columns.items():
            entry: dict[str, Any] = {
                "family": column.family,
                "rows": column.rows,
                "nulls": column.nulls,
            }
            if column.numeric is not None:
                state = column.numeric
                entry["numeric"] = {
                    "count": state.count,
                    "mean": state.mean,
                    "m2": state.m2,
                    "min": state.minimum if state.count else None,
                    "max": state.maximum if state.count else None,
                    "exact": state.exact,
                    "abs_error": state.abs_error,
                    "values": state.values.tolist(),
                    "counts": state.counts.tolist(),
                }
            if column.categories is not None:
                entry["categories"] = [[key, count] for key, count in column.categories.items()]
            entry["overflow"] = column.overflow
            columns[name] = entry
        return {
            "format": PROFILE_FORMAT,
            "version": self.version,
            "rows": self.rows,
            "mantissa_bits": self.mantissa_bits,
            "exact_values": self.exact_values,
            "max_categories": self.max_categories,
            "metadata": self.metadata,
            "columns": columns,
        }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "profile") -> ReferenceProfile:
        import numpy as np

        if not isinstance(data, dict) or data.get("format") != PROFILE_FORMAT:
            raise ProfileError(
                f"{source} is not an mlops-guard drift profile",
                hint="build one with 'mlops-guard profile DATA --out PROFILE'",
            )
        if data.get("version") != PROFILE_VERSION:
            raise ProfileError(
                f"{source} is a version {data.get('version')!r} profile; this mlops-guard "
                f"reads version {PROFILE_VERSION}",
                hint="rebuild the profile with 'mlops-guard profile' from the reference data",
            )
        try:
            columns: dict[str, ColumnProfile] = {}
            for name, entry in data["columns"].items():
                if entry["family"] not in FAMILIES:
                    raise ProfileError(
                        f"{source}: column {name!r} has the unknown family {entry['family']!r}",
                        hint="rebuild the profile with 'mlops-guard profile' from the "
                        "reference data",
                    )
                column = ColumnProfile(
                    name=name,
                    family=entry["family"],
                    rows=int(entry["rows"]),
                    nulls=int(entry["nulls"]),
                    overflow=bool(entry.get("overflow", False)),
                )
                if "numeric" in entry:
                    n = entry["numeric"]
                    column.numeric = NumericState(
                        values=np.asarray(n["values"], dtype=np.float64),
                        counts=np.asarray(n["counts"], dtype=np.int64),
                        count=int(n["count"]),
                        mean=float(n["mean"]),
                        m2=float(n["m2"]),
                        minimum=math.inf if n["min"] is None else float(n["min"]),
                        maximum=-math.inf if n["max"] is None else float(n["max"]),
                        exact=bool(n["exact"]),
                        abs_error=float(n["abs_error"]),
                    )
                if "categories" in entry:
                    column.categories = {key: int(count) for key, count in entry["categories"]}
                columns[name] = column
            return cls(
                rows=int(data["rows"]),
                columns=columns,
                mantissa_bits=int(data["mantissa_bits"]),
                exact_values=int(data["exact_values"]),
                max_categories=int(data["max_categories"]),
                metadata=dict(data.get("metadata") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ProfileError(
                f"{source} is damaged ({type(exc).__name__}: {exc})",
                hint="rebuild the profile with 'mlops-guard profile' from the reference data",
            ) from exc

    def save(self, path: str | Path) -> Path:
        """Write the profile as JSON, atomically (temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":")))
        tmp.replace(path)
        return path


def load_profile(path: str | Path) -> ReferenceProfile:
    """Read a profile saved by :meth:`ReferenceProfile.save`.

    Raises :class:`ProfileError` for a missing or unreadable file, another format or version.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ProfileError(
            f"profile {str(path)!r} does not exist", hint="check the path, or build a profile"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(
            f"profile {str(path)!r} cannot be read ({exc})", hint="check the file"
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ProfileError(
            f"profile {str(path)!r} is not valid JSON (line {exc.lineno})",
            hint="rebuild it with 'mlops-guard profile DATA --out PROFILE'",
        ) from exc
    return ReferenceProfile.from_dict(data, source=f"profile {str(path)!r}")


# --- building ---------------------------------------------------------------------------


class _Builder:
    def __init__(self, settings: DriftSettings) -> None:
        self.settings = settings
        self.rows = 0
        self.columns: dict[str, ColumnProfile] = {}

    def add_batch(self, batch: pa.RecordBatch | pa.Table) -> None:
        from mlops_guard.drift._kinds import arrow_family

        if self.columns and list(self.columns) != list(batch.schema.names):
            raise SchemaError(
                "a chunk of the reference has other columns than the first one",
                hint="profile one data set with one schema",
            )
        self.rows += batch.num_rows
        for name, array in zip(batch.schema.names, batch.columns, strict=True):
            family = arrow_family(array.type)
            column = self.columns.get(name)
            if column is None:
                column = self.columns[name] = ColumnProfile(name=name, family=family)
            elif column.family != family:
                if {column.family, family} == {"int", "float"}:
                    column.family = "float"
                else:
                    raise SchemaError(
                        f"column {name!r} is {column.family} in one chunk and {family} in another",
                        hint="give the column one type in the whole file",
                    )
            column.rows += len(array)
            self._add_column(column, array, family)

    def _add_column(self, column: ColumnProfile, array: Any, family: Family) -> None:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if family in ("float", "int"):
            values = np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)
            finite_mask = np.isfinite(values)
            finite = values if finite_mask.all() else values[finite_mask]
            column.nulls += int(values.size - finite.size)
            if column.numeric is None:
                column.numeric = NumericState.empty()
            column.numeric.update(
                finite,
                exact_limit=self.settings.profile_exact_values,
                bits=self.settings.profile_mantissa_bits,
            )
        elif family in ("string", "bool"):
            column.nulls += array.null_count
            if column.overflow:
                return
            if pa.types.is_dictionary(array.type):
                array = array.cast(pa.string())
            counted = pc.value_counts(array)
            keys = counted.field("values").to_pylist()
            counts = counted.field("counts").to_pylist()
            categories = column.categories if column.categories is not None else {}
            for key, count in zip(keys, counts, strict=True):
                if key is not None:
                    categories[key] = categories.get(key, 0) + int(count)
            if len(categories) > self.settings.profile_max_categories:
                column.overflow = True
                column.categories = None
            else:
                column.categories = categories
        else:
            column.nulls += array.null_count

    def finish(self, metadata: dict[str, Any] | None) -> ReferenceProfile:
        from mlops_guard.errors import EmptyData

        if self.rows == 0:
            raise EmptyData("the reference has no rows", hint="profile data with rows")
        return ReferenceProfile(
            rows=self.rows,
            columns=self.columns,
            mantissa_bits=self.settings.profile_mantissa_bits,
            exact_values=self.settings.profile_exact_values,
            max_categories=self.settings.profile_max_categories,
            metadata=dict(metadata or {}),
        )


def _frame_to_arrow(frame: pd.DataFrame) -> pa.Table:
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise SchemaError(
            f"the reference has a column of mixed types ({str(exc).splitlines()[0]})",
            hint="give every column one type (numbers or text) before profiling",
        ) from exc


def build_profile(
    data: pd.DataFrame | str | Path,
    *,
    chunk_rows: int | None = None,
    settings: DriftSettings | None = None,
    metadata: dict[str, Any] | None = None,
    on_chunk: Any = None,
    dates: Dates = "strings",
) -> ReferenceProfile:
    """Profile a DataFrame or a data file (CSV or Parquet), ``chunk_rows`` rows at a time.

    Memory stays bounded by the chunk size plus the profile (at most ``profile_exact_values``
    numbers per column, about 8,000 rounded values per power of two the values span), so a
    file larger than memory can be profiled. ``metadata`` (JSON values) is stored as is, e.g.
    the reference quality for concept drift. ``on_chunk(rows_so_far)`` reports progress. A CSV
    file's dates stay text by default, as ``mlops-guard drift`` reads the current file
    (``dates="parse"`` for timestamps).

    >>> from mlops_guard.demo import make_dataset
    >>> build_profile(make_dataset(rows=100, seed=0)).rows
    100
    """
    settings = settings or DriftSettings()
    chunk = chunk_rows or settings.profile_chunk_rows
    if chunk < 1:
        raise DataError(f"chunk_rows must be positive, got {chunk}", hint="pass chunk_rows >= 1")
    builder = _Builder(settings)
    if isinstance(data, (str, Path)):
        from mlops_guard.data import iter_batches

        for batch in iter_batches(data, batch_rows=chunk, dates=dates):
            builder.add_batch(batch)
            if on_chunk is not None:
                on_chunk(builder.rows)
    else:
        table = _frame_to_arrow(data)
        for batch in table.to_batches(max_chunksize=chunk):
            builder.add_batch(batch)
            if on_chunk is not None:
                on_chunk(builder.rows)
    return builder.finish(metadata)


def merge(a: ReferenceProfile, b: ReferenceProfile) -> ReferenceProfile:
    """Merge two profiles of the same schema (chunks, partitions, days) into one.

    Raises :class:`ProfileError` when the schemas or the rounding settings differ.
    """
    if a.schema.keys() != b.schema.keys():
        raise ProfileError(
            "cannot merge profiles with different columns "
            f"({sorted(set(a.schema) ^ set(b.schema))[:5]} differ)",
            hint="merge profiles of one data set",
        )
    if (a.mantissa_bits, a.exact_values) != (b.mantissa_bits, b.exact_values):
        raise ProfileError(
            "cannot merge profiles built with different rounding settings",
            hint="build both with the same MLOPS_GUARD_DRIFT_PROFILE_* settings",
        )
    columns: dict[str, ColumnProfile] = {}
    for name, left in a.columns.items():
        right = b.columns[name]
        families = {left.family, right.family}
        if len(families) > 1 and families != {"int", "float"}:
            raise ProfileError(
                f"cannot merge profiles: column {name!r} is {left.family} in one and "
                f"{right.family} in the other",
                hint="merge profiles of one schema",
            )
        merged = ColumnProfile(
            name=name,
            family="float" if len(families) > 1 else left.family,
            rows=left.rows + right.rows,
            nulls=left.nulls + right.nulls,
            overflow=left.overflow or right.overflow,
        )
        if left.numeric is not None and right.numeric is not None:
            merged.numeric = left.numeric.merge(
                right.numeric, exact_limit=a.exact_values, bits=a.mantissa_bits
            )
        if not merged.overflow and (left.categories is not None or right.categories is not None):
            categories = dict(left.categories or {})
            for key, count in (right.categories or {}).items():
                categories[key] = categories.get(key, 0) + count
            if len(categories) > a.max_categories:
                merged.overflow = True
            else:
                merged.categories = categories
        columns[name] = merged
    return ReferenceProfile(
        rows=a.rows + b.rows,
        columns=columns,
        mantissa_bits=a.mantissa_bits,
        exact_values=a.exact_values,
        max_categories=a.max_categories,
        metadata={**b.metadata, **a.metadata},
    )
