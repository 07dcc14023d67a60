"""The canary rollout on real models in a real MLflow store: routing, promotion, repeats."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlops_guard.canary import CanarySettings, route_to_challenger, run_canary
from mlops_guard.data import SCORED_COLUMNS, read_table, scored_batch_path, scored_batches
from mlops_guard.errors import UsageError
from mlops_guard.metrics import GuardMetrics
from mlops_guard.registry import get_challenger, get_champion, history, promote, set_challenger
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings

Batches = Callable[..., list[Path]]


def _aliases(settings: GuardSettings, champion: str, challenger: str) -> None:
    promote("churn", champion, reason="baseline", actor="test", settings=settings)
    set_challenger("churn", challenger, reason="candidate", actor="test", settings=settings)


def _version_tags(settings: GuardSettings, version: str) -> dict[str, str]:
    from mlflow import MlflowClient

    uri = settings.mlflow_tracking_uri
    return dict(
        MlflowClient(tracking_uri=uri, registry_uri=uri).get_model_version("churn", version).tags
    )


def test_routing_is_deterministic_proportional_and_monotone() -> None:
    ids = [f"cust-{i}" for i in range(20_000)]
    ten = route_to_challenger(ids, 0.10, salt="churn:2")
    quarter = route_to_challenger(ids, 0.25, salt="churn:2")
    assert np.array_equal(ten, route_to_challenger(ids, 0.10, salt="churn:2"))
    assert abs(ten.mean() - 0.10) < 0.01
    assert abs(quarter.mean() - 0.25) < 0.015
    assert not np.any(ten & ~quarter)  # an entity routed at 10% stays routed at 25%
    other = route_to_challenger(ids, 0.10, salt="churn:3")
    assert 0 < (ten & other).sum() < ten.sum()  # another canary samples another cohort
    with pytest.raises(UsageError):
        route_to_challenger(ids, 1.5, salt="x")


def test_a_worse_challenger_fails_and_the_champion_stays(
    store: GuardSettings, batches: Batches, metrics: GuardMetrics
) -> None:
    _aliases(store, "1", "3")
    report = run_canary([str(p) for p in batches(3)], settings=store)
    assert report.decision == "failed"
    assert report.steps[-1].verdict.verdict == "fail"
    correct = report.steps[-1].verdict.metric("correct")
    assert correct.outcome == "fail"
    assert correct.canary_center is not None
    assert correct.baseline_center is not None
    assert correct.canary_center < correct.baseline_center
    assert get_champion("churn", store) == "1"
    assert get_challenger("churn", store) is None
    last = history("churn", settings=store)[-1]
    assert (last.action, last.from_version, last.actor) == (
        "remove_challenger",
        "3",
        "prefect:canary_flow",
    )
    tags = _version_tags(store, "3")
    assert json.loads(tags["mlops_guard.canary.decision"])["decision"] == "failed"
    assert json.loads(tags["mlops_guard.canary.step_1"])["verdict"] == "fail"
    events = read_runlog(store.runlog_path)
    judged = [e for e in events if e["event"] == "canary.step_judged"]
    assert judged
    assert judged[0]["model_version"] == "3"
    assert any(e["event"] == "canary.decided" and e["decision"] == "failed" for e in events)
    assert (
        metrics.sample("mlops_guard_canary_judgements_total", {"model": "churn", "verdict": "fail"})
        == 1
    )
    for version in ("1", "3"):
        labels = {"model": "churn", "model_version": version}
        assert (metrics.sample("mlops_guard_predictions_total", labels) or 0) > 0
        assert metrics.sample("mlops_guard_model_error_rate", labels) == 0.0
    # Scored rows of both versions were written as canary splits of their version, in the
    # inference pipeline's format, where no reader of that version's batches picks them up.
    assert {Path(p).parent for p in report.predictions} == {
        scored_batch_path(store, "churn", version, "x", "canary").parent for version in ("1", "3")
    }
    assert sorted(report.predictions) == sorted(
        str(p) for v in ("1", "3") for p in scored_batches(store, "churn", v, "canary")
    )
    assert scored_batches(store, "churn", "1") == scored_batches(store, "churn", "3") == []
    split = read_table(report.predictions[0])
    assert set(SCORED_COLUMNS) <= set(split.columns)
    assert split["batch_id"].str.startswith("canary-").all()


def test_the_canary_judgements_reach_the_metrics_sink(
    store: GuardSettings,
    batches: Batches,
    metrics: GuardMetrics,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlops_guard.metrics import MetricsSink
    from tests.drift._helpers import textfile_samples

    flushed: list[str | None] = []
    real_flush = MetricsSink.flush

    def recording_flush(self: MetricsSink, *, flow: str | None = None) -> bool:
        # The real sink writes the real textfile; this only notes which flow flushed.
        flushed.append(flow)
        return real_flush(self, flow=flow)

    monkeypatch.setattr(MetricsSink, "flush", recording_flush)
    _aliases(store, "1", "3")
    assert textfile_samples(store.workdir, "mlops_guard_canary_judgements_total") == []

    report = run_canary([str(p) for p in batches(1)], settings=store)

    assert report.decision == "failed"
    assert "canary" in flushed
    written = textfile_samples(store.workdir, "mlops_guard_canary_judgements_total")
    fails = [
        (labels, value)
        for labels, value in written
        if labels.get("model") == "churn" and labels.get("verdict") == "fail"
    ]
    assert [value for _labels, value in fails] == [1.0]
    # A sink that labels series with their flow (as a Pushgateway group does) says canary.
    assert {labels.get("flow", "canary") for labels, _value in fails} == {"canary"}


@pytest.mark.slow  # scores 3 x 3,000 rows in small timed calls with both models: ~10 s here
def test_an_equal_challenger_passes_every_step_and_is_promoted(
    store: GuardSettings, batches: Batches
) -> None:
    _aliases(store, "1", "2")
    report = run_canary([str(p) for p in batches(5, rows=3000)], settings=store)
    assert report.decision == "promoted", [
        (s.step, s.attempt, s.verdict.verdict, s.verdict.reasons) for s in report.steps
    ]
    assert [s.share for s in report.steps if s.verdict.verdict == "pass"] == [0.10, 0.25, 0.50]
    assert get_champion("churn", store) == "2"
    assert get_challenger("churn", store) is None
    assert report.event is not None
    assert (report.event.action, report.event.from_version, report.event.to_version) == (
        "promote",
        "1",
        "2",
    )


def test_an_inconclusive_step_is_repeated_with_more_data(
    store: GuardSettings, batches: Batches
) -> None:
    _aliases(store, "1", "3")
    # 10% of 1,000 rows is about 100 challenger rows: short of 150 samples on the first try.
    config = CanarySettings(min_samples=150, steps=[0.1], max_inconclusive_repeats=2)
    report = run_canary(
        [str(p) for p in batches(3, rows=1000)], settings=store, canary_settings=config
    )
    assert [(s.attempt, s.verdict.verdict) for s in report.steps] == [
        (1, "inconclusive"),
        (2, "fail"),
    ]
    assert report.steps[1].rows_challenger > report.steps[0].rows_challenger  # accumulated
    assert report.decision == "failed"


def test_inconclusive_after_the_repeat_limit_moves_nothing(
    store: GuardSettings, batches: Batches
) -> None:
    _aliases(store, "1", "3")
    config = CanarySettings(min_samples=10_000, steps=[0.1, 0.5], max_inconclusive_repeats=1)
    report = run_canary(
        [str(p) for p in batches(2, rows=500)], settings=store, canary_settings=config
    )
    assert report.decision == "inconclusive"
    assert [s.attempt for s in report.steps] == [1, 2]
    assert report.event is None
    assert (get_champion("churn", store), get_challenger("churn", store)) == ("1", "3")


def test_a_canary_needs_a_challenger(store: GuardSettings, batches: Batches) -> None:
    promote("churn", "1", reason="baseline", actor="test", settings=store)
    with pytest.raises(UsageError, match="no challenger"):
        run_canary([str(p) for p in batches(1, rows=100)], settings=store)


@pytest.mark.slow  # shares the session's Prefect server (tens of seconds on a cold start)
def test_canary_flow_publishes_a_table_artifact(
    prefect_server: str, store: GuardSettings, batches: Batches
) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from mlops_guard.integrations.prefect import canary_flow

    _aliases(store, "1", "3")
    result = canary_flow(model="churn", data=[str(p) for p in batches(2)])
    assert result["decision"] == "failed"
    with get_client(sync_client=True) as client:
        found = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["canary-churn"]))
        )
    assert found
    assert found[0].type == "table"
    rows = json.loads(found[0].data) if isinstance(found[0].data, str) else found[0].data
    assert {"metric", "outcome", "champion", "challenger", "p_value"} <= set(rows[0])
