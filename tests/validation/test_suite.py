"""Suites: GX 1.x JSON loaded by name or path, the shipped suite, and GX accepting it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_guard.errors import SuiteError, UsageError
from mlops_guard.validation import (
    ExpectationSpec,
    Suite,
    load_suite,
    packaged_suites_dir,
    write_suite,
)

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_suite_is_identical_in_expectations_and_package() -> None:
    repo_copy = ROOT / "expectations" / "churn.json"
    packaged = packaged_suites_dir() / "churn.json"
    assert repo_copy.read_bytes() == packaged.read_bytes()


def test_shipped_suite_is_accepted_whole_by_great_expectations(churn_suite: Suite) -> None:
    gx_suite = churn_suite.to_gx()
    assert len(gx_suite.expectations) == len(churn_suite.expectations)
    assert {e.expectation_type for e in gx_suite.expectations} == {
        s.type for s in churn_suite.expectations
    }
    # GX's own serialisation reads back as the same expectations (GX leaves out kwargs that
    # equal their defaults, such as exact_match=True).
    again = Suite.from_json_dict(gx_suite.to_json_dict())
    assert len(again.expectations) == len(churn_suite.expectations)
    for theirs, ours in zip(again.expectations, churn_suite.expectations, strict=True):
        assert theirs.type == ours.type
        assert {k: ours.kwargs[k] for k in theirs.kwargs} == dict(theirs.kwargs)
        assert set(ours.kwargs) - set(theirs.kwargs) <= {"exact_match"}


def test_name_lookup_prefers_the_expectations_dir_then_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_VALIDATION_EXPECTATIONS_DIR", str(tmp_path))
    assert load_suite("churn").path == (packaged_suites_dir() / "churn.json").resolve()
    mine = Suite("churn", (ExpectationSpec("expect_column_to_exist", {"column": "x"}),))
    written = write_suite(mine, tmp_path)
    loaded = load_suite("churn")
    assert loaded.path == written.resolve()
    assert [s.type for s in loaded.expectations] == ["expect_column_to_exist"]


def test_load_by_path_and_round_trip(tmp_path: Path) -> None:
    suite = Suite(
        "orders",
        (
            ExpectationSpec(
                "expect_column_values_to_be_between",
                {"column": "amount", "min_value": 0, "max_value": 10},
                {"note": "kept"},
                {"severity": "warning"},
            ),
        ),
        {"owner": "data team"},
    )
    path = write_suite(suite, tmp_path)
    loaded = load_suite(path)
    assert loaded.to_json_dict() == suite.to_json_dict()
    assert load_suite(str(path)).name == "orders"


def test_unknown_name_lists_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_GUARD_VALIDATION_EXPECTATIONS_DIR", str(tmp_path / "mine"))
    with pytest.raises(SuiteError) as info:
        load_suite("no_such_suite")
    text = str(info.value)
    assert str(tmp_path / "mine") in text
    assert str(packaged_suites_dir()) in text
    assert "\n" not in text


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ("[]", "not a JSON object"),
        ('{"expectations": []}', "no 'name'"),
        ('{"name": "x", "expectations": [{"kwargs": {}}]}', "expectation #0"),
        ('{"name": "x", "expectations": {}}', "not a list"),
    ],
)
def test_malformed_suite_files_raise_suite_error(
    tmp_path: Path, content: str, fragment: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(SuiteError, match=fragment):
        load_suite(path)


def test_gx_rejecting_an_expectation_is_an_error_not_a_silent_drop() -> None:
    suite = Suite("x", (ExpectationSpec("expect_column_values_to_be_purple", {"column": "a"}),))
    with pytest.raises(SuiteError, match="expect_column_values_to_be_purple"):
        suite.to_gx()


def test_write_refuses_to_overwrite_and_bad_names(tmp_path: Path) -> None:
    suite = Suite("s", ())
    write_suite(suite, tmp_path)
    with pytest.raises(UsageError, match="already exists"):
        write_suite(suite, tmp_path)
    write_suite(suite, tmp_path, overwrite=True)
    with pytest.raises(UsageError):
        write_suite(Suite("../escape", ()), tmp_path)
    assert json.loads((tmp_path / "s.json").read_text())["name"] == "s"


def test_without_columns_drops_expectations_and_column_set_entries(churn_suite: Suite) -> None:
    reduced = churn_suite.without_columns(["churned"])
    assert all(s.column != "churned" for s in reduced.expectations)
    column_set = next(
        s for s in reduced.expectations if s.type == "expect_table_columns_to_match_set"
    )
    assert "churned" not in column_set.kwargs["column_set"]
    assert len(reduced.expectations) < len(churn_suite.expectations)
