"""The demo's story on the team backends: MLflow's tracking and registry store on PostgreSQL and
a Prefect server (``prefect server start``) on PostgreSQL, all real, on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest

pytestmark = [pytest.mark.servers, pytest.mark.slow]


def _rows(postgres: Any, database: str, query: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(postgres.url(database)) as connection:
        return list(connection.execute(query).fetchall())


def test_demo_story_on_postgres_mlflow_and_prefect(postgres: Any, team_demo: Any) -> None:
    summary, workdir, database = team_demo.summary, team_demo.workdir, team_demo.database
    statuses = {s["name"]: s["status"] for s in summary["stages"]}
    assert {name for name, status in statuses.items() if status == "problem-found"} == {
        "score corrupted batch",
        "drift check: drifted batch",
        "canary: v2 against champion v1",
    }
    assert set(statuses.values()) == {"ok", "problem-found"}
    assert summary["artifacts"]["mlflow_store"].startswith("postgresql+psycopg://")
    moves = [
        (e["from_version"], e["to_version"], e["actor"])
        for e in summary["alias_history"]
        if e["alias"] == "champion"
    ]
    assert moves == [
        (None, "1", "training"),
        ("1", "3", "demo-operator"),
        ("3", "1", "alertmanager"),
    ]
    # No SQLite store was made on the side: the registry is the PostgreSQL database.
    assert not (workdir / "mlflow.db").exists()
    assert _rows(postgres, database, "SELECT name, version FROM model_versions ORDER BY 2") == [
        ("churn", 1),
        ("churn", 2),
        ("churn", 3),
    ]
    aliases = _rows(postgres, database, "SELECT alias, version FROM registered_model_aliases")
    assert aliases == [("champion", 1)]
    # Every move went through the advisory lock (the tracking store is PostgreSQL).
    lock_events = [
        json.loads(line)
        for line in (workdir / "logs" / "runlog.jsonl").read_text().splitlines()
        if '"registry.' in line
    ]
    assert lock_events
    assert not (workdir / "locks").exists()

    # The flow runs are in the Prefect server's PostgreSQL database, all completed.
    runs = _rows(
        postgres,
        "prefect",
        "SELECT f.name, r.state_type FROM flow_run r JOIN flow f ON f.id = r.flow_id",
    )
    names = {name for name, _ in runs}
    assert {"mlops-guard-demo", "mlops-guard-training", "mlops-guard-inference"} <= names, names
    demo_states = [state for name, state in runs if name == "mlops-guard-demo"]
    assert demo_states == ["COMPLETED"]
