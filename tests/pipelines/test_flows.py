"""Training and inference flows against a real Prefect server and a real MLflow SQLite store."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from prometheus_client.parser import text_string_to_metric_families

from mlops_guard.data import fingerprint, scored_batch_path, write_table
from mlops_guard.demo import LABEL, Corruption, SyntheticSpec, make_dataset
from mlops_guard.errors import BatchRejected, ModelNotFound, SchemaError
from mlops_guard.metrics import GuardMetrics
from mlops_guard.pipelines import inference_flow, training_flow
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings

pytestmark = pytest.mark.usefixtures("prefect_server")


@pytest.fixture
def train_file(tmp_path: Path) -> Path:
    return write_table(make_dataset(rows=6_000, seed=1), tmp_path / "train.parquet")


@pytest.fixture
def batch_file(tmp_path: Path) -> Path:
    batch = make_dataset(rows=1_500, seed=2).drop(columns=[LABEL])
    return write_table(batch, tmp_path / "batch.csv")


def _git_checkout(path: Path) -> str:
    path.mkdir()

    def run(*args):
        return subprocess.run(["git", *args], cwd=path, check=True, capture_output=True, text=True)

    run("init", "-q")
    (path / "pipeline.py").write_text("# the user's pipeline code\n")
    run("add", "pipeline.py")
    run("-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-qm", "code")
    return run("rev-parse", "HEAD").stdout.strip()


def test_training_registers_versions_with_lineage_and_aliases(
    settings: GuardSettings,
    metrics: GuardMetrics,
    train_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Run from the user's git checkout: the code version is its commit.
    head = _git_checkout(tmp_path / "repo")
    monkeypatch.chdir(tmp_path / "repo")
    first = training_flow(str(train_file), settings=settings)
    second = training_flow(str(train_file), settings=settings)
    assert (first.version, first.alias) == ("1", "champion")
    assert (second.version, second.alias) == ("2", "challenger")
    assert first.metrics["test_roc_auc"] > 0.7

    client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)
    assert str(client.get_model_version_by_alias("churn", "champion").version) == "1"
    assert str(client.get_model_version_by_alias("churn", "challenger").version) == "2"
    tags = client.get_model_version("churn", "1").tags
    assert tags["mlops_guard.data_fingerprint"] == fingerprint(pd.read_parquet(train_file))
    assert tags["mlops_guard.rows"] == "6000"
    assert uuid.UUID(tags["mlops_guard.flow_run_id"])
    assert (
        tags["mlops_guard.flow_run_id"]
        != client.get_model_version("churn", "2").tags["mlops_guard.flow_run_id"]
    )
    assert tags["mlops_guard.code_version"] == head

    assert tags["mlops_guard.suite"] == "churn"
    run = client.get_run(first.run_id)
    assert run.data.metrics["test_roc_auc"] == pytest.approx(first.metrics["test_roc_auc"])
    # The validation result and the checkpoint monitor's summary join the MLflow run.
    artifacts = {a.path for a in client.list_artifacts(first.run_id, "validation")}
    artifacts |= {a.path for a in client.list_artifacts(first.run_id, "monitor")}
    assert {"validation/result.json", "monitor/summary.json"} <= artifacts
    validation = json.loads(
        Path(client.download_artifacts(first.run_id, "validation/result.json")).read_text()
    )
    assert validation["success"] is True
    assert validation["rows"] == 6_000
    monitor_steps = run.data.metrics["monitor_steps"]
    assert monitor_steps > 0
    assert run.data.params["model"] == "churn"
    # The demo's model is one trainer among others, run through the same guarded stages.
    assert run.data.params["trainer"] == "mlops_guard.demo._model:train_churn"
    # The MLflow artifacts live in the workdir, not in the current directory.
    assert run.info.artifact_uri.startswith((settings.workdir.resolve() / "mlartifacts").as_uri())

    events = read_runlog(settings.runlog_path)
    stages = [
        (r["stage"], r["event"])
        for r in events
        if r["event"].startswith("stage.") and r["flow_run_id"] == tags["mlops_guard.flow_run_id"]
    ]
    assert [s for s, e in stages if e == "stage.completed"] == [
        "load",
        "validate",
        "split",
        "fit",
        "log_model",
        "register",
    ]
    registered = [r for r in events if r["event"] == "model.registered"]
    assert [r["model_version"] for r in registered] == ["1", "2"]
    assert all(r["model"] == "churn" for r in registered)


def test_inference_scores_with_the_champion_and_tags_every_row(
    settings: GuardSettings, metrics: GuardMetrics, train_file: Path, batch_file: Path
) -> None:
    training_flow(str(train_file), settings=settings)
    result = inference_flow(str(batch_file), batch_id="b1", settings=settings)
    assert result.model_version == "1"
    assert result.rows_scored == 1_500
    scored = pd.read_parquet(result.predictions_path)
    assert Path(result.predictions_path) == scored_batch_path(settings, "churn", "1", "b1")
    assert (scored["model_version"] == "1").all()
    assert (scored["batch_id"] == "b1").all()
    assert scored["score"].between(0, 1).all()
    assert ((scored["score"] >= 0.5).astype(int) == scored["prediction"]).all()
    assert result.mean_score == pytest.approx(scored["score"].mean())

    families = {
        f.name: f
        for f in text_string_to_metric_families(
            settings.metrics_textfile("mlops-guard-inference").read_text()
        )
    }
    predictions = families["mlops_guard_predictions"]
    (total,) = [s for s in predictions.samples if s.name.endswith("_total")]
    # The flow's own file, labelled with the flow (node_exporter merges every file it reads).
    assert total.labels == {"flow": "mlops-guard-inference", "model": "churn", "model_version": "1"}
    assert total.value == 1_500
    scored_events = [
        r for r in read_runlog(settings.runlog_path) if r["event"] == "inference.scored"
    ]
    assert scored_events[-1]["model_version"] == "1"
    assert scored_events[-1]["rows_scored"] == 1_500


def test_inference_without_a_champion_is_a_clear_error(
    settings: GuardSettings, batch_file: Path
) -> None:
    with pytest.raises(ModelNotFound, match="no 'champion' version"):
        inference_flow(str(batch_file), settings=settings)


def test_training_data_without_the_label_is_a_schema_error(
    settings: GuardSettings, batch_file: Path
) -> None:
    with pytest.raises(SchemaError, match="churned"):
        training_flow(str(batch_file), settings=settings)


def _corrupted(tmp_path: Path, *, label: bool) -> Path:
    corruption = Corruption(unseen_category_rate=0.05, unseen_category_columns=("region",))
    df = make_dataset(SyntheticSpec(rows=2_000, seed=7, corruption=corruption))
    return write_table(df if label else df.drop(columns=[LABEL]), tmp_path / f"bad-{label}.parquet")


def test_training_stops_on_a_batch_its_contract_rejects(
    settings: GuardSettings, metrics: GuardMetrics, tmp_path: Path
) -> None:
    with pytest.raises(BatchRejected) as caught:
        training_flow(str(_corrupted(tmp_path, label=True)), settings=settings)
    kept = caught.value.quarantined
    assert kept is not None
    assert pd.read_parquet(kept / "data.parquet").shape[0] == 2_000  # kept whole
    client = MlflowClient(settings.mlflow_tracking_uri, settings.mlflow_tracking_uri)
    assert client.search_registered_models() == []  # nothing registered
    (rejected,) = client.search_runs([client.get_experiment_by_name("mlops-guard").experiment_id])
    assert rejected.info.status == "FAILED"
    assert rejected.data.tags["mlops_guard.outcome"] == "rejected"


def test_inference_quarantines_failing_rows_and_scores_the_rest(
    settings: GuardSettings, metrics: GuardMetrics, train_file: Path, tmp_path: Path
) -> None:
    training_flow(str(train_file), settings=settings)
    bad = _corrupted(tmp_path, label=False)
    result = inference_flow(str(bad), batch_id="bad", settings=settings)
    source = pd.read_parquet(bad)
    unseen = int(source["region"].eq("unseen-region").sum())
    assert unseen > 0
    assert result.rows_quarantined == unseen
    assert result.rows_scored == len(source) - unseen
    scored = pd.read_parquet(result.predictions_path)
    assert not scored["region"].eq("unseen-region").any()
    assert result.quarantine_path is not None
    kept = pd.read_parquet(Path(result.quarantine_path) / "data.parquet")
    # Nothing is lost: every row was either scored or quarantined with its reason.
    assert len(kept) + len(scored) == len(source)
    assert kept["region"].eq("unseen-region").all()
    assert metrics.sample(
        "mlops_guard_rows_quarantined_total", {"flow": "mlops-guard-inference", "suite": "churn"}
    ) == float(unseen)
