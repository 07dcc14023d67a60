"""MLflow plumbing shared by the pipelines: tracking URI, experiment, model loading, lineage."""

from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import ModelNotFound

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from mlops_guard.settings import GuardSettings

__all__ = [
    "LINEAGE_PREFIX",
    "code_version",
    "configure_mlflow",
    "ensure_experiment",
    "load_model_version",
    "resolve_alias",
]

LINEAGE_PREFIX = "mlops_guard."


def configure_mlflow(settings: GuardSettings) -> MlflowClient:
    """Point MLflow at the settings' tracking URI (registry too) and return a client."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.tracking import MlflowClient

    from mlops_guard._mlflow_uri import point_fluent_mlflow

    uri = settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///"):
        settings.workdir.mkdir(parents=True, exist_ok=True)
    point_fluent_mlflow(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def ensure_experiment(settings: GuardSettings) -> str:
    """The experiment's id, creating it with artifacts under the workdir (not the cwd).

    Through the registry client's bounded retries: a store that does not answer is a
    :class:`RegistryUnavailable` (exit 3) in seconds, not after MLflow's minutes of retries.
    """
    import mlflow

    from mlops_guard.registry._client import RegistryClient

    configure_mlflow(settings)
    client = RegistryClient(settings)
    name = settings.experiment_name
    experiment = client.call(
        f"read experiment {name!r}", lambda: client.mlflow.get_experiment_by_name(name)
    )
    if experiment is not None:
        experiment_id = str(experiment.experiment_id)
    else:
        artifacts = (settings.workdir.resolve() / "mlartifacts").as_uri()
        experiment_id = str(
            client.call(
                f"create experiment {name!r}",
                lambda: client.mlflow.create_experiment(name, artifact_location=artifacts),
            )
        )
    mlflow.set_experiment(experiment_id=experiment_id)
    return experiment_id


def resolve_alias(settings: GuardSettings, model: str, alias: str) -> str:
    """The version number an alias points at.

    :class:`ModelNotFound` only when the registry answered that there is none;
    :class:`RegistryUnavailable` (exit 3) when it did not answer, so an outage is never
    reported as a missing model.
    """
    from mlflow.exceptions import MlflowException

    from mlops_guard.registry._client import RegistryClient

    configure_mlflow(settings)
    client = RegistryClient(settings)
    try:
        version = client.call(
            f"resolve {model}@{alias}",
            lambda: client.mlflow.get_model_version_by_alias(model, alias),
        )
    except MlflowException as exc:  # a refusal: the registry answered
        raise ModelNotFound(
            f"model {model!r} has no {alias!r} version in {settings.mlflow_tracking_uri!r}",
            hint="train and register a version first (mlops-guard train DATA), "
            "or check MLOPS_GUARD_MODEL_NAME",
        ) from exc
    return str(version.version)


@functools.lru_cache(maxsize=8)
def _load(uri: str, model: str, version: str) -> Any:
    import mlflow.sklearn

    return mlflow.sklearn.load_model(f"models:/{model}/{version}")


def load_model_version(settings: GuardSettings, model: str, version: str) -> Any:
    """Load a registered scikit-learn model version (cached per process: versions are immutable).

    MLflow stores scikit-learn models in the skops format by default, which loads without
    unpickling arbitrary objects.
    """
    configure_mlflow(settings)
    return _load(settings.mlflow_tracking_uri, model, version)


def code_version(start: Path | None = None) -> str | None:
    """The git commit of the code, with ``-dirty`` when uncommitted changes exist; None outside
    a git checkout. Looks at the working directory first, then at the installed package."""
    candidates = [start or Path.cwd(), Path(__file__).resolve().parent]
    for where in candidates:
        try:
            sha = subprocess.run(
                ["git", "rev-parse", "HEAD"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=where,
                capture_output=True,
                text=True,
                timeout=5,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
        if sha:
            return f"{sha}-dirty" if dirty else sha
    return None
