"""The scheduled drift check against a real MLflow registry (SQLite) and a real Prefect server.

The champion is registered with MLflow directly (a run holding the profile artifact and the
reference quality, a model version, the ``champion`` alias), as the training flow does; the
scored batches are real files where the inference pipeline writes them
(:func:`~mlops_guard.data.scored_batch_path`), scored by a real scikit-learn model.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_guard.contract import save_contract
from mlops_guard.data import add_scores, scored_batch_path, write_table
from mlops_guard.demo import FEATURES, LABEL, NUMERICAL_FEATURES, churn_contract, make_dataset
from mlops_guard.drift import (
    DRIFT_EVENT,
    PROFILE_ARTIFACT_PATH,
    build_profile,
    concept_drift,
    load_champion_profile,
    load_champion_reference,
    run_drift_check,
)
from mlops_guard.errors import DataNotFound, ModelNotFound, ProfileError
from mlops_guard.metrics import GuardMetrics
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings
from tests._prefect import read_events, wait_for
from tests.drift._helpers import textfile_samples

_DRIFT = dict.fromkeys(NUMERICAL_FEATURES[:8], 0.8)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    # One SQLite store for the module: MLflow's schema migrations take seconds per new store.
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def model() -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train = make_dataset(rows=4000, seed=100)
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    return pipeline.fit(train[list(NUMERICAL_FEATURES)], train[LABEL])


def _score(model: Any, frame: pd.DataFrame, version: str, batch: str) -> pd.DataFrame:
    scores = model.predict_proba(frame[list(NUMERICAL_FEATURES)])[:, 1]
    return add_scores(frame, scores, version=version, batch_id=batch, threshold=0.5)


def register_champion(
    settings: GuardSettings,
    name: str,
    model: Any,
    *,
    with_profile: bool = True,
    quality: dict[str, float] | None = None,
    local_artifacts: bool = True,
) -> tuple[str, str]:
    """A training run with the profile artifact, a version, the champion alias.

    ``quality``: the run's test-set metrics; default the ROC AUC of the profiled rows alone.
    ``local_artifacts=False`` leaves artifacts to the tracking server.
    """
    import mlflow
    from mlflow.tracking import MlflowClient
    from sklearn.metrics import roc_auc_score

    uri = settings.mlflow_tracking_uri
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = f"exp-{name}"
    artifacts = (settings.workdir / "mlartifacts").resolve().as_uri() if local_artifacts else None
    experiment_id = client.create_experiment(experiment, artifact_location=artifacts)
    reference = _score(model, make_dataset(rows=5000, seed=101), "1", "train")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_metrics(
            quality or {"test_roc_auc": roc_auc_score(reference[LABEL], reference["score"])}
        )
        if with_profile:
            path = build_profile(reference).save(settings.workdir / "tmp" / "profile.json")
            mlflow.log_artifact(str(path), artifact_path=str(Path(PROFILE_ARTIFACT_PATH).parent))
    client.create_registered_model(name)
    version = client.create_model_version(
        name, source=f"runs:/{run.info.run_id}/model", run_id=run.info.run_id
    )
    client.set_registered_model_alias(name, "champion", version.version)
    # The contract names the label the concept-drift check reads.
    save_contract(
        churn_contract(),
        model=name,
        version=str(version.version),
        run_id=run.info.run_id,
        settings=settings,
    )
    return str(version.version), run.info.run_id


def write_batches(
    settings: GuardSettings,
    name: str,
    model: Any,
    specs: list[dict[str, Any]],
    *,
    version: str = "1",
    kind: str = "batch",
    seed: int = 200,
    first: int = 0,
    path: Any = None,
) -> list[Path]:
    """Scored batches ``b<first>``, ``b<first + 1>``... by ``version``, newer with each index;
    written where the pipelines write them, or at ``path(batch_id)``."""
    paths = []
    for i, spec in enumerate(specs, start=first):
        batch = f"b{i}"
        frame = _score(model, make_dataset(rows=1500, seed=seed + i, **spec), version, batch)
        target = (
            scored_batch_path(settings, name, version, batch, kind) if path is None else path(batch)
        )
        written = write_table(frame, target)
        # Distinct modification times, oldest first, whatever the file system's resolution.
        os.utime(written, ns=(1_700_000_000_000_000_000 + i * 10**9,) * 2)
        paths.append(written)
    return paths


@pytest.fixture
def check_settings(workdir: Path, tracking_uri: str) -> GuardSettings:
    return GuardSettings(workdir=workdir, tracking_uri=tracking_uri)


@pytest.mark.slow
def test_drifted_batches_are_detected_logged_counted_and_announced(
    prefect_server: str, check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    version, _run = register_champion(check_settings, name, model)
    write_batches(check_settings, name, model, [{}, {}, {"drift": _DRIFT}, {"drift": _DRIFT}])

    result = run_drift_check(settings=check_settings, model=name, batches=2)

    assert result.dataset_drift
    assert result.model_version == version
    assert [Path(p).name for p in result.batches] == ["b2.parquet", "b3.parquet"]
    assert result.rows == 3000
    assert "age" in result.report.columns
    assert {"score", "prediction"} == set(result.report.outputs)
    assert not {"score", "prediction"} & set(result.report.columns)
    assert result.report.columns["age"].drifted
    assert result.event_emitted

    events = [e for e in read_runlog(check_settings.runlog_path) if e["event"] == "drift.checked"]
    assert len(events) == 1
    assert events[0]["dataset_drift"] is True
    assert events[0]["model"] == name
    assert events[0]["model_version"] == version
    assert "age" in events[0]["drifted_columns"]

    assert metrics.sample("mlops_guard_dataset_drift", {"model": name}) == 1.0
    assert metrics.sample("mlops_guard_drift_share", {"model": name}) == pytest.approx(
        result.report.drift_share
    )
    age = result.report.columns["age"]
    assert metrics.sample(
        "mlops_guard_drift_column_statistic", {"model": name, "column": "age", "test": age.test}
    ) == pytest.approx(age.statistic)
    flushed = textfile_samples(check_settings.workdir, "mlops_guard_dataset_drift")
    assert [value for labels, value in flushed if labels.get("model") == name] == [1.0]

    sent = wait_for(
        lambda: [
            e for e in read_events(DRIFT_EVENT) if e.resource.id == f"mlops_guard.model.{name}"
        ]
    )
    assert sent[0].payload["model_version"] == version
    assert "age" in sent[0].payload["drifted_columns"]


def test_clean_batches_pass_and_labels_give_a_concept_check(
    check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    register_champion(check_settings, name, model)
    write_batches(check_settings, name, model, [{}, {}])
    result = run_drift_check(settings=check_settings, model=name, batches=2)
    assert not result.dataset_drift
    assert not result.event_emitted
    assert metrics.sample("mlops_guard_dataset_drift", {"model": name}) == 0.0
    assert result.concept is not None
    assert not result.concept.significant

    # A month whose labels follow another relationship: the same inputs, a worse model.
    write_batches(check_settings, name, model, [{"concept_drift": 1.0}] * 3)
    drifted = run_drift_check(settings=check_settings, model=name, batches=3)
    assert drifted.concept is not None
    assert drifted.concept.significant
    assert metrics.sample("mlops_guard_concept_drift", {"model": name}) == 1.0


def test_a_failing_event_sink_is_counted_not_raised(
    check_settings: GuardSettings,
    metrics: GuardMetrics,
    model: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import prefect.events

    def broken(*args: Any, **kwargs: Any) -> None:
        # Fake: a Prefect API that fails mid-call cannot be produced on demand here.
        raise ConnectionError("Prefect API unreachable")

    monkeypatch.setattr(prefect.events, "emit_event", broken)
    name = f"churn-{uuid.uuid4().hex[:6]}"
    register_champion(check_settings, name, model)
    write_batches(check_settings, name, model, [{"drift": _DRIFT}])
    result = run_drift_check(settings=check_settings, model=name, batches=1)
    assert result.dataset_drift
    assert not result.event_emitted
    assert metrics.sample("mlops_guard_sink_failures_total", {"sink": "prefect_events"}) == 1.0


def test_missing_champion_batches_or_profile_are_clear_errors(
    check_settings: GuardSettings, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    with pytest.raises(ModelNotFound):
        load_champion_profile(name, check_settings)
    register_champion(check_settings, name, model, with_profile=False)
    with pytest.raises(ProfileError, match="no drift profile"):
        load_champion_profile(name, check_settings)
    # The champion decides which batches count, so its profile is read first.
    with pytest.raises(ProfileError, match="no drift profile"):
        run_drift_check(settings=check_settings, model=name)


def test_only_the_champions_own_batches_are_judged(
    check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    version, _run = register_champion(check_settings, name, model)
    assert version == "1"
    with pytest.raises(DataNotFound, match=f"no scored batches of model '{name}' version 1"):
        run_drift_check(settings=check_settings, model=name)
    # Clean batches scored by the champion: one in a workdir's old flat layout, one new.
    flat = write_batches(
        check_settings,
        name,
        model,
        [{}],
        path=lambda b: check_settings.predictions_dir / f"{name}-v1-{b}.parquet",
    )
    own = write_batches(check_settings, name, model, [{}], first=1)
    # Newer, drifted rows that are not the champion's batches: the challenger's, and canary
    # splits of both versions (new layout and flat), which share the old naming.
    write_batches(check_settings, name, model, [{"drift": _DRIFT}] * 2, version="2", first=2)
    write_batches(check_settings, name, model, [{"drift": _DRIFT}], kind="canary", first=4)
    write_batches(
        check_settings,
        name,
        model,
        [{"drift": _DRIFT}],
        first=5,
        path=lambda b: check_settings.predictions_dir / f"{name}-v1-canary-abc-s1a{b}.parquet",
    )

    result = run_drift_check(settings=check_settings, model=name, batches=5)

    assert result.batches == [str(p) for p in (*flat, *own)]
    assert result.rows == 3000
    assert not result.dataset_drift
    assert result.notes == [
        "the champion run logs neither test_roc_auc_se nor test_rows: its quality is taken as "
        "exact, which overstates significance"
    ]
    events = [e for e in read_runlog(check_settings.runlog_path) if e["event"] == "drift.checked"]
    assert events[-1]["batches"] == [f"{name}-v1-b0.parquet", f"{name}/v1/batch/b1.parquet"]


def test_rows_another_version_scored_are_dropped_with_a_note(
    check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    register_champion(check_settings, name, model)
    # Copied into the champion's place by hand: half the rows are the challenger's, drifted.
    clean = _score(model, make_dataset(rows=1500, seed=300), "1", "mixed")
    drifted = _score(model, make_dataset(rows=1500, seed=301, drift=_DRIFT), "2", "mixed")
    path = scored_batch_path(check_settings, name, "1", "mixed")
    write_table(pd.concat([clean, drifted], ignore_index=True), path)
    result = run_drift_check(settings=check_settings, model=name, batches=1)
    assert result.rows == 1500
    assert not result.dataset_drift
    assert "dropped 1500 rows scored by version(s) 2, not by the champion version 1" in result.notes

    write_table(drifted, path)
    with pytest.raises(DataNotFound, match="no row scored by version 1"):
        run_drift_check(settings=check_settings, model=name, batches=1)


def test_the_champion_runs_quality_error_is_read_and_a_sampling_wobble_is_no_alarm(
    check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    """A test-set AUC of 0.811 on 4,000 rows against 13,500 labelled rows from the same
    generator (AUC 0.800): the old rule, taking the reference as exact, raised concept drift."""
    test_set = _score(model, make_dataset(rows=4000, seed=351), "1", "test")
    measured = concept_drift(test_set[LABEL], test_set["score"], reference_quality=0.5)
    name = f"churn-{uuid.uuid4().hex[:6]}"
    register_champion(
        check_settings,
        name,
        model,
        quality={
            "test_roc_auc": measured.current_quality,
            "test_roc_auc_se": measured.current_se,
            "test_rows": 4000.0,
        },
    )
    reference = load_champion_reference(name, check_settings)
    assert reference.reference_quality == pytest.approx(measured.current_quality)
    assert reference.reference_quality_se == pytest.approx(measured.current_se)
    assert reference.reference_rows == 4000
    # The profiled training rows' share of churners (the test set's is not logged).
    profiled = make_dataset(rows=5000, seed=101)[LABEL].mean()
    assert reference.reference_positive_share == pytest.approx(profiled)
    write_batches(check_settings, name, model, [{}] * 9, seed=254)

    result = run_drift_check(settings=check_settings, model=name, batches=9)

    assert result.concept is not None
    assert result.rows == 13_500
    assert result.concept.reference_method == "given"
    assert result.concept.current_quality < result.concept.reference_quality - 0.01
    assert not result.concept.significant
    assert metrics.sample("mlops_guard_concept_drift", {"model": name}) == 0.0
    document = result.to_json()["concept"]
    assert document["reference_se"] == pytest.approx(measured.current_se)
    assert (
        document["reference_ci_low"] < document["reference_quality"] < document["reference_ci_high"]
    )
    # The old rule on the same figures: the reference as exact, no minimum effect.
    labelled = pd.concat([pd.read_parquet(p) for p in result.batches], ignore_index=True)
    old = concept_drift(
        labelled[LABEL],
        labelled["score"],
        reference_quality=measured.current_quality,
        min_drop=0.0,
    )
    assert old.significant


def test_the_reference_row_count_alone_gives_an_approximate_error(
    check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    register_champion(
        check_settings, name, model, quality={"test_roc_auc": 0.81, "test_rows": 4000.0}
    )
    write_batches(check_settings, name, model, [{}] * 2)
    result = run_drift_check(settings=check_settings, model=name, batches=2)
    assert result.concept is not None
    assert result.concept.reference_method == "hanley_mcneil"
    assert 0.005 < result.concept.reference_se < 0.012
    assert result.notes == []


@pytest.mark.slow
def test_drift_check_flow_writes_and_attaches_the_html_report(
    prefect_server: str, check_settings: GuardSettings, metrics: GuardMetrics, model: Any
) -> None:
    from mlflow.tracking import MlflowClient

    from mlops_guard.integrations.prefect import drift_check_flow

    name = f"churn-{uuid.uuid4().hex[:6]}"
    _version, run_id = register_champion(check_settings, name, model)
    write_batches(check_settings, name, model, [{"drift": _DRIFT}])
    result = drift_check_flow(model=name, batches=1, settings=check_settings)
    assert result.dataset_drift
    assert result.html is not None
    assert Path(result.html).is_file()
    assert Path(result.html).parent == check_settings.artifacts_dir / "drift"
    client = MlflowClient(tracking_uri=check_settings.mlflow_tracking_uri)
    attached = [a.path for a in client.list_artifacts(run_id, "drift")]
    assert attached == [f"drift/{Path(result.html).name}"]
    assert np.isfinite(result.report.drift_share)
    assert set(FEATURES) - {"contract", "payment_method", "region"} <= set(result.report.columns)
    assert result.to_json()["prediction_drift"]["columns"].keys() == {"score", "prediction"}

    # A SQLite store has no web UI: the summary names the file as plain text, and no link
    # artifact points a browser at a path it cannot open.
    summary = _artifacts(f"drift-summary-{name}")
    assert len(summary) == 1
    assert f"`{result.html}`" in summary[0].data
    assert f"drift/{Path(result.html).name}" in summary[0].data
    assert "file://" not in summary[0].data
    assert "| score |" in summary[0].data  # prediction drift, in its own table
    assert _artifacts(f"drift-report-{name}") == []


def _artifacts(key: str) -> list[Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        return list(
            client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[key])))
        )


@pytest.mark.slow  # starts a real MLflow server (about 10 s)
def test_with_an_mlflow_server_the_report_link_opens_the_report_in_its_ui(
    prefect_server: str,
    workdir: Path,
    mlflow_template: Path,
    metrics: GuardMetrics,
    model: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import shutil
    import sys

    import httpx
    from mlflow.tracking import MlflowClient

    from mlops_guard.integrations.prefect import drift_check_flow
    from tests.alerts._helpers import free_port
    from tests.alerts._servers import run_server

    home = tmp_path / "mlflow-server"
    home.mkdir()
    shutil.copyfile(mlflow_template, home / "mlflow.db")
    port = free_port()
    args = [
        "server",
        "--backend-store-uri",
        f"sqlite:///{home / 'mlflow.db'}",
        "--artifacts-destination",
        str(home / "artifacts"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    mlflow_cli = str(Path(sys.executable).with_name("mlflow"))
    # register_champion sets MLflow's process-wide URI: later tests must not meet a dead server.
    monkeypatch.setattr("mlflow.tracking._tracking_service.utils._tracking_uri", None)
    # An MLflow server imports for tens of seconds on a loaded 2-core machine.
    with run_server(
        mlflow_cli, args, port, home, ready_path="/health", startup_timeout=240
    ) as server:
        settings = GuardSettings(workdir=workdir, tracking_uri=server.url)
        name = f"churn-{uuid.uuid4().hex[:6]}"
        _version, run_id = register_champion(settings, name, model, local_artifacts=False)
        write_batches(settings, name, model, [{"drift": _DRIFT}])

        result = drift_check_flow(model=name, batches=1, settings=settings)

        assert result.html is not None
        experiment = MlflowClient(tracking_uri=server.url).get_run(run_id).info.experiment_id
        artifact = f"drift/{Path(result.html).name}"
        expected = f"{server.url}/#/experiments/{experiment}/runs/{run_id}/artifactPath/{artifact}"
        links = _artifacts(f"drift-report-{name}")
        assert [a.type for a in links] == ["markdown"]
        assert f"]({expected})" in links[0].data
        summary = _artifacts(f"drift-summary-{name}")[0].data
        assert f"]({expected})" in summary
        assert "file://" not in links[0].data + summary
        # What the link shows: the UI page (routed in the browser) and the report it loads.
        assert httpx.get(server.url + "/", timeout=10).status_code == 200
        served = httpx.get(
            f"{server.url}/get-artifact",
            params={"path": artifact, "run_uuid": run_id},
            timeout=10,
        )
        assert served.status_code == 200
        assert served.text == Path(result.html).read_text()
