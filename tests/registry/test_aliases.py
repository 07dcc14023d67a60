"""Promote, rollback (stack, --to, idempotency), history, and the errors, on a real SQLite store."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mlops_guard.errors import (
    AliasConflict,
    ModelNotFound,
    NothingToRollBack,
    RegistryUnavailable,
    UsageError,
    VersionNotFound,
)
from mlops_guard.metrics import GuardMetrics
from mlops_guard.registry import (
    get_challenger,
    get_champion,
    history,
    promote,
    promotion_stack,
    remove_challenger,
    rollback,
    set_challenger,
)
from mlops_guard.registry._history import HISTORY_TAG_PREFIX
from mlops_guard.runlog import read_runlog
from mlops_guard.settings import GuardSettings

MakeModel = Callable[..., list[str]]


def test_the_issue_example_promotions_form_a_stack(
    settings: GuardSettings, make_model: MakeModel, metrics: GuardMetrics
) -> None:
    make_model(versions=3)
    promote("churn", "1", reason="first", actor="t", settings=settings)
    promote("churn", "2", reason="second", actor="t", settings=settings)
    back = rollback("churn", reason="bad 2", actor="t", settings=settings)
    assert (back.from_version, back.to_version) == ("2", "1")
    promote("churn", "3", reason="third", actor="t", settings=settings)
    back = rollback("churn", reason="bad 3", actor="t", settings=settings)
    # 3 goes back to 1, never to 2: the rollback of 2 is not itself rolled back to.
    assert (back.from_version, back.to_version) == ("3", "1")
    with pytest.raises(NothingToRollBack):
        rollback("churn", reason="again", actor="t", settings=settings)
    assert get_champion("churn", settings) == "1"

    events = history("churn", settings=settings)
    assert [(e.action, e.from_version, e.to_version) for e in events] == [
        ("promote", None, "1"),
        ("promote", "1", "2"),
        ("rollback", "2", "1"),
        ("promote", "1", "3"),
        ("rollback", "3", "1"),
    ]
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(e.at.endswith("Z") and e.actor == "t" for e in events)
    assert [e.to_version for e in promotion_stack(events)] == ["1"]

    labels = {"model": "churn", "alias": "champion"}
    assert metrics.sample("mlops_guard_alias_moves_total", {**labels, "action": "promote"}) == 3
    assert metrics.sample("mlops_guard_alias_moves_total", {**labels, "action": "rollback"}) == 2
    assert metrics.sample("mlops_guard_champion_version", {"model": "churn"}) == 1
    logged = [r["event"] for r in read_runlog(settings.runlog_path)]
    assert logged.count("registry.promoted") == 3
    assert logged.count("registry.rolled_back") == 2


def test_history_lives_in_mlflow_tags_and_survives_a_new_client(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    from mlflow import MlflowClient

    make_model(versions=2)
    promote("churn", "1", reason="r" * 5000, actor="ci", settings=settings)
    uri = settings.mlflow_tracking_uri
    tags = MlflowClient(tracking_uri=uri, registry_uri=uri).get_registered_model("churn").tags
    keys = sorted(k for k in tags if k.startswith(HISTORY_TAG_PREFIX))
    assert keys == [f"{HISTORY_TAG_PREFIX}000001"]
    (event,) = history("churn", settings=GuardSettings(workdir=settings.workdir))
    assert event.to_version == "1"
    assert len(event.reason) == 2000  # cut, far below MLflow's tag value limit


def test_rollback_to_a_version_pops_the_promotions_above_it(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    make_model(versions=4)
    for version in ("1", "2", "3", "4"):
        promote("churn", version, reason="ship", actor="t", settings=settings)
    event = rollback("churn", reason="pin", actor="t", to_version="2", settings=settings)
    assert (event.from_version, event.to_version) == ("4", "2")
    assert get_champion("churn", settings) == "2"
    # The stack is now [1, 2]: the next plain rollback goes to 1.
    assert rollback("churn", reason="again", actor="t", settings=settings).to_version == "1"
    with pytest.raises(UsageError):
        rollback("churn", reason="same", actor="t", to_version="1", settings=settings)
    with pytest.raises(VersionNotFound):
        rollback("churn", reason="x", actor="t", to_version="9", settings=settings)
    assert get_champion("churn", settings) == "1"


def test_rollback_is_idempotent_per_alert_fingerprint(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    make_model(versions=3)
    for version in ("1", "2", "3"):
        promote("churn", version, reason="ship", actor="t", settings=settings)
    first = rollback(
        "churn", reason="alert", actor="am", alert_fingerprint="fp-1", settings=settings
    )
    again = rollback(
        "churn", reason="alert", actor="am", alert_fingerprint="fp-1", settings=settings
    )
    assert again == first
    assert get_champion("churn", settings) == "2"
    assert sum(e.action == "rollback" for e in history("churn", settings=settings)) == 1
    logged = [r["event"] for r in read_runlog(settings.runlog_path)]
    assert "registry.rollback_duplicate" in logged
    # Another alert is another rollback.
    other = rollback(
        "churn", reason="alert", actor="am", alert_fingerprint="fp-2", settings=settings
    )
    assert (other.from_version, other.to_version) == ("2", "1")


def test_compare_and_set_refuses_a_decision_made_on_a_stale_champion(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    make_model(versions=3)
    for version in ("1", "2", "3"):
        promote("churn", version, reason="ship", actor="t", settings=settings)
    rollback("churn", reason="first responder", actor="a", settings=settings)
    with pytest.raises(AliasConflict, match="already rolled back"):
        rollback("churn", reason="late", actor="b", expected_champion="3", settings=settings)
    assert get_champion("churn", settings) == "2"
    with pytest.raises(AliasConflict):
        promote("churn", "1", reason="stale", actor="c", expected_champion="3", settings=settings)
    assert get_champion("churn", settings) == "2"


def test_unknown_model_and_version(settings: GuardSettings, make_model: MakeModel) -> None:
    make_model(versions=1)
    with pytest.raises(ModelNotFound):
        rollback("nope", reason="x", actor="t", settings=settings)
    with pytest.raises(ModelNotFound):
        history("nope", settings=settings)
    with pytest.raises(VersionNotFound):
        promote("churn", "7", reason="x", actor="t", settings=settings)
    with pytest.raises(VersionNotFound):
        promote("churn", "abc", reason="x", actor="t", settings=settings)
    with pytest.raises(NothingToRollBack):
        rollback("churn", reason="no champion yet", actor="t", settings=settings)
    assert history("churn", settings=settings) == []


def test_challenger_set_promoted_and_removed(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    make_model(versions=3)
    promote("churn", "1", reason="first", actor="t", settings=settings)
    with pytest.raises(UsageError):
        set_challenger("churn", "1", reason="champion", actor="t", settings=settings)
    set_challenger("churn", "2", reason="new", actor="t", settings=settings)
    assert get_challenger("churn", settings) == "2"
    promote("churn", "2", reason="canary passed", actor="t", settings=settings)
    # Promoting the challenger clears the challenger alias, recorded.
    assert get_challenger("churn", settings) is None
    set_challenger("churn", "3", reason="newer", actor="t", settings=settings)
    removed = remove_challenger("churn", reason="canary failed", actor="t", settings=settings)
    assert removed is not None
    assert removed.from_version == "3"
    assert removed.to_version is None
    assert remove_challenger("churn", reason="none left", actor="t", settings=settings) is None
    actions = [(e.alias, e.action) for e in history("churn", settings=settings)]
    assert actions == [
        ("champion", "promote"),
        ("challenger", "set_challenger"),
        ("champion", "promote"),
        ("challenger", "remove_challenger"),
        ("challenger", "set_challenger"),
        ("challenger", "remove_challenger"),
    ]
    # Challenger moves never enter the promotion stack.
    assert rollback("churn", reason="bad 2", actor="t", settings=settings).to_version == "1"


def test_promoting_the_champion_again_moves_nothing(
    settings: GuardSettings, make_model: MakeModel
) -> None:
    make_model(versions=1)
    first = promote("churn", "1", reason="first", actor="training", settings=settings)
    again = promote("churn", "1", reason="first", actor="training", settings=settings)
    assert again == first
    assert len(history("churn", settings=settings)) == 1


def test_a_move_whose_record_fails_is_undone(
    settings: GuardSettings, make_model: MakeModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fake: MLflow failing exactly between the alias move and its record cannot be produced
    # on demand with a real store, so the tag write is made to fail.
    from mlops_guard.registry._client import RegistryClient

    make_model(versions=2)
    promote("churn", "1", reason="first", actor="t", settings=settings)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RegistryUnavailable("tag write failed")

    monkeypatch.setattr(RegistryClient, "set_model_tag", broken)
    with pytest.raises(RegistryUnavailable, match="moved back"):
        promote("churn", "2", reason="second", actor="t", settings=settings)
    monkeypatch.undo()
    assert get_champion("churn", settings) == "1"
    assert len(history("churn", settings=settings)) == 1


def test_an_alias_move_is_a_span(settings: GuardSettings, make_model: MakeModel) -> None:
    """Each move of an alias writes a CLIENT span (the MLflow call) with the model, alias and
    version, for ``trace check`` to place among the pipeline's spans."""
    import json

    make_model(versions=2)
    promote("churn", "2", reason="r", actor="t", settings=settings)
    spans = [
        span
        for path in sorted((settings.workdir / "traces").glob("*.jsonl"))
        for line in path.read_text().splitlines()
        for resource in json.loads(line)["resourceSpans"]
        for scope in resource["scopeSpans"]
        for span in scope["spans"]
    ]
    (move,) = [s for s in spans if s["name"] == "registry.alias_move"]
    attributes = {a["key"]: a["value"]["stringValue"] for a in move["attributes"]}
    assert attributes["mlops_guard.model"] == "churn"
    assert attributes["mlops_guard.alias"] == "champion"
    assert attributes["mlops_guard.model_version"] == "2"
    assert move["kind"] == 3
