"""Hostile input to the tool commands: every bad file, field or option is exit 2 with one line.

Table-driven over ``monitor summary``, ``monitor stragglers``, ``alerts inbox``, ``canary
judge``, ``data make``, ``profile``, ``drift`` and ``validate``, plus unknown options and
commands. In process through :func:`mlops_guard.cli.main` (fast); a few as real processes.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.cli import main

ROWS = 300  # rows of the good data files


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    code: int = 2
    names: tuple[str, ...] = ()  # what the error line must mention: file, field, option
    kind: str | None = None  # the error class, checked on stdout with --json


def case(case_id: str, command: str, *names: str, code: int = 2, kind: str | None = None) -> Any:
    """One row: ``command`` is split like a shell line; ``names`` must be in the error line."""
    return pytest.param(Case(tuple(shlex.split(command)), code, names, kind), id=case_id)


# --- the files the cases refer to ("@name" is a file below, "@name/x" a path under it) ----

_GOOD_SUMMARY: dict[str, Any] = {
    "job": "train",
    "model": "churn",
    "state": "stopped",
    "stalled": False,
    "stall_reasons": [],
    "slow_save": False,
    "saving": False,
    "steps": 10,
    "checkpoints": 2,
    "stalls": 0,
    "slow_saves": 0,
    "wall_seconds": 1.0,
    "last_heartbeat_age_s": 0.1,
    "last_checkpoint_age_s": 0.1,
    "last_checkpoint_step": 5,
    "step_seconds_p50": 0.01,
    "step_seconds_p99": 0.02,
    "save_seconds_p50": 0.01,
    "save_seconds_p99": 0.01,
    "last_save_seconds": 0.01,
    "checkpoint_interval_p50": 0.5,
    "save_seconds_total": 0.02,
    "save_share": 0.02,
    "save_bytes_total": 100,
    "heartbeat_limit_s": 1.0,
    "alerts": [],
}

_SUMMARIES: dict[str, dict[str, Any]] = {
    "sum_good": {},
    "sum_str_steps": {"steps": "10"},
    "sum_str_stalls": {"stalls": "0"},
    "sum_nan_wall": {"wall_seconds": math.nan},
    "sum_inf_p99": {"step_seconds_p99": math.inf},
    "sum_bool_count": {"checkpoints": True},
    "sum_float_count": {"steps": 10.5},
    "sum_negative_steps": {"steps": -3},
    "sum_share_above_1": {"save_share": 2.0},
    "sum_bad_state": {"state": "exploded"},
    "sum_bad_reason": {"stall_reasons": ["gremlins"]},
    "sum_str_stalled": {"stalled": "false"},
    "sum_null_job": {"job": None},
    "sum_bad_alert": {
        "alerts": [{"kind": "nope", "job": "t", "model": "m", "at": "x", "message": "m"}]
    },
}

_SAMPLES: dict[str, Any] = {
    "s_good": {"latency_seconds": [0.1 + 0.001 * i for i in range(200)]},
    "s_string": {"latency_seconds": [0.1, "0.2", 0.3]},
    "s_nested": {"latency_seconds": [[0.1, 0.2], [0.3, 0.4]]},
    "s_nan": {"latency_seconds": [0.1, math.nan]},
    "s_inf": {"latency_seconds": [0.1, -math.inf]},
    "s_huge": {"latency_seconds": [1e308] * 200},
    "s_huge_negative": {"score": [-1e308, 1e308] * 100},
    "s_bool": {"error": [True, False]},
    "s_null": {"latency_seconds": [0.1, None]},
    "s_dict_values": {"latency_seconds": {"a": 1}},
    "s_list_doc": [0.1, 0.2],
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from mlops_guard.demo import make_dataset

    root = tmp_path_factory.mktemp("bad-input")
    found: dict[str, Path] = {}

    def put(name: str, content: str | bytes) -> None:
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        found[name.split(".", maxsplit=1)[0]] = path

    frame = make_dataset(rows=ROWS, seed=5)
    frame.to_csv(root / "good.csv", index=False)
    frame.to_parquet(root / "good.parquet", index=False)
    found["good_csv"], found["good_parquet"] = root / "good.csv", root / "good.parquet"
    put("empty.csv", b"")
    put("header_only.csv", "a,b\n")
    put("binary.csv", b"\xff\xfe\x00\x01garbage\x00\n\x80\x81,\x82\n")
    put("bad.parquet", b"PAR1 this is not parquet at all")
    put("data.txt", "a,b\n1,2\n")
    (root / "adir").mkdir()
    found["adir"] = root / "adir"
    (root / "adir.csv").mkdir()  # a directory with a data file's name
    found["dir_csv"] = root / "adir.csv"
    put("afile", "a regular file")
    for name, overrides in _SUMMARIES.items():
        put(f"{name}.json", json.dumps({**_GOOD_SUMMARY, **overrides}))
    missing = dict(_GOOD_SUMMARY)
    del missing["steps"]
    put("sum_missing_steps.json", json.dumps(missing))
    put("sum_not_json.json", "{'steps': 10}")
    put("sum_array.json", "[1, 2, 3]")
    put("sum_deep.json", "[" * 100_000 + "]" * 100_000)
    put("sum_latin1.json", '{"job": "caf\xe9"}'.encode("latin-1"))
    for name, body in _SAMPLES.items():
        put(f"{name}.json", json.dumps(body))
    put("s_broken.json", '{"latency_seconds": [0.1,')
    put("s_csv_inf.csv", "latency_seconds\n0.1\ninf\n")
    put("s_csv_text.csv", "latency_seconds\n0.1\nslow\n")
    put("s_csv_huge.csv", "latency_seconds\n0.1\n1e200\n")
    return found


def _resolve(token: str, files: dict[str, Path]) -> str:
    if not token.startswith("@"):
        return token
    name, _, rest = token[1:].partition("/")
    path = files.get(name, files["adir"].parent / name)  # unknown names: missing files
    # Path() drops a trailing separator; the command must see it as typed.
    return str(path / rest) + ("/" if rest.endswith("/") else "") if rest else str(path)


def _stray_temporary_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(".tmp")]


@pytest.fixture
def guard_workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "guard"
    path.mkdir()
    monkeypatch.setenv("MLOPS_GUARD_WORKDIR", str(path))
    monkeypatch.delenv("MLOPS_GUARD_ALERTS_STORE", raising=False)
    return path


def _check_one_error(
    code: int, out: str, err: str, expected: Case, argv: list[str]
) -> dict[str, Any] | None:
    assert code == expected.code, err
    assert "Traceback" not in err
    assert "Traceback" not in out
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("mlops-guard: error: ")
    assert "internal error" not in lines[0]
    for name in expected.names:
        assert name in lines[0], (name, lines[0])
    if "--json" in argv:
        doc = json.loads(out)
        assert isinstance(doc["error"]["kind"], str)
        if expected.kind is not None:
            assert doc["error"]["kind"] == expected.kind
        return doc  # type: ignore[no-any-return]
    assert out == ""
    return None


# --- usage: unknown options and commands ---------------------------------------------------

USAGE = [
    case("unknown-option-first", "--frobnicate", "--frobnicate"),
    case(
        "unknown-option-before-command", "--frobnicate profile x.csv --out p.json", "--frobnicate"
    ),
    case("unknown-command", "frobnicate", "frobnicate"),
    case("unknown-monitor-subcommand", "monitor frobnicate", "frobnicate"),
    case("unknown-alerts-subcommand", "alerts frobnicate", "frobnicate"),
    case("unknown-canary-subcommand", "canary frobnicate", "frobnicate"),
    case("unknown-data-subcommand", "data frobnicate", "frobnicate"),
    case(
        "unknown-option-of-profile", "profile @good_csv --out p.json --frobnicate", "--frobnicate"
    ),
    case(
        "unknown-option-json",
        "drift @good_csv @good_csv --frobnicate --json",
        "--frobnicate",
        kind="UsageError",
    ),
    case("monitor-without-subcommand", "monitor"),
]

# --- monitor summary --------------------------------------------------------------------

MONITOR_SUMMARY = [
    case("summary-missing", "monitor summary @nope.json", "nope.json"),
    case("summary-directory", "monitor summary @adir", "adir"),
    case("summary-empty", "monitor summary @empty", "empty.csv"),
    case("summary-not-json", "monitor summary @sum_not_json", "sum_not_json.json"),
    case("summary-array", "monitor summary @sum_array", "sum_array.json", "list"),
    case("summary-deep-nesting", "monitor summary @sum_deep", "sum_deep.json"),
    case("summary-not-utf8", "monitor summary @sum_latin1", "sum_latin1.json"),
    case(
        "summary-missing-field",
        "monitor summary @sum_missing_steps",
        "sum_missing_steps.json",
        "steps",
        "missing",
    ),
    case("summary-string-count", "monitor summary @sum_str_steps", "sum_str_steps.json", "steps"),
    case(
        "summary-string-count-json",
        "monitor summary @sum_str_steps --json",
        "steps",
        kind="MonitorError",
    ),
    case(
        "summary-string-stalls", "monitor summary @sum_str_stalls", "sum_str_stalls.json", "stalls"
    ),
    case(
        "summary-string-stalls-json",
        "monitor summary @sum_str_stalls --json",
        "stalls",
        kind="MonitorError",
    ),
    case(
        "summary-nan-seconds", "monitor summary @sum_nan_wall", "sum_nan_wall.json", "wall_seconds"
    ),
    case(
        "summary-nan-seconds-json",
        "monitor summary @sum_nan_wall --json",
        "wall_seconds",
        kind="MonitorError",
    ),
    case("summary-infinite-seconds", "monitor summary @sum_inf_p99", "step_seconds_p99"),
    case("summary-bool-count", "monitor summary @sum_bool_count", "checkpoints"),
    case("summary-fractional-count", "monitor summary @sum_float_count", "steps"),
    case("summary-negative-count", "monitor summary @sum_negative_steps", "steps"),
    case("summary-share-above-1", "monitor summary @sum_share_above_1", "save_share"),
    case("summary-unknown-state", "monitor summary @sum_bad_state", "state"),
    case("summary-unknown-stall-reason", "monitor summary @sum_bad_reason", "stall_reasons"),
    case("summary-string-bool", "monitor summary @sum_str_stalled", "stalled"),
    case("summary-null-job", "monitor summary @sum_null_job", "job"),
    case("summary-bad-alert-kind", "monitor summary @sum_bad_alert", "alerts.0.kind"),
]

# --- monitor stragglers (rejected while parsing: nothing listens) -----------------------

MONITOR_STRAGGLERS = [
    case("stragglers-duration-zero", "monitor stragglers --duration 0", "--duration"),
    case("stragglers-duration-negative", "monitor stragglers --duration -1", "--duration"),
    case("stragglers-duration-nan", "monitor stragglers --duration nan", "--duration"),
    case("stragglers-duration-inf", "monitor stragglers --duration inf", "--duration"),
    case("stragglers-duration-huge", "monitor stragglers --duration 1e300", "--duration"),
    case("stragglers-duration-text", "monitor stragglers --duration soon", "--duration"),
    case("stragglers-port-too-big", "monitor stragglers --duration 0.1 --port 70000", "--port"),
    case("stragglers-port-negative", "monitor stragglers --duration 0.1 --port -1", "--port"),
    case(
        "stragglers-port-text", "monitor stragglers --port http --json", "--port", kind="UsageError"
    ),
]

# --- canary judge ---------------------------------------------------------------------------

CANARY = [
    case("judge-missing", "canary judge @nope.json @s_good", "nope.json"),
    case("judge-directory", "canary judge @s_good @adir", "adir"),
    case("judge-broken-json", "canary judge @s_broken @s_good", "s_broken.json"),
    case("judge-json-array", "canary judge @s_list_doc @s_good", "s_list_doc.json"),
    case(
        "judge-metric-not-a-list",
        "canary judge @s_dict_values @s_good",
        "s_dict_values.json",
        "latency_seconds",
    ),
    case(
        "judge-string-sample",
        "canary judge @s_string @s_good",
        "s_string.json",
        "latency_seconds",
        "sample 1",
    ),
    case("judge-nested-lists", "canary judge @s_nested @s_nested", "s_nested.json", "list"),
    case(
        "judge-nested-lists-json",
        "canary judge @s_good @s_nested --json",
        "s_nested.json",
        kind="SchemaError",
    ),
    case("judge-nan-sample", "canary judge @s_nan @s_good", "s_nan.json", "sample 1"),
    case("judge-infinite-sample", "canary judge @s_good @s_inf", "s_inf.json"),
    case("judge-1e308-samples", "canary judge @s_huge @s_good", "s_huge.json", "latency_seconds"),
    case(
        "judge-1e308-samples-json",
        "canary judge @s_huge_negative @s_huge_negative --json",
        "s_huge_negative.json",
        kind="SchemaError",
    ),
    case("judge-true-false", "canary judge @s_bool @s_bool", "s_bool.json", "error"),
    case("judge-null-sample", "canary judge @s_null @s_good", "s_null.json"),
    case("judge-csv-inf", "canary judge @s_csv_inf @s_good", "s_csv_inf.csv", "latency_seconds"),
    case("judge-csv-text", "canary judge @s_good @s_csv_text", "s_csv_text.csv", "latency_seconds"),
    case("judge-csv-huge", "canary judge @s_csv_huge @s_good", "s_csv_huge.csv"),
    case("judge-empty-csv", "canary judge @empty @s_good", "empty.csv"),
    case("judge-wrong-extension", "canary judge @data @s_good", "data.txt"),
    case("judge-bad-parquet", "canary judge @bad @s_good", "bad.parquet"),
]

# --- data make --------------------------------------------------------------------------

DATA_MAKE = [
    case("make-seed-negative", "data make @adir/x.csv --seed -1", "--seed"),
    case("make-seed-text", "data make @adir/x.csv --seed lucky", "--seed"),
    case("make-rows-zero", "data make @adir/x.csv --rows 0", "--rows"),
    case("make-rows-absurd", "data make @adir/x.csv --rows 1000000000000", "--rows"),
    case("make-drift-nan", "data make @adir/x.csv --drift age=nan", "--drift", "age"),
    case("make-drift-inf", "data make @adir/x.csv --drift age=inf", "--drift", "age"),
    case("make-drift-huge", "data make @adir/x.csv --drift age=1e308", "--drift"),
    case("make-drift-share-above-1", "data make @adir/x.csv --drift region=2", "--drift", "region"),
    case("make-drift-unknown-column", "data make @adir/x.csv --drift nope=1", "--drift", "nope"),
    case("make-drift-no-value", "data make @adir/x.csv --drift age", "--drift"),
    case("make-concept-drift-nan", "data make @adir/x.csv --concept-drift nan", "--concept-drift"),
    case(
        "make-concept-drift-above-1", "data make @adir/x.csv --concept-drift 2", "--concept-drift"
    ),
    case("make-corrupt-rate-nan", "data make @adir/x.csv --corrupt nulls:nan:age", "--corrupt"),
    case(
        "make-corrupt-out-of-range-categorical",
        "data make @adir/x.csv --corrupt out-of-range:0.1:region",
        "--corrupt",
        "region",
    ),
    case(
        "make-corrupt-unseen-numerical",
        "data make @adir/x.csv --corrupt unseen:0.1:age",
        "--corrupt",
        "age",
    ),
    case("make-out-is-a-directory", "data make @dir_csv", "OUT", "adir.csv"),
    case("make-out-under-a-file", "data make @afile/x.csv", "OUT", "afile"),
    case("make-out-wrong-extension", "data make @adir/x.txt", "x.txt"),
    case("make-corrupt-unknown-column", "data make @adir/x.csv --corrupt nulls:0.1:nope", "nope"),
]

# --- profile ----------------------------------------------------------------------------

PROFILE = [
    case("profile-data-missing", "profile @nope.csv --out @adir/p.json", "nope.csv"),
    case("profile-data-directory", "profile @dir_csv --out @adir/p.json", "adir.csv"),
    case("profile-data-empty", "profile @empty --out @adir/p.json", "empty.csv"),
    case("profile-data-header-only", "profile @header_only --out @adir/p.json", "header_only.csv"),
    case("profile-data-wrong-extension", "profile @data --out @adir/p.json", "data.txt"),
    case("profile-data-bad-csv", "profile @binary --out @adir/p.json", "binary.csv"),
    case(
        "profile-data-bad-parquet",
        "profile @bad --out @adir/p.json --json",
        "bad.parquet",
        kind="UnreadableData",
    ),
    case("profile-out-directory", "profile @good_csv --out @adir", "--out", "adir"),
    case("profile-out-under-a-file", "profile @good_csv --out @afile/p.json", "--out", "afile"),
    case("profile-out-is-the-data", "profile @good_csv --out @good_csv", "--out", "good.csv"),
    case("profile-out-trailing-slash", "profile @good_csv --out @adir/new/", "--out"),
    case(
        "profile-out-directory-json",
        "profile @good_csv --out @adir --json",
        "--out",
        kind="UsageError",
    ),
    case(
        "profile-chunk-rows-zero",
        "profile @good_csv --out @adir/p.json --chunk-rows 0",
        "--chunk-rows",
    ),
    case(
        "profile-chunk-rows-negative",
        "profile @good_csv --out @adir/p.json --chunk-rows -5",
        "--chunk-rows",
    ),
    case(
        "profile-chunk-rows-text",
        "profile @good_csv --out @adir/p.json --chunk-rows many",
        "--chunk-rows",
    ),
]

# --- drift ------------------------------------------------------------------------------

DRIFT = [
    case("drift-reference-missing", "drift @nope.csv @good_csv", "nope.csv"),
    case("drift-current-directory", "drift @good_csv @dir_csv", "adir.csv"),
    case("drift-current-empty", "drift @good_csv @empty", "empty.csv"),
    case(
        "drift-current-bad-parquet",
        "drift @good_csv @bad --json",
        "bad.parquet",
        kind="UnreadableData",
    ),
    case("drift-reference-wrong-extension", "drift @data @good_csv", "data.txt"),
    case("drift-html-directory", "drift @good_csv @good_parquet --html @adir", "--html", "adir"),
    case(
        "drift-html-under-a-file",
        "drift @good_csv @good_parquet --html @afile/r.html",
        "--html",
        "afile",
    ),
    case(
        "drift-html-is-the-current-data",
        "drift @good_csv @good_parquet --html @good_parquet",
        "--html",
    ),
    case(
        "drift-html-directory-json",
        "drift @good_csv @good_parquet --html @adir --json",
        "--html",
        kind="UsageError",
    ),
    case(
        "drift-threshold-nan",
        "drift @good_csv @good_parquet --threshold age=nan",
        "--threshold",
        "age",
    ),
    case(
        "drift-threshold-inf",
        "drift @good_csv @good_parquet --threshold age=inf",
        "--threshold",
        "age",
    ),
    case(
        "drift-threshold-negative",
        "drift @good_csv @good_parquet --threshold age=-0.1",
        "--threshold",
    ),
    case(
        "drift-threshold-text", "drift @good_csv @good_parquet --threshold age=low", "--threshold"
    ),
    case("drift-test-unknown", "drift @good_csv @good_parquet --test age=vibes", "--test", "vibes"),
]

# --- validate (the command is tested here for its bad files) ------------------------------

VALIDATE = [
    case("validate-missing", "validate @nope.csv --suite churn", "nope.csv"),
    case("validate-directory", "validate @dir_csv --suite churn", "adir.csv"),
    case("validate-empty", "validate @empty --suite churn", "empty.csv"),
    case("validate-header-only", "validate @header_only --suite churn", "header_only.csv"),
    case("validate-wrong-extension", "validate @data --suite churn", "data.txt"),
    case("validate-bad-csv", "validate @binary --suite churn", "binary.csv"),
    case("validate-bad-parquet", "validate @bad --suite churn", "bad.parquet"),
    case(
        "validate-bad-parquet-json",
        "validate @bad --suite churn --json",
        "bad.parquet",
        kind="UnreadableData",
    ),
    case("validate-unknown-suite", "validate @good_csv --suite no-such-suite", "no-such-suite"),
]

ALL = USAGE + MONITOR_SUMMARY + MONITOR_STRAGGLERS + CANARY + DATA_MAKE + PROFILE + DRIFT + VALIDATE


@pytest.mark.parametrize("expected", ALL)
def test_bad_input_is_one_line_and_exit_2(
    expected: Case,
    files: dict[str, Path],
    guard_workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = [_resolve(token, files) for token in expected.argv]
    before = set(files["adir"].parent.rglob("*"))
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    _check_one_error(code, captured.out, captured.err, expected, argv)
    # A refused command writes nothing: no output file, no temporary file.
    assert sorted(set(files["adir"].parent.rglob("*")) - before) == []
    assert not (guard_workdir / "quarantine").exists()


# --- what used to pass for healthy, and what must still pass -------------------------------


def test_a_good_summary_is_healthy_and_its_json_has_every_field(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["monitor", "summary", str(files["sum_good"]), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["healthy"] is True
    assert doc["summary"] == _GOOD_SUMMARY


def test_good_samples_are_judged(
    files: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    good = str(files["s_good"])
    assert main(["canary", "judge", good, good, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "pass"


def test_profile_reports_every_input_row(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "nested" / "profile.json"  # missing directories are created
    code = main(
        ["profile", str(files["good_parquet"]), "--out", str(out), "--json", "--chunk-rows", "7"]
    )
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["rows"] == ROWS  # nothing is quarantined by a profile: every row is counted
    assert out.is_file()
    assert _stray_temporary_files(tmp_path) == []


def test_validate_counts_every_row_as_passed_or_quarantined(
    files: dict[str, Path], tmp_path: Path, guard_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_guard.data import write_table
    from mlops_guard.demo import Corruption, SyntheticSpec, make_dataset

    assert main(["validate", str(files["good_parquet"]), "--suite", "churn", "--json"]) == 0
    passed = json.loads(capsys.readouterr().out)
    assert passed["success"] is True
    assert passed["rows"] == ROWS
    spec = SyntheticSpec(
        rows=ROWS,
        seed=5,
        corruption=Corruption(unseen_category_rate=0.05, unseen_category_columns=("region",)),
    )
    bad = write_table(make_dataset(spec), tmp_path / "bad.parquet")
    assert main(["validate", str(bad), "--suite", "churn", "--json"]) == 1
    failed = json.loads(capsys.readouterr().out)
    manifest = json.loads((Path(failed["quarantined"]) / "manifest.json").read_text())
    passed_rows = 0  # the gate keeps a failed batch whole
    assert failed["rows"] == ROWS
    assert passed_rows + manifest["rows"] == ROWS


# --- alerts inbox: a store built through the library's own API ----------------------------

_HOSTILE_LABELS = [
    pytest.param("[/bold]", "[/bold]", id="closing-markup-tag"),
    pytest.param("[red]churn[/red]", "[red]churn[/red]", id="markup-that-would-style"),
    pytest.param("x\x1b[2Jy", "x\\x1b[2Jy", id="escape-sequence"),
    pytest.param("safe\u202eevil", "safe\\u202eevil", id="right-to-left-override"),
    pytest.param("two\nlines", "two\\x0alines", id="newline"),
]


@pytest.mark.parametrize(("label", "shown"), _HOSTILE_LABELS)
def test_inbox_shows_hostile_labels_as_typed(
    label: str, shown: str, guard_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_guard.alerts import AlertStore, WebhookPayload
    from tests.alerts._helpers import alert, payload

    with AlertStore(guard_workdir / "alerts" / "inbox.sqlite") as store:
        body = payload(alert("f1f1f1f1f1f1f1f1", alertname=label, model=label))
        store.add(WebhookPayload.model_validate(body).alerts, receiver="r")
    assert main(["alerts", "inbox"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.count("\n") == 1  # one row, one line
    assert f"{shown} fp=f1f1f1f1f1f1f1f1 model={shown}" in captured.out
    assert "\x1b" not in captured.out
    assert "\u202e" not in captured.out
    assert main(["alerts", "inbox", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["alertname"] == label  # JSON keeps the bytes


INBOX = [
    case("inbox-store-missing", "alerts inbox --store @nope.sqlite", "nope.sqlite"),
    case("inbox-store-directory", "alerts inbox --store @adir", "adir"),
    case("inbox-store-not-sqlite", "alerts inbox --store @afile", "afile"),
    case(
        "inbox-store-not-sqlite-json",
        "alerts inbox --store @afile --json",
        "afile",
        kind="AlertError",
    ),
    case("inbox-unknown-state", "alerts inbox --state exploded", "--state"),
]


@pytest.mark.parametrize("expected", INBOX)
def test_inbox_bad_store_is_one_line_and_exit_2(
    expected: Case,
    tmp_path: Path,
    guard_workdir: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Its own files: opening a SQLite store may write to it, and the shared ones stay intact.
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("not a database, just text\n" * 100)
    files = {"adir": tmp_path / "adir", "afile": tmp_path / "afile"}
    argv = [_resolve(token, files) for token in expected.argv]
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    _check_one_error(code, captured.out, captured.err, expected, argv)


def test_inbox_row_with_corrupt_json_is_exit_2(
    guard_workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from mlops_guard.alerts import AlertStore, WebhookPayload
    from tests.alerts._helpers import alert, payload

    path = guard_workdir / "alerts" / "inbox.sqlite"
    with AlertStore(path) as store:
        store.add(WebhookPayload.model_validate(payload(alert())).alerts, receiver="r")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alerts SET labels = '{not json'")
    code = main(["alerts", "inbox"])
    captured = capsys.readouterr()
    _check_one_error(code, captured.out, captured.err, Case((), names=("inbox.sqlite",)), [])


# --- JSON output never holds NaN or infinity -------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(math.nan, id="nan"),
        pytest.param(math.inf, id="inf"),
        pytest.param(-math.inf, id="minus-inf"),
    ],
)
def test_json_output_writes_non_finite_numbers_as_null(
    value: float, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np

    from mlops_guard._console import print_json, to_jsonable

    assert to_jsonable({"mean": value, "np": np.float64(value), "arr": np.array([1.0, value])}) == {
        "mean": None,
        "np": None,
        "arr": [1.0, None],
    }
    print_json({"mean_score": value, "rows": [value, 2.5]})
    assert json.loads(capsys.readouterr().out) == {"mean_score": None, "rows": [None, 2.5]}


# --- as real processes ---------------------------------------------------------------------------

PROCESS = [
    case(
        "process-summary-string-stalls",
        "monitor summary @sum_str_stalls --json",
        "stalls",
        kind="MonitorError",
    ),
    case("process-make-seed-negative", "data make @adir/x.csv --seed -1", "--seed"),
    case("process-judge-nested", "canary judge @s_nested @s_good", "s_nested.json"),
    case("process-unknown-option", "--frobnicate", "--frobnicate"),
]


@pytest.fixture
def process_env(guard_workdir: Path) -> dict[str, str]:
    root = str(Path(__file__).resolve().parents[1])
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
    }


@pytest.mark.parametrize("expected", PROCESS)
def test_bad_input_in_a_real_process(
    expected: Case, files: dict[str, Path], process_env: dict[str, str]
) -> None:
    argv = [_resolve(token, files) for token in expected.argv]
    done = subprocess.run(
        [sys.executable, "-m", "mlops_guard.cli", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=process_env,
    )
    _check_one_error(done.returncode, done.stdout, done.stderr, expected, argv)
