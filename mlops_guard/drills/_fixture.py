"""The pipeline a drill runs against: a working directory with a trained champion.

Built once per drill (the expensive part: two trainings into a fresh MLflow store), then
copied for every run, so each run starts from the same healthy state and one run's faults
never leak into the next. v1 is the champion, trained on the synthetic churn data; v2 is a
registered challenger trained on a month whose labels followed another relationship, so on
today's data it is the worse model (the ``bad-model`` release).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["BATCH_ROWS", "COVARIATE_DRIFT", "Fixture", "build_fixture"]

TRAIN_ROWS = 20_000
BATCH_ROWS = 5_000
# Covariate drift of a drifted batch: numerical shifts in reference standard deviations,
# categorical shares moved to the rarest category. Eight of thirteen features move (data set
# drift by Evidently's rule of at least half the columns) and every value stays inside the
# suite's ranges, so only the drift check can catch it.
COVARIATE_DRIFT = {
    "monthly_charges": 0.8,
    "support_calls": 0.7,
    "data_usage_gb": 0.6,
    "age": 0.5,
    "logins_30d": 0.6,
    "avg_session_minutes": 0.6,
    "contract": 0.3,
    "region": 0.3,
}
# How far the labels of a concept-drifted month move toward the reversed relationship.
CONCEPT_DRIFT = 0.8


@dataclass(frozen=True)
class Fixture:
    """The healthy starting point every run copies."""

    workdir: Path
    champion: str
    challenger: str
    seconds: float

    def copy_to(self, target: Path) -> Path:
        """A copy of the working directory (its MLflow store included) at ``target``."""
        shutil.copytree(self.workdir, target, symlinks=True)
        return target


def build_fixture(workdir: Path, seed: int = 0) -> Fixture:
    """Train v1 (champion) and v2 (challenger, the worse model) in ``workdir``."""
    from mlops_guard.data import write_table
    from mlops_guard.demo import SyntheticSpec, make_dataset
    from mlops_guard.pipelines import run_training
    from mlops_guard.settings import use_settings

    began = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    settings = settings_for(workdir)
    data = workdir / "data"
    good = write_table(
        make_dataset(SyntheticSpec(rows=TRAIN_ROWS, seed=seed * 1000 + 11)),
        data / "train-v1.parquet",
    )
    worse = write_table(
        make_dataset(
            SyntheticSpec(rows=TRAIN_ROWS, seed=seed * 1000 + 12, concept_drift=CONCEPT_DRIFT)
        ),
        data / "train-v2.parquet",
    )
    with use_settings(settings):
        v1 = run_training(str(good), settings=settings)
        v2 = run_training(str(worse), settings=settings)
    return Fixture(workdir, v1.version, v2.version, time.monotonic() - began)


def settings_for(workdir: Path, *, pushgateway_url: str | None = None) -> GuardSettings:
    """A run's settings: its own SQLite store and metrics textfiles, whatever the environment
    says (a drill must never train, promote or roll back in a team's registry, nor push its
    faults' metrics to a real Pushgateway: ``pushgateway_url`` is only ever the run's own,
    started by :class:`mlops_guard.drills._chain.AlertChain`)."""
    from mlops_guard.settings import GuardSettings

    store = f"sqlite:///{(workdir.resolve() / 'mlflow.db').as_posix()}"
    return GuardSettings(workdir=workdir, tracking_uri=store, pushgateway_url=pushgateway_url)
