"""Property tests of the readers and of a batch's way through validation.

Whatever the bytes, ``read_table``, ``read_arrow`` and ``iter_batches`` return data or raise a
:class:`~mlops_guard.errors.GuardError` naming the file, with a hint. Whatever the column types
a reader produces (lists, structs, maps, decimals, tz-aware times, binary...), ``fingerprint``
is deterministic, ``split_rows`` accounts for every row, and ``mlops-guard validate`` never
exits 70: the batch passes whole or is quarantined whole.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import io
import json
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from mlops_guard.data import fingerprint, iter_batches, read_arrow, read_table
from mlops_guard.errors import GuardError
from mlops_guard.validation import split_rows

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

READERS: dict[str, Callable[[Path], object]] = {
    "read_table": read_table,
    "read_arrow": read_arrow,
    "iter_batches": lambda path: list(iter_batches(path, batch_rows=7)),
}


def _read_all(path: Path) -> pd.DataFrame | None:
    """Every reader on ``path``: data, or a GuardError naming the file with a hint."""
    frame: pd.DataFrame | None = None
    for name, read in READERS.items():
        refused: GuardError | None = None
        try:
            value = read(path)
        except GuardError as exc:
            refused = exc
        if refused is not None:
            message = str(refused)
            assert path.name in message, (name, message)
            assert "\n" not in message, (name, message)
            assert refused.hint, (name, message)
            continue
        if name == "read_table":
            assert isinstance(value, pd.DataFrame)
            frame = value
    return frame


def _fresh(directory: Path, suffix: str) -> Path:
    # Hypothesis reuses the test's tmp_path across examples: a new name for each one.
    return directory / f"{uuid.uuid4().hex[:8]}{suffix}"


SUFFIXES = st.sampled_from([".csv", ".tsv", ".csv.gz", ".parquet"])


@FUZZ
@given(data=st.binary(max_size=4096), suffix=SUFFIXES, compress=st.booleans())
def test_random_bytes_are_read_or_refused_with_a_guard_error(
    tmp_path: Path, data: bytes, suffix: str, compress: bool
) -> None:
    path = _fresh(tmp_path, suffix)
    path.write_bytes(gzip.compress(data) if compress and suffix.endswith(".gz") else data)
    frame = _read_all(path)
    if frame is not None:
        assert fingerprint(frame) == fingerprint(frame.copy())


@FUZZ
@given(cut=st.floats(min_value=0.0, max_value=1.0), flip=st.integers(min_value=0))
def test_truncated_or_corrupted_parquet_is_refused(tmp_path: Path, cut: float, flip: int) -> None:
    source = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", None, "z"], "c": [[1], [], None]}), source)
    whole = bytearray(source.getvalue())
    whole[flip % len(whole)] ^= 0xFF
    path = _fresh(tmp_path, ".parquet")
    path.write_bytes(bytes(whole[: max(1, int(len(whole) * cut))]))
    _read_all(path)


# --- CSV of odd shapes -------------------------------------------------------------------

CELL = st.one_of(
    st.text(max_size=8),
    st.sampled_from(["", '"', '""', ",", "\t", "\n", "\r\n", "NA", "1", "1.5", "-0", "1e999"]),
    st.integers().map(str),
)


@st.composite
def _csv_files(draw: st.DrawFn) -> tuple[bytes, str]:
    width = draw(st.integers(min_value=1, max_value=5))
    # Names that repeat, are empty, or outgrow the csv module's field limit.
    name = st.sampled_from(["", "a", "x" * 140_000]) | st.text(max_size=6)
    header = draw(st.lists(name, min_size=width, max_size=width))
    rows = draw(
        st.lists(
            # Ragged rows: a field count that need not match the header's.
            st.lists(CELL, min_size=draw(st.integers(0, 1)), max_size=width + 2),
            max_size=12,
        )
    )
    delimiter = draw(st.sampled_from([",", "\t", ";"]))
    ending = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    quote_all = draw(st.booleans())

    def line(cells: list[str]) -> str:
        if quote_all:
            cells = ['"' + c.replace('"', '""') + '"' for c in cells]
        return delimiter.join(cells)

    lines = ([] if draw(st.booleans()) else [line(header)]) + [line(r) for r in rows]
    text = ending.join(lines) + (ending if draw(st.booleans()) else "")
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]))
    suffix = ".tsv" if delimiter == "\t" else draw(st.sampled_from([".csv", ".csv.gz"]))
    data = text.encode(encoding, errors="replace")
    return (gzip.compress(data) if suffix.endswith(".gz") else data), suffix


@FUZZ
@given(csv_file=_csv_files())
def test_csv_of_any_shape_is_read_or_refused(tmp_path: Path, csv_file: tuple[bytes, str]) -> None:
    data, suffix = csv_file
    path = _fresh(tmp_path, suffix)
    path.write_bytes(data)
    frame = _read_all(path)
    if frame is not None:
        assert len(frame) > 0
        assert frame.columns.is_unique
        # A CSV holds text: bytes that do not decode are refused, not passed on as bytes.
        assert not any(isinstance(v, bytes) for v in frame.to_numpy().ravel())
        assert fingerprint(frame) == fingerprint(read_table(path))


# --- Parquet of any column type ----------------------------------------------------------


def _maybe_null(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | values


SMALL_INT = st.integers(min_value=-(2**40), max_value=2**40)
TEXT = st.text(max_size=6)
# (Arrow type, values): the column types Parquet files carry, nested ones included.
COLUMN_KINDS: list[tuple[pa.DataType, st.SearchStrategy[Any]]] = [
    (pa.int64(), SMALL_INT),
    (pa.float64(), st.floats(allow_nan=True, allow_infinity=True)),
    (pa.bool_(), st.booleans()),
    (pa.string(), TEXT),
    (pa.large_string(), TEXT),
    (pa.binary(), st.binary(max_size=6)),
    (pa.decimal128(12, 3), st.decimals(min_value=-(10**8), max_value=10**8, places=3)),
    (pa.date32(), st.dates()),
    (pa.timestamp("us"), st.datetimes()),
    (
        pa.timestamp("ms", tz="America/New_York"),
        st.datetimes(min_value=dt.datetime(1700, 1, 1), max_value=dt.datetime(2200, 1, 1)).map(
            lambda d: d.replace(tzinfo=dt.UTC)
        ),
    ),
    (
        pa.duration("s"),
        st.timedeltas(min_value=dt.timedelta(days=-(10**4)), max_value=dt.timedelta(days=10**4)),
    ),
    (pa.list_(pa.int64()), st.lists(_maybe_null(SMALL_INT), max_size=4)),
    (pa.list_(pa.list_(pa.float64())), st.lists(st.lists(st.floats(), max_size=3), max_size=3)),
    (pa.large_list(pa.string()), st.lists(_maybe_null(TEXT), max_size=3)),
    (
        pa.struct([("a", pa.int64()), ("b", pa.string())]),
        st.fixed_dictionaries({"a": _maybe_null(SMALL_INT), "b": _maybe_null(TEXT)}),
    ),
    (
        pa.struct([("inner", pa.struct([("x", pa.list_(pa.int64()))]))]),
        st.fixed_dictionaries(
            {"inner": st.fixed_dictionaries({"x": st.lists(SMALL_INT, max_size=2)})}
        ),
    ),
    (
        pa.map_(pa.string(), pa.int64()),
        st.lists(st.tuples(TEXT, _maybe_null(SMALL_INT)), max_size=3, unique_by=lambda kv: kv[0]),
    ),
    (pa.dictionary(pa.int32(), pa.string()), TEXT),
    (pa.null(), st.none()),
]

# Names the suite below has expectations on, so nested cells meet every native check.
SUITE_COLUMNS = ["c0", "c1", "c2"]


@st.composite
def _tables(draw: st.DrawFn) -> pa.Table:
    rows = draw(st.integers(min_value=0, max_value=12))
    names = draw(
        st.lists(
            st.sampled_from(SUITE_COLUMNS) | st.text(min_size=1, max_size=5),
            min_size=1,
            max_size=4,
            unique=True,
        )
    )
    arrays = []
    for _ in names:
        kind, values = draw(st.sampled_from(COLUMN_KINDS))
        cells = draw(st.lists(_maybe_null(values), min_size=rows, max_size=rows))
        if pa.types.is_dictionary(kind):
            arrays.append(pa.array(cells, pa.string()).dictionary_encode())
        else:
            arrays.append(pa.array(cells, kind))
    return pa.table(arrays, names=names)


def _suite_file(directory: Path) -> Path:
    expectations: list[dict[str, Any]] = [
        {"type": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 1}},
        {"type": "expect_column_to_exist", "kwargs": {"column": "c0"}},
    ]
    for column in SUITE_COLUMNS:
        expectations += [
            {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": column}},
            {"type": "expect_column_values_to_be_unique", "kwargs": {"column": column}},
            {
                "type": "expect_column_values_to_be_in_set",
                "kwargs": {"column": column, "value_set": ["a", "b", 1, 2.5]},
            },
            {
                "type": "expect_column_values_to_be_in_type_list",
                "kwargs": {"column": column, "type_list": ["str", "int", "int64", "float64"]},
            },
        ]
    expectations.append(
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "c0", "min_value": 0, "max_value": 10},
        }
    )
    path = directory / "fuzz_suite.json"
    path.write_text(json.dumps({"name": "fuzz", "expectations": expectations}))
    return path


@pytest.fixture
def suite_path(tmp_path: Path) -> Path:
    return _suite_file(tmp_path)


def _cli(*argv: str) -> tuple[int, str]:
    from mlops_guard.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    assert code != 70, err.getvalue()
    return code, out.getvalue()


@FUZZ
@given(table=_tables())
def test_parquet_of_any_column_type_is_fingerprinted_and_split(
    tmp_path: Path, suite_path: Path, table: pa.Table
) -> None:
    path = _fresh(tmp_path, ".parquet")
    pq.write_table(table, path)
    frame = _read_all(path)
    if frame is None:
        # The only refusals of a well-formed file: no rows, or no column with a name.
        assert table.num_rows == 0 or all(not n.strip() for n in table.column_names)
        return
    assert fingerprint(frame) == fingerprint(read_table(path))
    passing, failing, _result = split_rows(frame, suite_path)
    assert len(passing) + len(failing) == len(frame)


@FUZZ
@given(table=_tables())
def test_validate_cli_passes_or_quarantines_every_row(
    tmp_path: Path, workdir: Path, suite_path: Path, table: pa.Table
) -> None:
    assume(table.num_rows > 0 and any(n.strip() for n in table.column_names))
    path = _fresh(tmp_path, ".parquet")
    pq.write_table(table, path)
    quarantine = _fresh(tmp_path, "-q")
    code, out = _cli(
        "validate",
        str(path),
        "--suite",
        str(suite_path),
        "--json",
        "--quarantine-dir",
        str(quarantine),
    )
    assert code in (0, 1), out
    doc = json.loads(out)
    passed = table.num_rows if doc["success"] else 0
    quarantined = 0
    if doc["quarantined"]:
        entry = Path(doc["quarantined"])
        quarantined = json.loads((entry / "manifest.json").read_text())["rows"]
        assert len(pq.read_table(entry / "data.parquet")) == quarantined
    assert passed + quarantined == table.num_rows
    assert (code == 0) == doc["success"]
