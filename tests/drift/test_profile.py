"""Reference profiles: chunked and merged builds equal one pass, persistence is versioned and
schema-checked, and rounded columns stay within their documented Wasserstein error bound."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_guard.data import write_table
from mlops_guard.demo import FEATURES
from mlops_guard.drift import (
    DriftConfig,
    DriftSettings,
    build_profile,
    detect_drift,
    load_profile,
    merge,
)
from mlops_guard.drift._profile import round_mantissa
from mlops_guard.errors import ProfileError
from tests.drift._helpers import features


def _same_results(a, b) -> None:
    assert a.columns.keys() == b.columns.keys()
    for name in a.columns:
        assert a.columns[name].test == b.columns[name].test
        assert a.columns[name].statistic == pytest.approx(
            b.columns[name].statistic, rel=1e-9, abs=1e-12
        )


def test_chunked_build_equals_one_pass_and_a_parquet_file(tmp_path: Path) -> None:
    reference = features(5000, seed=3)
    current = features(2000, seed=4, drift={"age": 0.4})
    whole = build_profile(reference, chunk_rows=10_000)
    chunked = build_profile(reference, chunk_rows=333)
    path = write_table(reference, tmp_path / "reference.parquet")
    from_file = build_profile(path, chunk_rows=1000)
    csv_path = write_table(reference, tmp_path / "reference.csv")
    from_csv = build_profile(csv_path, chunk_rows=1000)
    expected = detect_drift(reference, current)
    for profile in (whole, chunked, from_file, from_csv):
        assert profile.rows == 5000
        _same_results(detect_drift(profile, current), expected)


def test_merged_partitions_equal_the_whole() -> None:
    reference = features(6000, seed=5)
    current = features(1500, seed=6, drift={"region": 0.3})
    parts = [reference.iloc[:1000], reference.iloc[1000:4500], reference.iloc[4500:]]
    merged = merge(merge(build_profile(parts[0]), build_profile(parts[1])), build_profile(parts[2]))
    assert merged.rows == 6000
    whole = build_profile(reference)
    for name, column in whole.columns.items():
        other = merged.columns[name]
        assert other.nulls == column.nulls
        if column.numeric is not None:
            assert other.numeric is not None
            assert other.numeric.mean == pytest.approx(column.numeric.mean, rel=1e-12)
            assert other.numeric.m2 == pytest.approx(column.numeric.m2, rel=1e-9)
            np.testing.assert_array_equal(other.numeric.values, column.numeric.values)
            np.testing.assert_array_equal(other.numeric.counts, column.numeric.counts)
        else:
            assert other.categories == column.categories
    _same_results(detect_drift(merged, current), detect_drift(reference, current))


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    reference = features(3000, seed=7)
    current = features(1000, seed=8, drift={"age": 0.5})
    path = build_profile(reference).save(tmp_path / "p" / "profile.json")
    loaded = load_profile(path)
    _same_results(detect_drift(loaded, current), detect_drift(reference, current))


def test_rounding_keeps_small_integers_exact_and_bounds_the_relative_error() -> None:
    values = np.concatenate(
        [np.arange(0, 8192, dtype=np.float64), np.random.default_rng(0).normal(0, 1e3, 10_000)]
    )
    rounded = round_mantissa(values, 12)
    np.testing.assert_array_equal(rounded[:8192], values[:8192])
    relative = np.abs(rounded - values) / np.abs(values).clip(min=1e-300)
    assert relative.max() <= 2.0**-13


@pytest.mark.parametrize("bits", [6, 12])
def test_rounded_profile_stays_within_its_wasserstein_error_bound(bits: int) -> None:
    rng = np.random.default_rng(9)
    reference = pd.DataFrame(
        {"x": rng.lognormal(2.0, 1.0, 20_000), "y": rng.normal(50, 10, 20_000)}
    )
    current = pd.DataFrame({"x": rng.lognormal(2.05, 1.0, 8_000), "y": rng.normal(51, 10, 8_000)})
    settings = DriftSettings(profile_exact_values=100, profile_mantissa_bits=bits)
    profile = build_profile(reference, chunk_rows=3000, settings=settings)
    assert not profile.exact
    exact = detect_drift(reference, current)
    approx = detect_drift(profile, current, config=DriftConfig(settings=settings))
    for name in ("x", "y"):
        column = approx.columns[name]
        assert column.test == "wasserstein"
        assert not column.exact
        assert column.error_bound is not None
        assert column.error_bound > 0
        error = abs(column.statistic - exact.columns[name].statistic)
        assert error <= column.error_bound
        # The bound is tight enough to be useful: 2**-(bits+1) relative, in units of std.
        assert column.error_bound < 2.0 ** -(bits + 1) * 10


def test_a_profile_of_another_version_is_refused(tmp_path: Path) -> None:
    path = build_profile(features(200, seed=1)).save(tmp_path / "profile.json")
    data = json.loads(path.read_text())
    data["version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ProfileError, match="version 99"):
        load_profile(path)


@pytest.mark.parametrize("content", ["{not json", '{"format": "something-else"}', "[]"])
def test_a_file_that_is_no_profile_is_refused(tmp_path: Path, content: str) -> None:
    path = tmp_path / "profile.json"
    path.write_text(content)
    with pytest.raises(ProfileError):
        load_profile(path)


def test_a_profile_of_another_schema_is_refused() -> None:
    profile = build_profile(features(500, seed=1))
    other = pd.DataFrame({"something": [1.0, 2.0], "else": ["a", "b"]})
    with pytest.raises(ProfileError, match="no column in common"):
        detect_drift(profile, other)
    mistyped = features(300, seed=2).astype({"age": str})
    report = detect_drift(profile, mistyped)
    assert report.schema.changed == ("age",)
    assert report.columns["age"].drifted


def test_a_profile_with_an_unknown_family_is_refused(tmp_path: Path) -> None:
    import json

    path = build_profile(features(200, seed=1)).save(tmp_path / "p.json")
    document = json.loads(path.read_text())
    document["columns"]["age"]["family"] = "decimal"
    path.write_text(json.dumps(document))
    with pytest.raises(ProfileError, match="'age' has the unknown family 'decimal'"):
        load_profile(path)


def test_merging_profiles_of_different_schemas_is_refused() -> None:
    a = build_profile(features(100, seed=1))
    b = build_profile(features(100, seed=1)[list(FEATURES[:3])])
    with pytest.raises(ProfileError):
        merge(a, b)


def test_profile_keeps_nulls_and_drops_them_like_evidently() -> None:
    reference = features(3000, seed=1)
    reference.loc[reference.index[:300], "age"] = np.nan
    current = features(1000, seed=2)
    profile = build_profile(reference, chunk_rows=500)
    assert profile.columns["age"].nulls == 300
    _same_results(detect_drift(profile, current), detect_drift(reference, current))
    assert detect_drift(profile, current).columns["age"].reference_values == 2700


def test_a_text_column_is_tested_from_a_profile_approximately() -> None:
    import numpy as np

    rng = np.random.default_rng(3)
    reference = features(2500, seed=5)
    current = features(1200, seed=6)
    reference["note"] = [f"plan {i} basic" for i in rng.integers(0, 2000, 2500)]
    current["note"] = [f"plan {i} premium" for i in rng.integers(0, 2000, 1200)]
    on_rows = detect_drift(reference, current)
    from_profile = detect_drift(build_profile(reference, chunk_rows=1000), current)
    rows_note, profile_note = on_rows.columns["note"], from_profile.columns["note"]
    assert rows_note.kind == profile_note.kind == "text"
    assert rows_note.exact
    assert not profile_note.exact
    assert "approximate" in (profile_note.note or "")
    assert rows_note.drifted
    assert profile_note.drifted
    assert profile_note.statistic == pytest.approx(rows_note.statistic, abs=0.05)
