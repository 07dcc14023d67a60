"""Reading and writing data files: CSV (optionally ``.gz``) or Parquet, chosen by extension.

Every failure becomes a :class:`~mlops_guard.errors.DataError` subclass whose message names the
file and the problem, so the CLI can print one line and exit 2.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from mlops_guard.errors import DataNotFound, EmptyData, SchemaError, UnreadableData

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "PANDAS_NA_VALUES",
    "PLAIN_STRING_KEY",
    "DataFormat",
    "Dates",
    "data_format",
    "file_sha256",
    "fingerprint",
    "iter_batches",
    "read_arrow",
    "read_table",
    "write_table",
]

DataFormat = Literal["csv", "parquet"]

_CSV_SUFFIXES = {".csv", ".csv.gz", ".tsv", ".tsv.gz"}
_PARQUET_SUFFIXES = {".parquet", ".pq", ".parq"}


def data_format(path: Path) -> DataFormat:
    """The format a path's extension names; raises :class:`UnreadableData` for others."""
    name = path.name.lower()
    if any(name.endswith(suffix) for suffix in _PARQUET_SUFFIXES):
        return "parquet"
    if any(name.endswith(suffix) for suffix in _CSV_SUFFIXES):
        return "csv"
    raise UnreadableData(
        f"{str(path)!r} has an extension mlops-guard cannot read",
        hint="use .csv, .csv.gz or .parquet",
        path=str(path),
    )


def _check_path(path: Path) -> None:
    if not path.exists():
        raise DataNotFound(
            f"data file {str(path)!r} does not exist", hint="check the path", path=str(path)
        )
    if path.is_dir():
        raise DataNotFound(
            f"{str(path)!r} is a directory, not a data file",
            hint="pass one CSV or Parquet file",
            path=str(path),
        )
    if path.stat().st_size == 0:
        raise EmptyData(
            f"data file {str(path)!r} is empty (0 bytes)",
            hint="pass a file with a header and rows",
            path=str(path),
        )


