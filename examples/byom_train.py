"""Your own training script: scikit-learn and plain MLflow, nothing of mlops-guard.

    python examples/byom_train.py TRACKING_URI OUT_DIR [--seed N] [--weak]

Trains a classifier on scikit-learn's breast-cancer data, logs it to MLflow at TRACKING_URI
and writes, to OUT_DIR, the labelled rows it was not trained on: ``reference.csv`` (for
``mlops-guard register --reference``) and ``batch.csv`` (a later labelled batch). Prints the
model's URI. ``--weak`` trains on two features only: a worse model for a canary to catch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import mlflow
import sklearn
from mlflow.models import infer_signature
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("tracking_uri")
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weak", action="store_true")
    args = parser.parse_args()

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [c.replace(" ", "_") for c in frame.columns]
    frame.insert(0, "sample_id", [f"s{i:04d}" for i in range(len(frame))])
    features = [c for c in frame.columns if c not in {"sample_id", "target"}]
    if args.weak:
        features = features[:2]
    train, rest = train_test_split(frame, test_size=0.5, random_state=0, stratify=frame.target)
    reference, batch = train_test_split(rest, test_size=0.5, random_state=0, stratify=rest.target)
    args.out.mkdir(parents=True, exist_ok=True)
    reference.to_csv(args.out / "reference.csv", index=False)
    batch.to_csv(args.out / "batch.csv", index=False)

    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=1000))])
    model.fit(
        train[features].sample(frac=0.9, random_state=args.seed),
        train.target.sample(frac=0.9, random_state=args.seed),
    )
    mlflow.set_tracking_uri(args.tracking_uri)
    mlflow.set_experiment("my-project")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(train[features], model.predict_proba(train[features])),
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
    print(f"runs:/{run.info.run_id}/model")


if __name__ == "__main__":
    main()
