"""Four models not written for mlops-guard, each through the whole guarded life: register,
score (the inference flow on a real Prefect server), quality, a canary of an equal version
(promoted), a manual promotion and a rollback. Real MLflow SQLite store; the models come from
plain user scripts (tests/registry/_user_models.py: scikit-learn's bundled data sets and plain
MLflow, one a hand-written ``mlflow.pyfunc.PythonModel``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_guard import registry
from mlops_guard.canary import run_canary
from mlops_guard.contract import load_contract
from mlops_guard.pipelines import inference_flow
from mlops_guard.quality import check_quality
from mlops_guard.registry import register_model
from mlops_guard.settings import GuardSettings
from tests.registry import _user_models as user

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_server")]

# The bundled data sets hold a few hundred rows; the canary's first step sends 10% of a third
# of the data to the challenger and needs 50 rows a side, so its data is the holdout repeated
# to this many rows at least.
CANARY_ROWS = 1_800


def _logged(kind: str, settings: GuardSettings, tmp_path: Path) -> user.Logged:
    uri, artifacts = settings.mlflow_tracking_uri, tmp_path / "user-artifacts"
    scripts: dict[str, Callable[[], user.Logged]] = {
        "binary": lambda: user.breast_cancer_logistic(uri, artifacts),
        "multiclass": lambda: user.iris_forest_directory(tmp_path / "iris-model"),
        "regression": lambda: user.diabetes_ridge(uri, artifacts),
        "pyfunc": lambda: user.radius_rule(uri, artifacts),
    }
    return scripts[kind]()


# Every case has an id column (the user's, or a row id added to the data): the canary routes
# by its hash, where routing by row order would hand each side a contiguous block.
CASES: dict[str, dict[str, Any]] = {
    "binary": {"task": "binary", "id_column": "patient_id"},
    "multiclass": {"task": "multiclass", "id_column": "row_id"},
    "regression": {"task": "regression", "id_column": "row_id"},
    "pyfunc": {"task": "binary", "features": user.RULE_FEATURES, "id_column": "row_id"},
}


def _repeated(holdout: pd.DataFrame, id_column: str | None) -> pd.DataFrame:
    """The holdout repeated to CANARY_ROWS rows, each copy with ids of its own: routing hashes
    the id, and the copies of one id would all land on one side."""
    copies = []
    for k in range(-(-CANARY_ROWS // len(holdout))):
        copy = holdout.copy()
        if id_column is not None:
            copy[id_column] = copy[id_column].astype(str) + f"-{k}"
        copies.append(copy)
    return pd.concat(copies, ignore_index=True)


@pytest.mark.parametrize("kind", sorted(CASES))
def test_a_users_model_lives_through_register_score_quality_canary_promote_rollback(
    kind: str, settings: GuardSettings, tmp_path: Path
) -> None:
    logged = _logged(kind, settings, tmp_path)
    if CASES[kind]["id_column"] not in logged.holdout.columns:
        logged.holdout.insert(0, "row_id", [f"r{i}" for i in range(len(logged.holdout))])
    name = f"user-{kind}"
    reference = tmp_path / "reference.csv"
    logged.holdout.to_csv(reference, index=False)
    options = {"name": name, "label": logged.label, "settings": settings, **CASES[kind]}

    first = register_model(logged.model_uri, reference=str(reference), **options)
    assert first.alias == "champion"
    contract = load_contract(name, first.version, settings)  # read back from the registry
    assert contract.label == logged.label
    assert contract.task == CASES[kind]["task"]

    scored = inference_flow(str(reference), model=name, batch_id="holdout", settings=settings)
    assert scored.model_version == first.version
    assert scored.rows_scored + scored.rows_quarantined == len(logged.holdout)
    assert scored.rows_failed == 0
    predictions = pd.read_parquet(scored.predictions_path)
    assert set(contract.prediction_columns) <= set(predictions.columns)

    quality = check_quality(name, reference, settings=settings)
    assert quality.version == first.version
    assert quality.degraded is False  # the reference itself cannot be worse than itself

    # The same model registered again: an equal challenger, promoted by its canary.
    second = register_model(logged.model_uri, reference=str(reference), **options)
    assert second.alias == "challenger"
    canary_data = _repeated(logged.holdout, contract.id_column)
    report = run_canary(canary_data, model=name, settings=settings)
    steps = [(s["verdict"], s["reasons"]) for s in report.to_json()["steps"]]
    assert report.decision == "promoted", steps
    assert registry.get_champion(name, settings=settings) == second.version

    event = registry.rollback(name, reason="drill", actor="tests", settings=settings)
    assert (event.from_version, event.to_version) == (second.version, first.version)
    assert registry.get_champion(name, settings=settings) == first.version
    registry.promote(name, second.version, reason="by hand", actor="tests", settings=settings)
    assert registry.get_champion(name, settings=settings) == second.version