def _csv_header(path: Path) -> list[str]:
    """The header row, read with the csv module so duplicate names are seen as they are."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    try:
        # utf-8-sig: a byte-order mark is not part of the first name (Arrow skips it too).
        with opener(path, "rt", encoding="utf-8-sig", newline="") as handle:
            return next(csv.reader(handle, delimiter=delimiter), [])
    except csv.Error as exc:
        raise UnreadableData(
            f"{str(path)!r} has no readable header line ({exc})",
            hint="the first line must be a header of column names; check that the file is CSV",
            path=str(path),
        ) from exc
    except UnicodeDecodeError as exc:
        raise UnreadableData(
            f"{str(path)!r} is not UTF-8 text (a byte near the start of the file does not decode)",
            hint="re-export the file as UTF-8 CSV",
            path=str(path),
        ) from exc
    except (OSError, EOFError, zlib.error) as exc:
        raise UnreadableData(
            f"{str(path)!r} cannot be decompressed or read ({exc})",
            hint="the gzip file may be truncated; copy it again",
            path=str(path),
        ) from exc


def _check_columns(path: Path, names: list[str]) -> None:
    if not names or all(not name.strip() for name in names):
        raise EmptyData(
            f"{str(path)!r} has no columns", hint="the first line must be a header", path=str(path)
        )
    duplicates = sorted(name for name, count in Counter(names).items() if count > 1)
    if duplicates:
        raise SchemaError(
            f"{str(path)!r} has duplicate column names: {', '.join(map(repr, duplicates))}",
            hint="rename the columns so each name appears once",
            path=str(path),
            columns=duplicates,
        )


#: The strings pandas' ``read_csv`` reads as missing by default (``pandas._libs.parsers.
#: STR_NA_VALUES``, pandas 2.x): a CSV reads here as a pandas user (and Evidently) reads it.
PANDAS_NA_VALUES: tuple[str, ...] = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

#: How CSV dates are read: ``parse`` makes timestamp and date columns of ISO dates (Arrow's
#: inference); ``strings`` keeps them as the text in the file, as pandas' ``read_csv`` does.
Dates = Literal["parse", "strings"]


def _csv_options(
    path: Path,
    na_values: Sequence[str] | None = None,
    column_types: dict[str, Any] | None = None,
) -> tuple[Any, Any, Any]:
    from pyarrow import csv as pacsv

    delimiter = "\t" if ".tsv" in path.name.lower() else ","
    return (
        pacsv.ReadOptions(block_size=16 << 20),
        pacsv.ParseOptions(delimiter=delimiter),
        pacsv.ConvertOptions(
            null_values=list(PANDAS_NA_VALUES if na_values is None else na_values),
            strings_can_be_null=True,
            column_types=column_types or {},
        ),
    )


def _temporal_as_strings(schema: pa.Schema) -> dict[str, Any]:
    """Column types that keep the temporal columns Arrow inferred as strings."""
    import pyarrow as pa

    return {
        f.name: pa.string()
        for f in schema
        if pa.types.is_timestamp(f.type) or pa.types.is_date(f.type) or pa.types.is_time(f.type)
    }


def _wrap_read_error(path: Path, exc: Exception) -> UnreadableData:
    text = _first_line(exc)
    if "utf8" in text.lower() or "utf-8" in text.lower():
        hint = "the file has bytes that are not UTF-8; re-export it as UTF-8"
    elif "csv parse error" in text.lower():
        hint = "every row needs as many fields as the header; check the delimiter and quoting"
    elif path.name.lower().endswith(".gz"):
        hint = "the gzip stream may be truncated or corrupt; copy the file again"
    else:
        hint = "check that the file is complete and in the format its extension names"
    return UnreadableData(f"cannot read {str(path)!r}: {text}", hint=hint, path=str(path))


def _check_text(path: Path, schema: pa.Schema) -> None:
    """Refuse CSV columns Arrow could only read as bytes: their text is not UTF-8."""
    import pyarrow as pa

    binary = [
        f.name for f in schema if pa.types.is_binary(f.type) or pa.types.is_large_binary(f.type)
    ]
    if binary:
        raise UnreadableData(
            f"{str(path)!r} is not UTF-8 text: column(s) {', '.join(map(repr, binary))} hold "
            "bytes that do not decode",
            hint="re-export the file as UTF-8 CSV",
            path=str(path),
            columns=binary,
        )


def _no_rows(path: Path) -> EmptyData:
    return EmptyData(
        f"{str(path)!r} has a header but no rows",
        hint="pass a batch with at least one row",
        path=str(path),
    )


#: Field metadata key marking a string column read dictionary-encoded (it is text in the file).
PLAIN_STRING_KEY = b"mlops_guard.plain_string"


def read_arrow(
    path: str | Path,
    *,
    na_values: Sequence[str] | None = None,
    dates: Dates = "parse",
    dictionary_strings: bool = False,
) -> pa.Table:
    """Read a whole file into an Arrow table, with the checks of :func:`read_table`.

    CSV only: ``na_values`` are the strings read as missing (default :data:`PANDAS_NA_VALUES`,
    as pandas); ``dates="strings"`` keeps date and timestamp columns as their text.
    Parquet only: ``dictionary_strings`` reads string columns dictionary-encoded, as they are
    stored (no string is decoded twice; value counts are counts of codes), their fields marked
    with :data:`PLAIN_STRING_KEY` so that they still read as text, not categories.
    """
    import pyarrow as pa

    path = Path(path)
    _check_path(path)
    fmt = data_format(path)
    if fmt == "csv":
        _check_columns(path, _csv_header(path))
        from pyarrow import csv as pacsv

        def read(column_types: dict[str, Any] | None) -> pa.Table:
            read_opts, parse_opts, convert_opts = _csv_options(path, na_values, column_types)
            try:
                return pacsv.read_csv(
                    str(path),
                    read_options=read_opts,
                    parse_options=parse_opts,
                    convert_options=convert_opts,
                )
            except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
                raise _wrap_read_error(path, exc) from exc

        table = read(None)
        if dates == "strings":
            as_strings = _temporal_as_strings(table.schema)
            if as_strings:
                # Read again rather than format the parsed values: the text stays the file's.
                table = read(as_strings)
        _check_text(path, table.schema)
    else:
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(str(path))
            # Before reading: Arrow refuses a table with duplicate names with a cryptic message.
            _check_columns(path, list(parquet.schema_arrow.names))
            plain = [
                f.name
                for f in parquet.schema_arrow
                if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
            ]
            if dictionary_strings and plain:
                parquet = pq.ParquetFile(str(path), read_dictionary=plain)
                table = parquet.read()
                marked = set(plain)
                schema = pa.schema(
                    [
                        f.with_metadata({**(f.metadata or {}), PLAIN_STRING_KEY: b"1"})
                        if f.name in marked
                        else f
                        for f in table.schema
                    ],
                    metadata=table.schema.metadata,
                )
                table = pa.Table.from_arrays(table.columns, schema=schema)
            else:
                table = parquet.read()
        except (pa.ArrowException, OSError, EOFError) as exc:
            raise _wrap_read_error(path, exc) from exc
    if table.num_rows == 0:
        raise _no_rows(path)
    return table


def read_table(
    path: str | Path, *, na_values: Sequence[str] | None = None, dates: Dates = "parse"
) -> pd.DataFrame:
    """Read a CSV (``.csv``, ``.csv.gz``) or Parquet file into a DataFrame.

    A CSV's missing values are the strings pandas reads as missing (``na_values`` to choose
    others); ``dates="strings"`` keeps its dates as text (see :func:`read_arrow`).

    Raises :class:`DataNotFound`, :class:`EmptyData`, :class:`UnreadableData` or
    :class:`SchemaError` (duplicate column names) with a one-line message naming the file.

    >>> read_table("/no/such/file.csv")
    Traceback (most recent call last):
    ...
    mlops_guard.errors.DataNotFound: data file '/no/such/file.csv' does not exist; check the path
    """
    import pyarrow as pa

    table = read_arrow(path, na_values=na_values, dates=dates)
    try:
        frame: pd.DataFrame = table.to_pandas()
    except (pa.ArrowException, TypeError, ValueError, OverflowError) as exc:
        # Arrow read the file but has no pandas form for a column's type.
        raise UnreadableData(
            f"cannot convert {str(path)!r} to a DataFrame: {_first_line(exc)}",
            hint="cast the column to a basic type (number, text, timestamp) when writing the file",
            path=str(path),
        ) from exc
    return frame


def _first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def iter_batches(
    path: str | Path,
    *,
    batch_rows: int = 1_000_000,
    columns: list[str] | None = None,
    na_values: Sequence[str] | None = None,
    dates: Dates = "parse",
) -> Iterator[pa.RecordBatch]:
    """Stream a file in record batches of about ``batch_rows`` rows, with bounded memory
    (CSV: ``na_values`` and ``dates`` as in :func:`read_table`; the types are inferred on the
    first block, as Arrow does)."""
    import pyarrow as pa

    path = Path(path)
    _check_path(path)
    fmt = data_format(path)
    seen_rows = 0
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(str(path))
            _check_columns(path, list(parquet.schema_arrow.names))
            batches: Iterator[pa.RecordBatch] = parquet.iter_batches(
                batch_size=batch_rows, columns=columns
            )
            for batch in batches:
                seen_rows += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError, EOFError) as exc:
            raise _wrap_read_error(path, exc) from exc
    else:
        _check_columns(path, _csv_header(path))
        from pyarrow import csv as pacsv

        def open_reader(column_types: dict[str, Any] | None) -> Any:
            read_opts, parse_opts, convert_opts = _csv_options(path, na_values, column_types)
            if columns is not None:
                convert_opts.include_columns = columns
            return pacsv.open_csv(
                str(path),
                read_options=read_opts,
                parse_options=parse_opts,
                convert_options=convert_opts,
            )

        try:
            reader = open_reader(None)
            if dates == "strings":
                as_strings = _temporal_as_strings(reader.schema)
                if as_strings:
                    reader.close()
                    reader = open_reader(as_strings)
            _check_text(path, reader.schema)
            for batch in reader:
                seen_rows += batch.num_rows
                yield batch
        except (pa.ArrowException, OSError, EOFError, zlib.error) as exc:
            raise _wrap_read_error(path, exc) from exc
    if seen_rows == 0:
        raise _no_rows(path)


def write_table(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as CSV or Parquet (by extension), atomically (temp file, then rename).

    A write that fails (a full disk, a column Parquet cannot store) leaves neither the file nor
    its temporary file behind.
    """
    path = Path(path)
    fmt = data_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        if fmt == "parquet":
            df.to_parquet(tmp, index=False)
        elif path.name.lower().endswith(".gz"):
            df.to_csv(tmp, index=False, compression="gzip")
        else:
            df.to_csv(tmp, index=False)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def fingerprint(df: pd.DataFrame) -> str:
    """A content hash of a DataFrame (values, column names and order), stable across runs.

    Rows are hashed with pandas' vectorised hashing, so a million rows take milliseconds.
    Columns pandas cannot hash (lists, structs, maps: cells that are arrays, dicts or lists)
    are hashed through a canonical text of each cell instead; a frame without such columns
    hashes exactly as it always has.
    """
    import pandas as pd

    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, df.columns)).encode())
    digest.update("\x1f".join(str(t) for t in df.dtypes).encode())
    try:
        row_hashes = pd.util.hash_pandas_object(df, index=False).to_numpy()
    except (TypeError, ValueError):
        hashable, encoded = _hashable_frame(df)
        row_hashes = pd.util.hash_pandas_object(hashable, index=False).to_numpy()
        # Which columns went through canonical text is part of the content: without it a
        # column of lists could hash like a text column that happens to hold the same text.
        digest.update(b"\x1ecanonical:" + "\x1f".join(map(str, encoded)).encode())
    digest.update(row_hashes.tobytes())
    return f"sha256:{digest.hexdigest()}"


