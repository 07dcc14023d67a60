"""The live canary judge on a real server: a challenger whose predictions differ from the
champion's (v3, trained on shuffled labels) is removed by the batch canary's rules, read from
the live per-version samples, through the registry's compare-and-set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_guard.demo import ID_COLUMN, make_dataset
from mlops_guard.registry import get_challenger, get_champion, history, set_challenger
from mlops_guard.serving import CANARY_SHARE_TAG
from tests.serving import _load as load
from tests.serving.conftest import FEATURES, MODEL, Served, start_served


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory, trained_store: Path) -> Iterator[Served]:
    found, running = start_served(
        tmp_path_factory.mktemp("judged"),
        trained_store,
        canary_min_requests=80,
        canary_judge_every=80,
        telemetry=False,
    )
    yield found
    running.stop()


def test_a_worse_challenger_is_removed_by_the_live_judge(judged: Served, tmp_path: Path) -> None:
    from mlops_guard.registry._client import RegistryClient

    settings = judged.settings
    set_challenger(MODEL, "3", reason="live canary", actor="test", settings=settings)
    RegistryClient(settings).set_model_tag(MODEL, CANARY_SHARE_TAG, "0.5")
    judged.server.watch.poll_once()
    frame = make_dataset(rows=400, seed=77)[[ID_COLUMN, *FEATURES]]
    bodies = [
        json.dumps(
            {"dataframe_split": json.loads(frame.iloc[[i]].to_json(orient="split", index=False))}
        )
        for i in range(400)
    ]
    process, out = load.start(judged.url, bodies, tmp_path, concurrency=4)
    results = load.finish(process, out)
    judged.server.settle()
    assert all(r["status"] == 200 for r in results)
    canary = judged.server.canary
    assert canary is not None
    assert canary.decided == "removed"
    assert canary.verdicts[-1].verdict == "fail"
    assert canary.verdicts[-1].metric("score").outcome == "fail"
    assert get_challenger(MODEL, settings) is None
    assert get_champion(MODEL, settings) == "1"
    last = history(MODEL, settings=settings)[-1]
    assert (last.action, last.actor, last.from_version) == (
        "remove_challenger",
        "mlops-guard:serve",
        "3",
    )
