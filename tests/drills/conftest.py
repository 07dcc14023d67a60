"""One trained fixture (a real MLflow store with v1 champion and v2 challenger) per session:
training is the expensive part, and every run copies it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_guard.drills import Fixture, RunRecord, build_fixture, run_scenario, scenario


@pytest.fixture(scope="session")
def drill_fixture(tmp_path_factory: pytest.TempPathFactory, mlflow_template: Path) -> Fixture:
    import shutil

    workdir = tmp_path_factory.mktemp("drill-fixture") / "fixture"
    workdir.mkdir()
    # The session's migrated empty store: the schema is created once for the whole suite.
    shutil.copyfile(mlflow_template, workdir / "mlflow.db")
    return build_fixture(workdir, seed=3)


@pytest.fixture
def drill(drill_fixture: Fixture, tmp_path: Path) -> Iterator[object]:
    """``drill(name, guard=True)``: one run of a built-in scenario against the fixture."""
    made = []

    def run(name: str, *, guard: bool = True, run: int = 1) -> RunRecord:
        instance = scenario(name)
        made.append(instance)
        instance.setup(drill_fixture, tmp_path / "services" / name)
        return run_scenario(
            instance,
            run=run,
            seed=5,
            guard=guard,
            fixture=drill_fixture,
            workdir=tmp_path / f"{name}-{'guard' if guard else 'baseline'}-{run}",
        )

    yield run
    for instance in made:
        instance.close()
