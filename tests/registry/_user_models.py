"""Models not written for mlops-guard: what a user's own training script does.

Each function is a plain training script: scikit-learn's bundled data sets, the user's own
estimator, logged with plain MLflow (fluent API, as most scripts are written). It returns
where the model went and the held-out rows, labelled, that it was not trained on.
Nothing here imports mlops_guard.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sklearn
from mlflow.models import infer_signature
from sklearn.model_selection import train_test_split

# Explicit requirements: inferring them costs about 10 s per log_model.
REQUIREMENTS = [f"scikit-learn=={sklearn.__version__}", f"mlflow=={mlflow.__version__}"]
SEED = 7


@dataclass(frozen=True)
class Logged:
    """Where a user script put its model, and its held-out labelled rows."""

    run_id: str | None
    model_uri: str  # runs:/<run>/model, or the local directory
    model_id: str | None  # models:/m-... id of MLflow 3's logged model
    holdout: pd.DataFrame
    label: str


def _experiment(tracking_uri: str, artifacts: Path, name: str) -> str:
    mlflow.set_tracking_uri(tracking_uri)
    found = mlflow.get_experiment_by_name(name)
    if found is not None:
        return str(found.experiment_id)
    return str(mlflow.create_experiment(name, artifact_location=artifacts.as_uri()))


def _split(frame: pd.DataFrame, label: str, stratify: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    train, test = train_test_split(
        frame, test_size=0.3, random_state=SEED, stratify=frame[label] if stratify else None
    )
    return train, test.reset_index(drop=True)


def breast_cancer_logistic(tracking_uri: str, artifacts: Path) -> Logged:
    """Binary: scaled logistic regression on the breast-cancer data, one id column kept out
    of the features (the signature lists the 30 measurements only)."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    frame = load_breast_cancer(as_frame=True).frame
    frame.insert(0, "patient_id", np.arange(100_000, 100_000 + len(frame)))
    train, test = _split(frame, "target", stratify=True)
    features = [c for c in frame.columns if c not in ("patient_id", "target")]
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    model.fit(train[features], train["target"])
    experiment = _experiment(tracking_uri, artifacts, "cancer-screening")
    with mlflow.start_run(experiment_id=experiment) as run:
        mlflow.log_metric("train_accuracy", float(model.score(train[features], train["target"])))
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(train[features], model.predict(train[features])),
            pip_requirements=REQUIREMENTS,
        )
    return Logged(run.info.run_id, f"runs:/{run.info.run_id}/model", info.model_id, test, "target")


def iris_forest_directory(directory: Path) -> Logged:
    """Multiclass with string labels: a random forest on iris, saved as a local MLflow model
    directory (no tracking server involved)."""
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier

    data = load_iris(as_frame=True)
    frame = data.frame.assign(species=data.target_names[data.target]).drop(columns="target")
    train, test = _split(frame, "species", stratify=True)
    features = list(data.feature_names)
    model = RandomForestClassifier(n_estimators=50, random_state=SEED)
    model.fit(train[features], train["species"])
    mlflow.sklearn.save_model(
        model,
        str(directory),
        signature=infer_signature(train[features], model.predict(train[features])),
        pip_requirements=REQUIREMENTS,
        # skops (MLflow's default format) trusts a forest's trees only when told to.
        skops_trusted_types=["sklearn.tree._tree.Tree"],
    )
    return Logged(None, str(directory), None, test, "species")


def diabetes_ridge(tracking_uri: str, artifacts: Path) -> Logged:
    """Regression: ridge on the diabetes data; the held-out rows carry a visit timestamp."""
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import Ridge

    frame = load_diabetes(as_frame=True).frame
    train, test = _split(frame, "target", stratify=False)
    features = [c for c in frame.columns if c != "target"]
    model = Ridge(alpha=0.5).fit(train[features], train["target"])
    test["visited_at"] = pd.date_range("2026-01-01", periods=len(test), freq="h", tz="UTC")
    experiment = _experiment(tracking_uri, artifacts, "diabetes-progression")
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(train[features], model.predict(train[features])),
            pip_requirements=REQUIREMENTS,
        )
    return Logged(run.info.run_id, f"runs:/{run.info.run_id}/model", info.model_id, test, "target")


class RadiusRule(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """A hand-written rule, no training: the larger and more concave the worst cell, the more
    likely malignant (class 0 in this data set). Returns P(class 0), P(class 1) per row.

    No type hints on predict, as in many user scripts (MLflow prints advice about them)."""

    def predict(self, context, model_input, params=None):
        radius = np.asarray(model_input["worst radius"], dtype=np.float64)
        concave = np.asarray(model_input["worst concave points"], dtype=np.float64)
        z = 0.9 * (radius - 16.8) + 40.0 * (concave - 0.14)
        malignant = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([malignant, 1.0 - malignant])


RULE_FEATURES = ["worst radius", "worst concave points"]


def radius_rule(tracking_uri: str, artifacts: Path) -> Logged:
    """A custom ``mlflow.pyfunc.PythonModel`` logged without a signature: the features must
    be given at registration."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    _, test = _split(frame, "target", stratify=True)
    experiment = _experiment(tracking_uri, artifacts, "cancer-rules")
    with mlflow.start_run(experiment_id=experiment) as run:
        info = mlflow.pyfunc.log_model(
            name="model", python_model=RadiusRule(), pip_requirements=REQUIREMENTS
        )
    return Logged(run.info.run_id, f"runs:/{run.info.run_id}/model", info.model_id, test, "target")
