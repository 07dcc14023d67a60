"""``MLOPS_GUARD_SERVING_WAIT_FOR_CHAMPION``: a server started before its model has a champion
(as scripts/stack and docker/compose.yaml start it) answers 503 and serves the first champion
the registry shows; without it the start fails (tests/serving/test_cli.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx

from mlops_guard.demo import SyntheticSpec, make_dataset
from mlops_guard.metrics import GuardMetrics
from mlops_guard.registry import promote
from mlops_guard.serving import ServingSettings, create_server, start_in_thread
from mlops_guard.settings import GuardSettings
from tests.alerts._helpers import wait_for
from tests.serving.conftest import FEATURES, MODEL


def test_a_server_waiting_for_a_champion_answers_503_then_serves_the_first_one(
    tmp_path: Path, trained_store: Path
) -> None:
    shutil.copyfile(trained_store, tmp_path / "mlflow.db")
    settings = GuardSettings(workdir=tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    config = ServingSettings(port=0, poll_seconds=0.1, wait_for_champion=True)
    server = create_server(MODEL, settings=settings, config=config, metrics=GuardMetrics())
    running = start_in_thread(server)
    try:
        rows = make_dataset(SyntheticSpec(rows=3, seed=9))[list(FEATURES)]
        body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
        assert httpx.get(f"{running.url}/ping").status_code == 503
        assert httpx.get(f"{running.url}/version").json()["champion"] is None
        refused = httpx.post(f"{running.url}/invocations", json=body, timeout=30)
        assert (refused.status_code, refused.json()["kind"]) == (503, "not_ready")

        promote(MODEL, "1", reason="first champion", actor="test", settings=settings)
        wait_for(lambda: httpx.get(f"{running.url}/ping").status_code == 200, 30, "a champion")
        answer = httpx.post(f"{running.url}/invocations", json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.headers["X-Model-Version"] == "1"
        assert server.watch.started
        # One watch thread: the lifespan did not start a second one next to start_in_thread's.
        assert [s.to_version for s in server.watch.switches if s.alias == "champion"] == ["1"]
    finally:
        running.stop()
