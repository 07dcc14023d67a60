"""``mlops-guard trace check`` and ``trace adjust`` end to end: the JSON contract, exit
codes, the attributes adjusted spans carry, and one line for each kind of bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from mlops_guard.cli import main
from mlops_guard.traces._synthetic import Clock, Hop
from tests.traces.conftest import write_traces

MS = 1_000_000


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    document = json.loads(captured.out) if "--json" in argv and captured.out.strip() else None
    return code, document, captured.err


def _skewed(tmp_path: Path, offset_ms: float = -5.0) -> Path:
    clocks = {"a": Clock(), "b": Clock(offset_ms)}
    return write_traces(
        tmp_path / "spans.jsonl", [Hop("a", "b", delay_ms=1.0)], clocks, traces=400, window_s=30
    )


def test_check_json_contract_and_exit_1_on_violations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, document, _ = _run(capsys, "trace", "check", str(_skewed(tmp_path)), "--json")
    assert code == 1
    assert set(document) >= {"spans", "traces", "reference_host", "violations", "hosts"}
    assert document["spans"] == 1200
    assert document["traces"] == 400
    assert set(document["violations"]) == {
        "child_before_parent",
        "child_ends_after_parent",
        "consumer_before_producer",
        "negative_duration",
    }
    assert document["violations"]["child_before_parent"] > 0
    host = document["hosts"]["b"]
    assert set(host) >= {
        "offset_ms",
        "lower_ms",
        "upper_ms",
        "drift_ppm",
        "at_unix_nano",
        "samples",
        "method",
    }
    assert abs(host["offset_ms"] + 5.0) < 0.1


def test_check_exit_0_when_causal_and_reference_option(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _skewed(tmp_path, offset_ms=-0.2)
    code, document, _ = _run(capsys, "trace", "check", str(path), "--reference", "b", "--json")
    assert code == 0
    assert document["reference_host"] == "b"
    assert abs(document["hosts"]["a"]["offset_ms"] - 0.2) < 0.1
    code, _, err = _run(capsys, "trace", "check", str(path), "--reference", "zz")
    assert code == 2
    assert "zz" in err
    assert len(err.strip().splitlines()) == 1


def test_adjust_writes_causal_otlp_with_attributes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "fixed.jsonl.gz"
    code, document, _ = _run(
        capsys, "trace", "adjust", str(_skewed(tmp_path)), "-o", str(out), "--json"
    )
    assert code == 0
    assert sum(document["violations_after"].values()) == 0
    code, checked, _ = _run(capsys, "trace", "check", str(out), "--json")
    assert code == 0, checked["violations"]
    with gzip.open(out, "rt") as stream:
        spans = [
            span
            for line in stream
            for resource in json.loads(line)["resourceSpans"]
            for scope in resource["scopeSpans"]
            for span in scope["spans"]
        ]
    moved = [
        s
        for s in spans
        if any(a["key"] == "clock_skew.adjustment_ns" for a in s.get("attributes", []))
    ]
    assert len(moved) == 400  # every span of host b, none of the reference a
    attributes = {a["key"]: a["value"] for a in moved[0]["attributes"]}
    delta = int(attributes["clock_skew.adjustment_ns"]["intValue"])
    assert abs(delta - 5 * MS) < 0.1 * MS
    warnings = [v["stringValue"] for v in attributes["clock_skew.warnings"]["arrayValue"]["values"]]
    whole, fraction = divmod(delta, MS)
    digits = str(fraction).rjust(6, "0").rstrip("0")
    assert warnings == [f"This span's timestamps were adjusted by {whole}.{digits}ms"]


def _otlp(spans: list[dict[str, Any]], host: str) -> dict[str, Any]:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "host.ip", "value": {"stringValue": host}}]},
                "scopeSpans": [{"spans": spans}],
            }
        ]
    }


def _jaeger_span(span_id: int, parent: int, start_ms: int, duration_ms: int) -> dict[str, Any]:
    return {
        "traceId": "0" * 31 + "1",
        "spanId": f"{span_id:016x}",
        "parentSpanId": f"{parent:016x}" if parent else "",
        "name": "x",
        "startTimeUnixNano": str(start_ms * MS),
        "endTimeUnixNano": str((start_ms + duration_ms) * MS),
        "events": [{"timeUnixNano": str((start_ms + 5) * MS), "name": "e"}],
    }


@pytest.mark.parametrize(
    ("max_delta", "start_ms", "warning"),
    [
        ("1000", 35, "This span's timestamps were adjusted by 35ms"),
        (
            "10",
            0,
            "max clock skew adjustment delta of 10ms exceeded; not applying calculated "
            "delta of 35ms",
        ),
        ("0", 0, "clock skew adjustment disabled; not applying calculated delta of 35ms"),
    ],
)
def test_per_trace_runs_jaegers_rule_on_otlp(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    max_delta: str,
    start_ms: int,
    warning: str,
) -> None:
    source = tmp_path / "one.jsonl"
    source.write_text(
        json.dumps(_otlp([_jaeger_span(1, 0, 10, 100)], "a"))
        + "\n"
        + json.dumps(_otlp([_jaeger_span(2, 1, 0, 50), _jaeger_span(3, 77, 0, 5)], "b"))
        + "\n"
    )
    out = tmp_path / "out.jsonl"
    code, _, _ = _run(
        capsys,
        "trace",
        "adjust",
        str(source),
        "-o",
        str(out),
        "--per-trace",
        "--max-delta-ms",
        max_delta,
        "--json",
    )
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    child, orphan = lines[1]["resourceSpans"][0]["scopeSpans"][0]["spans"]
    assert int(child["startTimeUnixNano"]) == start_ms * MS
    assert int(child["events"][0]["timeUnixNano"]) == (start_ms + 5) * MS
    attributes = {a["key"]: a["value"] for a in child["attributes"]}
    assert [
        v["stringValue"] for v in attributes["clock_skew.warnings"]["arrayValue"]["values"]
    ] == [warning]
    assert ("clock_skew.adjustment_ns" in attributes) == (start_ms != 0)
    orphan_warnings = {a["key"]: a["value"] for a in orphan["attributes"]}["clock_skew.warnings"]
    assert orphan_warnings["arrayValue"]["values"][0]["stringValue"] == (
        "parent span ID=000000000000004d is not in the trace; skipping clock skew adjustment"
    )


def _bad_inputs(tmp_path: Path) -> dict[str, Path]:
    good = json.dumps(_otlp([_jaeger_span(1, 0, 10, 100)], "a"))
    files = {
        "not JSON": "this is not json\n",
        "not OTLP": json.dumps({"spans": []}) + "\n",
        "spans without ids": json.dumps(
            _otlp([{"name": "x", "startTimeUnixNano": "1", "endTimeUnixNano": "2"}], "a")
        )
        + "\n",
        "empty span id": json.dumps(_otlp([{**_jaeger_span(1, 0, 1, 1), "spanId": ""}], "a"))
        + "\n",
        "cut off": good + "\n" + good[: len(good) // 2],
        "empty file": "",
    }
    paths = {}
    for name, text in files.items():
        paths[name] = tmp_path / (name.replace(" ", "_") + ".json")
        paths[name].write_text(text)
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress((good + "\n").encode())[:-12])
    paths["cut-off gzip"] = cut
    paths["missing file"] = tmp_path / "nope.json"
    return paths


@pytest.mark.parametrize(
    "name",
    [
        "not JSON",
        "not OTLP",
        "spans without ids",
        "empty span id",
        "cut off",
        "empty file",
        "cut-off gzip",
        "missing file",
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    path = _bad_inputs(tmp_path)[name]
    for argv in (
        ("trace", "check", str(path)),
        ("trace", "adjust", str(path), "-o", str(tmp_path / "o.json")),
    ):
        code, _, err = _run(capsys, *argv)
        assert code == 2, (name, err)
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err
        assert str(path.name) in err
    assert not (tmp_path / "o.json").exists()
