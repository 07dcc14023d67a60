"""The example DAGs and the check operators, run by Airflow 3.3 itself (``dag.test()``: a DAG run
in the session's metadata database, each task through Airflow's task runner in this process)
against a real MLflow registry (SQLite).

What is checked is what Airflow and mlops-guard recorded: the task instances' states and try
numbers in Airflow's database, the XComs, the listener's run-log lines (with DAG, run, task and
try number) and the metrics textfile it flushed.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_guard import registry
from mlops_guard.settings import GuardSettings
from tests.alerts._models import MODEL, copy_registry
from tests.integrations.airflow._helpers import load_dag, runlog, task_instances, xcom

pytestmark = pytest.mark.slow

#: Shifts (in standard deviations) that drift 8 of the 13 columns: dataset drift (share > 0.5).
DRIFT = dict.fromkeys(
    (
        "age",
        "tenure_months",
        "monthly_charges",
        "total_charges",
        "support_calls",
        "data_usage_gb",
        "logins_30d",
        "avg_session_minutes",
    ),
    2.0,
)


def _stage_lines(lines: list[dict], task_id: str) -> list[dict]:
    return [
        line
        for line in lines
        if line["event"].startswith("stage.") and line.get("task_id") == task_id
    ]


def _prom(workdir: Path, dag_id: str) -> str:
    return (workdir / "metrics" / f"mlops_guard-{dag_id}.prom").read_text()


def test_rollback_dag_moves_the_champion_and_the_listener_records_the_task(
    registry_template: Path, guard_workdir: Path
) -> None:
    settings = copy_registry(registry_template, guard_workdir)
    dag = load_dag("mlops_guard_rollback", "rollback.py")
    run = dag.test(
        run_conf={
            "model": MODEL,
            "reason": "error rate high",
            "model_version": "2",
            "alert_fingerprint": "fp-1@2026-12-01T00:00:00Z",
        }
    )
    assert run.state == "success"
    assert registry.get_champion(MODEL, settings=settings) == "1"
    (event,) = [e for e in registry.history(MODEL, settings=settings) if e.action == "rollback"]
    assert event.actor == "airflow:mlops_guard_rollback.rollback"
    assert event.alert_fingerprint == "fp-1@2026-12-01T00:00:00Z"
    result = xcom(dag.dag_id, run.run_id, "rollback")
    assert result["status"] == "rolled_back"
    assert result["event"]["to_version"] == "1"

    lines = runlog(guard_workdir, dag.dag_id)
    started, completed = _stage_lines(lines, "rollback")
    ti = task_instances(dag.dag_id, run.run_id)["rollback"]
    for line in (started, completed):
        assert line["dag_id"] == "mlops_guard_rollback"
        assert line["run_id"] == run.run_id == line["flow_run_id"]
        assert line["task_id"] == "rollback" == line["stage"]
        assert line["try_number"] == ti.try_number == 1
        assert line["task_run_id"] == str(ti.id)
        assert line["model"] == MODEL
    assert (started["event"], completed["event"]) == ("stage.started", "stage.completed")
    # The duration is the task instance's own, read from its dates (the hooks are separate).
    assert completed["duration_seconds"] == pytest.approx(
        (ti.end_date - ti.start_date).total_seconds(), abs=0.05
    )
    # A line the core logs inside the task carries the task's ids too (the sink's context).
    (moved,) = [line for line in lines if line["event"] == "registry.rolled_back"]
    assert (moved["dag_id"], moved["run_id"], moved["task_id"]) == (
        dag.dag_id,
        run.run_id,
        "rollback",
    )
    assert moved["trace_id"] == started["trace_id"]

    prom = _prom(guard_workdir, dag.dag_id)
    labels = 'flow="mlops_guard_rollback",model="churn",stage="rollback"'
    assert re.search(rf"mlops_guard_stage_duration_seconds_count\{{{labels}\}} 1\.0", prom)
    assert re.search(
        rf'mlops_guard_stage_runs_total\{{{labels},status="completed"\}} 1\.0', prom
    ), prom


def test_failed_checks_fail_their_tasks_with_the_reason_and_no_retry(
    guard_workdir: Path, tmp_path: Path
) -> None:
    from mlops_guard.data import write_table
    from mlops_guard.demo import Corruption, SyntheticSpec, make_dataset

    reference = tmp_path / "reference.csv"
    write_table(make_dataset(SyntheticSpec(rows=2000, seed=1)), reference)
    batch = tmp_path / "batch.csv"
    drifted = SyntheticSpec(
        rows=1000,
        seed=2,
        drift=DRIFT,
        corruption=Corruption(out_of_range_rate=0.05, out_of_range_columns=("age",)),
    )
    write_table(make_dataset(drifted), batch)

    dag = load_dag("mlops_guard_test_checks", "mlops_guard_test_checks.py")
    run = dag.test(run_conf={"data": str(batch), "reference": str(reference)})
    assert run.state == "failed"
    tis = task_instances(dag.dag_id, run.run_id)
    # A failed check is not retried (AirflowFailException), though the DAG allows 2 retries.
    assert {k: (ti.state, ti.try_number) for k, ti in tis.items()} == {
        "validate": ("failed", 1),
        "drift": ("failed", 1),
    }
    lines = runlog(guard_workdir, dag.dag_id)
    (failed_validation,) = [
        line for line in _stage_lines(lines, "validate") if line["event"] == "stage.failed"
    ]
    assert failed_validation["error_type"] == "AirflowFailException"
    assert "failed suite 'churn'" in failed_validation["error"]
    assert "age" in failed_validation["error"]
    (failed_drift,) = [
        line for line in _stage_lines(lines, "drift") if line["event"] == "stage.failed"
    ]
    assert "dataset drift" in failed_drift["error"]
    assert "tenure_months" in failed_drift["error"]

    validation = xcom(dag.dag_id, run.run_id, "validate", "mlops_guard_result")
    assert validation["success"] is False
    assert Path(validation["quarantined"]).exists()  # kept with the reason, never dropped
    drift = xcom(dag.dag_id, run.run_id, "drift", "mlops_guard_result")
    assert drift["dataset_drift"] is True

    prom = _prom(guard_workdir, dag.dag_id)
    assert (
        'mlops_guard_stage_failures_total{flow="mlops_guard_test_checks",model="unknown",'
        'stage="validate"} 1.0' in prom
    )


def test_quarantine_policy_lets_the_passing_rows_through(
    guard_workdir: Path, tmp_path: Path
) -> None:
    """Failing rows are quarantined with their reasons, the rest written on: the task passes."""
    from mlops_guard.data import read_table, write_table
    from mlops_guard.demo import Corruption, SyntheticSpec, make_dataset
    from mlops_guard.integrations.airflow import ValidateOperator

    batch = tmp_path / "batch.csv"
    spec = SyntheticSpec(
        rows=500,
        seed=3,
        corruption=Corruption(out_of_range_rate=0.1, out_of_range_columns=("age",)),
    )
    write_table(make_dataset(spec), batch)
    out = tmp_path / "passed.csv"
    operator = ValidateOperator(
        task_id="validate",
        data=str(batch),
        suite="churn",
        policy="quarantine_rows",
        passed_path=str(out),
    )

    class _Ti:
        dag_id = "adhoc"

    result = operator.execute({"ti": _Ti()})
    assert result["rows_quarantined"] > 0
    assert result["rows_passed"] + result["rows_quarantined"] == 500
    assert len(read_table(out)) == result["rows_passed"]


def test_training_scoring_and_drift_dags_run_the_pipeline(
    guard_workdir: Path, tmp_path: Path
) -> None:
    from mlops_guard.data import write_table
    from mlops_guard.demo import SyntheticSpec, make_dataset

    train = tmp_path / "train.csv"
    write_table(make_dataset(SyntheticSpec(rows=3000, seed=5)), train)
    batch = tmp_path / "batch.csv"
    write_table(
        make_dataset(SyntheticSpec(rows=1500, seed=6, drift=DRIFT)),
        batch,
    )

    training = load_dag("mlops_guard_training", "training.py")
    trained = training.test(run_conf={"data": str(train)})
    assert trained.state == "success"
    result = xcom(training.dag_id, trained.run_id, "train")
    settings = GuardSettings(workdir=guard_workdir)
    assert registry.get_champion(result["model"], settings=settings) == str(result["version"])

    inference = load_dag("mlops_guard_inference", "inference.py")
    scored = inference.test(run_conf={"data": str(batch), "batch_id": "b1"})
    assert scored.state == "success"
    scoring = xcom(inference.dag_id, scored.run_id, "score")
    assert scoring["rows_scored"] == 1500
    assert Path(scoring["predictions_path"]).exists()

    drift = load_dag("mlops_guard_drift_check", "drift_check.py")
    checked = drift.test()
    assert checked.state == "failed"  # the scored batch drifted: the scheduled check says so
    (failed,) = [
        line
        for line in _stage_lines(runlog(guard_workdir, drift.dag_id), "drift_check")
        if line["event"] == "stage.failed"
    ]
    assert "dataset drift" in failed["error"]
    report = xcom(drift.dag_id, checked.run_id, "drift_check", "mlops_guard_result")
    assert report["model_version"] == str(result["version"])
    assert report["drift"]["dataset_drift"] is True
