"""Reading data files: every bad file gets a typed error with a one-line message naming it."""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlops_guard.data import fingerprint, iter_batches, read_arrow, read_table, write_table
from mlops_guard.demo import make_dataset
from mlops_guard.errors import DataNotFound, EmptyData, SchemaError, UnreadableData


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    df = make_dataset(rows=300, seed=3)
    path = write_table(df, tmp_path / f"d{suffix}")
    back = read_table(path)
    assert list(back.columns) == list(df.columns)
    assert len(back) == 300
    pd.testing.assert_series_equal(back["monthly_charges"], df["monthly_charges"])
    assert not list(tmp_path.glob(".*tmp*")), "the atomic write left its temp file"


def _bad_files(tmp: Path) -> dict[str, tuple[Path, type[Exception]]]:
    good = tmp / "good.csv"
    good.write_text("a,b\n" + "".join(f"{i},x{i}\n" for i in range(50_000)))
    raw = gzip.compress(good.read_bytes())
    cases = {
        "missing": (tmp / "nope.csv", DataNotFound),
        "directory": (tmp, DataNotFound),
        "empty": (tmp / "empty.csv", EmptyData),
        "header only": (tmp / "header.csv", EmptyData),
        "duplicate columns": (tmp / "dup.csv", SchemaError),
        "undecodable bytes": (tmp / "latin1.csv", UnreadableData),
        "truncated gzip": (tmp / "cut.csv.gz", UnreadableData),
        "not parquet": (tmp / "fake.parquet", UnreadableData),
        "unknown extension": (tmp / "data.xlsx", UnreadableData),
        "ragged rows": (tmp / "ragged.csv", UnreadableData),
    }
    (tmp / "empty.csv").write_bytes(b"")
    (tmp / "header.csv").write_text("a,b\n")
    (tmp / "dup.csv").write_text("a,a\n1,2\n")
    (tmp / "latin1.csv").write_bytes("a,b\n1,caf\xe9\n".encode("latin-1"))
    (tmp / "cut.csv.gz").write_bytes(raw[: len(raw) // 2])
    (tmp / "fake.parquet").write_text("not parquet at all")
    (tmp / "data.xlsx").write_text("x")
    (tmp / "ragged.csv").write_text("a,b\n1,2\n3,4,5\n")
    cases.update(
        {
            "header past the csv field limit": (tmp / "long.csv", UnreadableData),
            "duplicate behind a byte-order mark": (tmp / "bom.csv", SchemaError),
            "bytes that do not decode, late in the file": (tmp / "late.csv", UnreadableData),
            "duplicate parquet columns": (tmp / "dup.parquet", SchemaError),
            "truncated parquet": (tmp / "cut.parquet", UnreadableData),
            "random bytes as parquet": (tmp / "noise.parquet", UnreadableData),
            "random bytes as csv.gz": (tmp / "noise.csv.gz", UnreadableData),
        }
    )
    (tmp / "long.csv").write_text("x" * 200_000 + "\n1\n")
    (tmp / "bom.csv").write_bytes(b"\xef\xbb\xbfa,a\n1,2\n")
    (tmp / "late.csv").write_bytes(b"a,b\n" + b"1,x\n" * 10_000 + b"2,caf\xe9\n")
    pq.write_table(pa.table([pa.array([1]), pa.array([2])], names=["a", "a"]), tmp / "dup.parquet")
    write_table(make_dataset(rows=100, seed=1), tmp / "whole.parquet")
    whole = (tmp / "whole.parquet").read_bytes()
    (tmp / "cut.parquet").write_bytes(whole[: len(whole) // 2])
    noise = bytes(random.Random(7).randrange(256) for _ in range(4096))
    (tmp / "noise.parquet").write_bytes(noise)
    (tmp / "noise.csv.gz").write_bytes(noise)
    return cases


def test_bad_files_get_typed_one_line_errors(tmp_path: Path) -> None:
    for name, (path, expected) in _bad_files(tmp_path).items():
        for read in (read_table, read_arrow, lambda p: list(iter_batches(p))):
            with pytest.raises(expected) as caught:
                read(path)
            message = str(caught.value)
            assert type(caught.value) is expected, (name, caught.value)
            assert "\n" not in message, name
            assert str(path.name) in message or str(path) in message, (name, message)
            assert caught.value.hint, name


def test_iter_batches_streams_with_bounded_batches(tmp_path: Path) -> None:
    df = make_dataset(rows=2_500, seed=1)
    for suffix in (".csv", ".parquet"):
        path = write_table(df, tmp_path / f"d{suffix}")
        batches = list(iter_batches(path, batch_rows=1_000, columns=["age", "region"]))
        assert sum(b.num_rows for b in batches) == 2_500
        assert all(b.schema.names == ["age", "region"] for b in batches)
        if suffix == ".parquet":
            assert max(b.num_rows for b in batches) <= 1_000


def test_fingerprint_tracks_content() -> None:
    df = make_dataset(rows=1_000, seed=5)
    assert fingerprint(df) == fingerprint(df.copy())
    changed = df.copy()
    changed.loc[10, "age"] += 1
    assert fingerprint(changed) != fingerprint(df)
    assert fingerprint(df[df.columns[::-1]]) != fingerprint(df)


def test_fingerprint_of_an_ordinary_frame_is_unchanged() -> None:
    df = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "name": ["x", "y", None],
            "score": [0.5, np.nan, 2.0],
            "ok": [True, False, True],
            "t": pd.to_datetime(["2024-01-01", "2024-06-01", None]).tz_localize("UTC"),
        }
    )
    # The hash recorded by earlier versions (lineage tags, quarantine entry names).
    assert fingerprint(df) == (
        "sha256:ffa329b6ebcd549fdcef0cea24063129e135790b54667ee1cc491bbcd5af8963"
    )


def _nested_parquet(path: Path) -> Path:
    table = pa.table(
        {
            "tags": pa.array([[1, 2], [], None], pa.list_(pa.int64())),
            "meta": pa.array([{"a": 1, "b": "x"}, {"a": 2, "b": None}, None]),
            "attrs": pa.array([[("k", 1)], [], None], pa.map_(pa.string(), pa.int64())),
            "amount": pa.array([Decimal("1.25"), None, Decimal("-3.50")], pa.decimal128(9, 2)),
            "raw": pa.array([b"\x00\xff", b"", None], pa.binary()),
            "deep": pa.array([[[1.5]], [[]], [None]], pa.list_(pa.list_(pa.float64()))),
        }
    )
    pq.write_table(table, path)
    return path


def test_fingerprint_hashes_nested_columns_deterministically(tmp_path: Path) -> None:
    path = _nested_parquet(tmp_path / "nested.parquet")
    first = fingerprint(read_table(path))
    assert first == fingerprint(read_table(path))
    changed = read_table(path)
    changed.at[0, "meta"] = {"a": 1, "b": "y"}
    assert fingerprint(changed) != first
    code = (
        "import sys; from mlops_guard.data import fingerprint, read_table; "
        "print(fingerprint(read_table(sys.argv[1])))"
    )
    for seed in ("1", "2"):
        proc = subprocess.run(
            [sys.executable, "-c", code, str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        )
        assert proc.stdout.strip() == first


def test_fingerprint_tells_nested_cells_from_their_text() -> None:
    from mlops_guard.data._io import canonical_text

    lists = pd.DataFrame({"c": [[1, 2], [3]]})
    text = pd.DataFrame({"c": [canonical_text([1, 2]), canonical_text([3])]})
    assert fingerprint(lists) != fingerprint(text)
    # str() abbreviates long arrays: two arrays differing in the middle must not collide.
    long_a, long_b = np.arange(5_000), np.arange(5_000)
    long_b[2_500] = -1
    assert fingerprint(pd.DataFrame({"c": [long_a]})) != fingerprint(pd.DataFrame({"c": [long_b]}))
    sets = pd.DataFrame({"c": [{"b", "a"}, frozenset({"z"})]})
    assert fingerprint(sets) == fingerprint(pd.DataFrame({"c": [{"a", "b"}, frozenset({"z"})]}))


class _Unwritable:
    def __str__(self) -> str:
        raise RuntimeError("this cell cannot be written")


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    # The CSV writer has opened its file when the third cell fails.
    frame = pd.DataFrame({"x": ["a", "b", _Unwritable()]})
    with pytest.raises(RuntimeError, match="cannot be written"):
        write_table(frame, tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def test_csv_missing_values_are_the_ones_pandas_reads_as_missing(tmp_path: Path) -> None:
    from pandas._libs.parsers import STR_NA_VALUES

    from mlops_guard.data._io import PANDAS_NA_VALUES

    assert set(PANDAS_NA_VALUES) == set(STR_NA_VALUES)
    markers = sorted(STR_NA_VALUES)
    rows = [f"{i}.5,{markers[i % len(markers)] if i % 3 == 0 else 'red'}" for i in range(60)]
    rows += [f"{markers[i]},blue" for i in range(len(markers))]
    path = tmp_path / "markers.csv"
    path.write_text("amount,colour\n" + "\n".join(rows) + "\n")
    ours = read_table(path)
    theirs = pd.read_csv(path)
    assert ours["amount"].dtype == theirs["amount"].dtype == np.float64
    assert ours.isna().equals(theirs.isna())
    only_na = tmp_path / "only-na.csv"
    only_na.write_text("x\n1\n2\nn/a\n#N/A\n<NA>\n")
    assert read_table(only_na)["x"].isna().sum() == 3
    assert read_table(only_na, na_values=["#N/A"])["x"].dtype == object


def test_csv_dates_can_stay_text_as_pandas_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "dates.csv"
    path.write_text(
        "day,at,x\n2026-01-02,2026-01-02T10:00:00,1\n2026-01-03,2026-01-03T11:30:00,2\n"
    )
    parsed = read_arrow(path)
    assert pa.types.is_date(parsed.schema.field("day").type)
    assert pa.types.is_timestamp(parsed.schema.field("at").type)
    text = read_table(path, dates="strings")
    assert text.equals(pd.read_csv(path))
    batches = list(iter_batches(path, dates="strings"))
    assert batches[0].column(1).to_pylist() == ["2026-01-02T10:00:00", "2026-01-03T11:30:00"]


def test_parquet_strings_can_be_read_dictionary_encoded_and_marked(tmp_path: Path) -> None:
    from mlops_guard.data._io import PLAIN_STRING_KEY

    frame = pd.DataFrame(
        {"s": ["a", None, "b", "a"], "c": pd.Categorical(["x", "y", "x", "x"]), "n": [1, 2, 3, 4]}
    )
    path = write_table(frame, tmp_path / "d.parquet")
    table = read_arrow(path, dictionary_strings=True)
    assert pa.types.is_dictionary(table.schema.field("s").type)
    assert PLAIN_STRING_KEY in (table.schema.field("s").metadata or {})
    assert PLAIN_STRING_KEY not in (table.schema.field("c").metadata or {})
    assert table.column("s").to_pylist() == read_arrow(path).column("s").to_pylist()
    assert table.column("n").to_pylist() == [1, 2, 3, 4]
