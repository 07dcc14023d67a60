"""The ``profile`` and ``drift`` commands, in-process and as a real subprocess."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_guard.cli import main
from mlops_guard.data import write_table
from mlops_guard.drift import load_profile
from tests.drift._helpers import evidently_auto, features

_DRIFT = {
    "age": 1.0,
    "tenure_months": 1.0,
    "monthly_charges": 1.0,
    "support_calls": 1.0,
    "logins_30d": 1.0,
    "data_usage_gb": 1.0,
    "total_charges": 1.0,
    "late_payments": 1.0,
}


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    reference = features(3000, seed=1)
    return {
        "reference": write_table(reference, tmp_path / "reference.parquet"),
        "reference_csv": write_table(reference, tmp_path / "reference.csv"),
        "clean": write_table(features(1000, seed=2), tmp_path / "clean.csv"),
        "drifted": write_table(features(1000, seed=3, drift=_DRIFT), tmp_path / "drifted.parquet"),
    }


def _json(capsys: pytest.CaptureFixture[str]) -> dict:
    out = capsys.readouterr().out
    return json.loads(out)


def test_profile_then_drift_json(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    profile = tmp_path / "profile.json"
    assert (
        main(
            [
                "profile",
                str(files["reference_csv"]),
                "--out",
                str(profile),
                "--chunk-rows",
                "700",
                "--json",
            ]
        )
        == 0
    )
    summary = _json(capsys)
    assert summary["rows"] == 3000
    assert summary["exact"] is True
    assert load_profile(profile).rows == 3000

    assert main(["drift", str(profile), str(files["drifted"]), "--json"]) == 0
    from_profile = _json(capsys)
    assert from_profile["dataset_drift"] is True
    assert set(from_profile) == {
        "dataset_drift",
        "drift_share",
        "share_threshold",
        "rows",
        "columns",
        "tested",
        "drifted",
        "schema",
        "prediction_drift",
        "outputs",
    }

    assert main(["drift", str(files["reference"]), str(files["drifted"]), "--json"]) == 0
    from_data = _json(capsys)
    assert from_data["columns"].keys() == from_profile["columns"].keys()
    for name, column in from_data["columns"].items():
        other = from_profile["columns"][name]
        assert {k: v for k, v in column.items() if k != "statistic"} == {
            k: v for k, v in other.items() if k != "statistic"
        }
        # Same to the last bits but for summation order (an exact profile: no rounding).
        assert column["statistic"] == pytest.approx(other["statistic"], rel=1e-12)
    assert {k: from_data[k] for k in ("dataset_drift", "drift_share", "rows")} == {
        k: from_profile[k] for k in ("dataset_drift", "drift_share", "rows")
    }

    assert main(["drift", str(profile), str(files["clean"]), "--json", "--fail-on-drift"]) == 0
    assert _json(capsys)["dataset_drift"] is False


def test_fail_on_drift_exits_1(files: dict[str, Path], capsys) -> None:
    code = main(["drift", str(files["reference"]), str(files["drifted"]), "--fail-on-drift"])
    assert code == 1
    assert "DRIFT" in capsys.readouterr().out


def test_overrides_from_the_command_line(files: dict[str, Path], capsys) -> None:
    args = ["drift", str(files["reference"]), str(files["clean"]), "--json"]
    assert (
        main([*args, "--test", "age=psi", "--threshold", "age=0.3", "--correction", "bonferroni"])
        == 0
    )
    age = _json(capsys)["columns"]["age"]
    assert age["test"] == "psi"
    assert age["threshold"] == 0.3


def test_html_report_is_evidentlys(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    html = tmp_path / "report.html"
    profile = tmp_path / "profile.json"
    assert main(["profile", str(files["reference"]), "--out", str(profile)]) == 0
    assert main(["drift", str(profile), str(files["drifted"]), "--html", str(html)]) == 0
    text = html.read_text()
    # Markers of Evidently's DataDriftPreset widgets, and the checked columns only.
    assert "Drifted Columns" in text
    assert "Wasserstein distance (normed)" in text
    assert "monthly_charges" in text
    assert "customer_id" not in text


def _bad_inputs(tmp_path: Path, files: dict[str, Path]) -> dict[str, list[str]]:
    reference = str(files["reference"])
    other = write_table(features(100, 5).rename(columns=lambda c: f"x_{c}"), tmp_path / "other.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(features(1, 1).columns) + "\n")
    profile = tmp_path / "old-profile.json"
    main(["profile", reference, "--out", str(profile)])
    data = json.loads(profile.read_text())
    data["version"] = 0
    profile.write_text(json.dumps(data))
    other_profile = tmp_path / "other-profile.json"
    main(["profile", str(other), "--out", str(other_profile)])
    return {
        "no common columns": ["drift", reference, str(other)],
        "empty current": ["drift", reference, str(empty)],
        "profile of another version": ["drift", str(profile), str(files["clean"])],
        "profile of another schema": ["drift", str(other_profile), str(files["clean"])],
        "missing file": ["drift", reference, str(tmp_path / "nope.csv")],
        "bad override": ["drift", reference, str(files["clean"]), "--test", "age"],
        "override of no column": [
            "drift",
            reference,
            str(files["clean"]),
            "--test",
            "no_such_column=ks",
        ],
        "strict alone": ["drift", reference, str(files["clean"]), "--strict"],
    }


def test_bad_inputs_exit_2_with_one_line(files: dict[str, Path], tmp_path: Path, capsys) -> None:
    cases = _bad_inputs(tmp_path, files)
    capsys.readouterr()
    for label, argv in cases.items():
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 2, (label, captured.err)
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1, (label, captured.err)
        assert lines[0].startswith("mlops-guard: error: "), label
        assert "Traceback" not in captured.err
        assert captured.out == ""


def test_subprocess_bad_input_is_one_line_exit_2(files: dict[str, Path], tmp_path: Path) -> None:
    other = write_table(features(50, 5).rename(columns=lambda c: f"x_{c}"), tmp_path / "other.csv")
    exe = shutil.which("mlops-guard") or str(Path(sys.executable).with_name("mlops-guard"))
    done = subprocess.run(
        [exe, "drift", str(files["reference"]), str(other), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    # With --json, the error is also a document on stdout, for scripts that read only stdout.
    assert json.loads(done.stdout)["error"]["kind"] == "SchemaError"
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "no column in common" in lines[0]
    assert "Traceback" not in done.stderr


def test_scored_files_report_prediction_drift_apart(tmp_path: Path, capsys) -> None:
    from mlops_guard.data import add_scores

    def scored(rows: int, seed: int, shift: float, **spec: object) -> Path:
        frame = features(rows, seed=seed, **spec)
        rng = np.random.default_rng(seed)
        scores = rng.beta(2 + shift, 5, rows)
        out = add_scores(frame, scores, version="3", batch_id=f"b{seed}", threshold=0.5)
        return write_table(out, tmp_path / f"scored-{seed}.parquet")

    reference, current = scored(3000, 1, 0.0), scored(1000, 2, 3.0)
    assert main(["drift", str(reference), str(current), "--json", "--scored-batches"]) == 0
    document = _json(capsys)
    assert document["prediction_drift"] is True
    assert document["dataset_drift"] is False
    assert set(document["outputs"]) == {"score", "prediction"}
    assert not {"score", "prediction"} & set(document["columns"])
    for bookkeeping in ("model_version", "batch_id", "scored_at"):
        assert document["columns"][bookkeeping]["skipped"] == "excluded by the configuration"

    assert main(["drift", str(reference), str(current), "--scored-batches"]) == 0
    assert "prediction drift: yes" in capsys.readouterr().out


def test_every_column_is_reported_and_strict_fails_on_schema_changes(
    files: dict[str, Path], tmp_path: Path, capsys
) -> None:
    reference = features(3000, 1)
    current = features(1000, 2).drop(columns=["region"])
    current["age"] = current["age"].astype(object)
    current.loc[current.index[::3], "age"] = "unknown"
    current["monthly_charges"] = np.nan
    current["coupon"] = "none"
    ref_path = write_table(reference, tmp_path / "ref.csv")
    cur_path = write_table(current, tmp_path / "cur.csv")
    assert main(["drift", str(ref_path), str(cur_path), "--json", "--fail-on-drift"]) == 0
    document = _json(capsys)
    assert set(document["columns"]) == set(reference.columns) | {"coupon"}
    assert document["schema"] == {"missing": ["region"], "extra": ["coupon"], "changed": ["age"]}
    assert document["columns"]["age"]["test"] == "type_change"
    assert document["columns"]["age"]["drifted"] is True
    assert document["columns"]["monthly_charges"]["skipped"] == (
        "only null values in the current data"
    )
    assert document["columns"]["region"]["skipped"] == "not in the current data"
    argv = ["drift", str(ref_path), str(cur_path), "--fail-on-drift", "--strict"]
    assert main(argv) == 1
    table = capsys.readouterr().out
    assert "region" in table
    assert "skipped" in table
    assert "schema changed" in table


def test_csv_missing_markers_and_dates_read_as_pandas(tmp_path: Path, capsys) -> None:
    ref = tmp_path / "ref.csv"
    cur = tmp_path / "cur.csv"
    ref.write_text("x,day\n" + "".join(f"{i % 50},2026-01-{1 + i % 28:02d}\n" for i in range(400)))
    cur.write_text(
        "x,day\n"
        + "".join(
            f"{'n/a' if i % 5 == 0 else i % 50 + 20},2026-03-{1 + i % 28:02d}\n" for i in range(300)
        )
    )
    assert main(["drift", str(ref), str(cur), "--json"]) == 0
    document = _json(capsys)
    assert document["columns"]["x"]["kind"] == "numerical"
    assert document["columns"]["x"]["current_values"] == 240
    assert document["columns"]["day"]["kind"] == "categorical"
    assert main(["drift", str(ref), str(cur), "--json", "--dates", "parse"]) == 0
    assert _json(capsys)["columns"]["day"]["kind"] == "datetime"
    assert main(["drift", str(ref), str(cur), "--json", "--na-value", "NA"]) == 0
    assert _json(capsys)["schema"]["changed"] == ["x"]


def test_parquet_strings_are_text_or_categories_as_pandas_reads_them(
    tmp_path: Path, capsys
) -> None:
    rng = np.random.default_rng(8)

    def frame(rows: int, prefix: str) -> pd.DataFrame:
        ids = [f"{prefix}{i}" for i in rng.integers(0, 10 * rows, rows)]
        plan = rng.choice(["basic", "plus", "pro"], rows)
        data = pd.DataFrame({"x": rng.normal(size=rows), "ident": ids, "plan": plan})
        data.loc[data.index[::11], "plan"] = None
        data["levels"] = pd.Categorical(ids)  # a category: categorical whatever its levels
        return data

    reference, current = frame(3000, "r"), frame(1500, "c")
    ref_path = write_table(reference, tmp_path / "ref.parquet")
    cur_path = write_table(current, tmp_path / "cur.parquet")
    assert main(["drift", str(ref_path), str(cur_path), "--json"]) == 0
    columns = _json(capsys)["columns"]
    expected, _share, _drift = evidently_auto(pd.read_parquet(ref_path), pd.read_parquet(cur_path))
    assert {n: c["test"] for n, c in columns.items()} == {n: e[0] for n, e in expected.items()}
    for name, (_test, score, _threshold, drifted) in expected.items():
        assert columns[name]["statistic"] == pytest.approx(score, rel=1e-9), name
        assert columns[name]["drifted"] == drifted, name
    assert columns["ident"]["kind"] == "text"
    assert columns["levels"]["kind"] == "categorical"
    assert columns["plan"]["current_values"] == current["plan"].notna().sum()