def _hashable_frame(df: pd.DataFrame) -> tuple[pd.DataFrame, list[int]]:
    """``df`` with every column pandas cannot hash replaced by the canonical text of its cells;
    also the positions of the replaced columns."""
    import pandas as pd

    columns: dict[int, pd.Series[Any]] = {}
    encoded: list[int] = []
    for position in range(df.shape[1]):
        column = df.iloc[:, position]
        try:
            pd.util.hash_pandas_object(column, index=False)
        except (TypeError, ValueError):
            column = pd.Series(
                [canonical_text(value) for value in column], index=column.index, dtype=object
            )
            encoded.append(position)
        columns[position] = column
    frame = pd.concat(columns, axis=1) if columns else df
    return frame, encoded


def canonical_text(value: Any) -> str:
    """A deterministic, type-tagged text of a cell, nested values included.

    Equal cells give equal text and cells of different types different text; unlike ``str``
    it never abbreviates a long array, and set elements are ordered so the text does not
    depend on the interpreter's string hashing.
    """
    import numpy as np

    if isinstance(value, np.ndarray):
        if value.dtype == object:
            items = [canonical_text(item) for item in value]
        else:
            items = [canonical_text(item) for item in value.tolist()]
        return f"ndarray<{value.dtype}>{list(value.shape)}[{','.join(items)}]"
    if isinstance(value, dict):
        pairs = (f"{canonical_text(k)}:{canonical_text(v)}" for k, v in value.items())
        return "dict{" + ",".join(pairs) + "}"
    if isinstance(value, (set, frozenset)):
        return f"{type(value).__name__}{{" + ",".join(sorted(map(canonical_text, value))) + "}"
    if isinstance(value, (list, tuple)):
        return f"{type(value).__name__}[" + ",".join(map(canonical_text, value)) + "]"
    return f"{type(value).__name__}:{value!r}"


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return f"sha256:{digest.hexdigest()}"
