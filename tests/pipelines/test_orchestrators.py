"""The same pipelines with and without an orchestrator: inside a Prefect flow run each stage is
a Prefect task run (a real Prefect server); with Prefect not importable they run as plain
calls and record the same run log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_guard.data import write_table
from mlops_guard.demo import LABEL, make_dataset
from mlops_guard.pipelines import training_flow
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings
from tests._no_orchestrator import BLOCK_ORCHESTRATORS

TRAINING_STAGES = {"load", "validate", "split", "fit", "log_model", "register"}


def _stage_lines(settings: GuardSettings, event: str) -> list[dict[str, object]]:
    return [e for e in read_runlog(settings.runlog_path) if e["event"] == event]


@pytest.mark.usefixtures("prefect_server")
def test_in_a_prefect_flow_run_every_stage_is_a_task_run(
    settings: GuardSettings, tmp_path: Path
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    data = write_table(make_dataset(rows=3_000, seed=1), tmp_path / "train.parquet")
    training_flow(str(data), settings=settings)

    done = _stage_lines(settings, "stage.completed")
    assert {e["stage"] for e in done} == TRAINING_STAGES
    flow_run_id = str(done[0]["flow_run_id"])
    assert all(e["flow_run_id"] == flow_run_id for e in done)
    assert all(e["task_run_id"] and e["task_run_id"] != flow_run_id for e in done)
    assert {e["flow"] for e in done} == {"mlops-guard-training"}
    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
        )
    assert {r.name.rsplit("-", 1)[0] for r in runs} >= TRAINING_STAGES
    assert {str(r.id) for r in runs} >= {str(e["task_run_id"]) for e in done}


_WITHOUT_PREFECT = (
    BLOCK_ORCHESTRATORS
    + """
import json
from mlops_guard.pipelines import run_inference, run_training
from mlops_guard.settings import GuardSettings

settings = GuardSettings(workdir=sys.argv[1])
trained = run_training(sys.argv[2], settings=settings)
scored = run_inference(sys.argv[3], batch_id="b1", settings=settings)
try:
    from mlops_guard.pipelines import training_flow
except ImportError as exc:
    flow_error = str(exc)
else:
    flow_error = None
print(json.dumps({
    "version": trained.version, "alias": trained.alias, "scored": scored.rows_scored,
    "predictions": scored.predictions_path, "flow_error": flow_error,
    "prefect_loaded": any(m.split(".")[0] == "prefect" for m in sys.modules),
}))
"""
)


def test_without_prefect_the_pipelines_run_as_plain_calls(tmp_path: Path) -> None:
    train = write_table(make_dataset(rows=3_000, seed=1), tmp_path / "train.parquet")
    batch = write_table(
        make_dataset(rows=500, seed=2).drop(columns=[LABEL]), tmp_path / "batch.parquet"
    )
    workdir = tmp_path / "work"
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PREFECT, str(workdir), str(train), str(batch)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert (out["version"], out["alias"], out["scored"]) == ("1", "champion", 500)
    assert Path(out["predictions"]).exists()
    assert out["flow_error"] is not None
    assert out["prefect_loaded"] is False

    settings = GuardSettings(workdir=workdir)
    done_lines = _stage_lines(settings, "stage.completed")
    by_flow: dict[object, set[object]] = {}
    for e in done_lines:
        by_flow.setdefault(e["flow"], set()).add(e["stage"])
        assert "flow_run_id" not in e or e["flow_run_id"] is None
    assert by_flow["mlops-guard-training"] == TRAINING_STAGES
    assert {"load", "validate", "score", "write_predictions"} <= by_flow["mlops-guard-inference"]
