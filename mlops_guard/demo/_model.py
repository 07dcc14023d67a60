"""The demo's churn model: logistic regression trained by SGD in mini-batches with checkpoints.

It is a trainer like any user's (``fit(train_frame, monitor=..., checkpoint_dir=...) -> model``):
``mlops-guard train DATA`` without ``--trainer`` runs it on the synthetic churn data, through the
same guarded flow as ``--trainer my_project.train:fit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.demo._data import CATEGORICAL_FEATURES, FEATURES, LABEL, NUMERICAL_FEATURES

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CHURN_TRAINER", "TrainingConfig", "build_model", "train_churn"]

#: The import path of :func:`train_churn`, the trainer ``mlops-guard train`` uses by default.
CHURN_TRAINER = "mlops_guard.demo:train_churn"


@dataclass(frozen=True)
class TrainingConfig:
    """Hyper-parameters of the demo model.

    Mini-batch training is what real training jobs look like (and what the checkpoint monitor
    watches); the defaults reach the same ROC AUC as a batch solver on the synthetic data.
    """

    epochs: int = 5
    batch_size: int = 512
    alpha: float = 1e-4
    checkpoint_every: int = 50
    seed: int = 0


def build_model(config: TrainingConfig | None = None) -> Any:
    """The scikit-learn pipeline: impute and scale numbers, one-hot categories (an unseen
    category scores as all-zero rather than failing), logistic regression by SGD."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import SGDClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    config = config or TrainingConfig()
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    pre = ColumnTransformer(
        [
            ("num", numeric, list(NUMERICAL_FEATURES)),
            ("cat", categorical, list(CATEGORICAL_FEATURES)),
        ]
    )
    clf = SGDClassifier(loss="log_loss", alpha=config.alpha, random_state=config.seed)
    return Pipeline([("pre", pre), ("clf", clf)])


def train_churn(
    train: pd.DataFrame,
    monitor: Any = None,
    checkpoint_dir: str | Path | None = None,
    config: TrainingConfig | None = None,
) -> Any:
    """Fit the preprocessing once, then the classifier by mini-batch SGD, reporting each step
    and checkpoint to ``monitor`` (the flow's checkpoint monitor) when given.

    Checkpoints are the classifier's coefficients as ``.npz`` (no pickle), the format a resumed
    job would read back.
    """
    import numpy as np

    config = config or TrainingConfig()
    model = build_model(config)
    pre, clf = model.named_steps["pre"], model.named_steps["clf"]
    x = pre.fit_transform(train[list(FEATURES)])
    y = train[LABEL].to_numpy()
    rng = np.random.default_rng(config.seed)
    classes = np.array([0, 1])
    directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
    steps = 0
    for _epoch in range(config.epochs):
        order = rng.permutation(len(y))
        for start in range(0, len(order), config.batch_size):
            rows = order[start : start + config.batch_size]
            clf.partial_fit(x[rows], y[rows], classes=classes)
            steps += 1
            if monitor is not None:
                monitor.step()
            if steps % config.checkpoint_every == 0:
                _checkpoint(monitor, clf, directory, steps)
    _checkpoint(monitor, clf, directory, steps)
    return model


def _checkpoint(monitor: Any, clf: Any, directory: Path | None, steps: int) -> None:
    if directory is None or monitor is None:
        return
    path = directory / f"step-{steps:06d}.npz"
    with monitor.checkpoint(steps) as save:
        _save_checkpoint(clf, path)
        save.nbytes = path.stat().st_size


def _save_checkpoint(clf: Any, path: Path) -> None:
    import numpy as np

    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, coef=clf.coef_, intercept=clf.intercept_)
    tmp.replace(path)
