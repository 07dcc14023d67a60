from __future__ import annotations

import json
import multiprocessing
import re
from pathlib import Path

from mlops_guard.metrics import GuardMetrics
from mlops_guard.runlog import CONTEXT_FIELDS, RunLog, bind, read_runlog

RFC3339_UTC_MICROS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$")


def test_every_line_has_the_contract_fields(tmp_path: Path) -> None:
    log = RunLog(tmp_path / "runlog.jsonl", mirror_to_prefect=False)
    with bind(flow="train", model="churn", model_version="3", trace_id="abc"):
        log.emit("stage.completed", stage="fit", duration_seconds=1.5)
    log.emit("outside", level="warning")
    first, second = read_runlog(tmp_path / "runlog.jsonl")
    for record in (first, second):
        assert {"ts", "level", "event", *CONTEXT_FIELDS} <= set(record)
        assert RFC3339_UTC_MICROS.match(record["ts"]), record["ts"]
    assert first["flow"] == "train"
    assert first["model_version"] == "3"
    assert first["trace_id"] == "abc"
    assert first["stage"] == "fit"
    assert first["duration_seconds"] == 1.5
    assert second["level"] == "WARNING"
    # Outside the bind, the context is gone but the fields are still present (as null).
    assert second["flow"] is None
    assert second["trace_id"]


def test_bind_nests_and_restores(tmp_path: Path) -> None:
    log = RunLog(tmp_path / "r.jsonl", mirror_to_prefect=False)
    with bind(flow="a", model="m"):
        with bind(stage="s"):
            inner = log.emit("inner")
        outer = log.emit("outer")
    assert (inner["flow"], inner["stage"]) == ("a", "s")
    assert (outer["flow"], outer["stage"]) == ("a", None)


def _writer(path: str, worker: int, lines: int) -> None:
    log = RunLog(path, mirror_to_prefect=False)
    for i in range(lines):
        log.emit("concurrent", worker=worker, i=i, pad="x" * 300)


def test_concurrent_processes_never_interleave_lines(tmp_path: Path) -> None:
    path = tmp_path / "runlog.jsonl"
    procs = [
        multiprocessing.get_context("spawn").Process(target=_writer, args=(str(path), w, 200))
        for w in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(records) == 800
    for worker in range(4):
        assert [r["i"] for r in records if r["worker"] == worker] == list(range(200))


def test_broken_sink_is_counted_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the log directory should be")
    metrics = GuardMetrics()
    log = RunLog(blocker / "runlog.jsonl", metrics=metrics, mirror_to_prefect=False)
    record = log.emit("still.returns")
    assert record["event"] == "still.returns"
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "runlog"}) == 1.0
