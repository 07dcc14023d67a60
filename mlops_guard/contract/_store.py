"""The contract kept with the model version in MLflow, and read back from the registry.

A contract lives as the model version's tag :data:`CONTRACT_TAG` (compact JSON; what the
MLflow UI shows on the version's page) and, for contracts longer than a tag may be, as the run
artifact :data:`CONTRACT_ARTIFACT` named by the tag. Every stage reads it through
:func:`load_contract`, so none of them guesses column names.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_guard.contract._model import ModelContract
from mlops_guard.errors import ContractError

if TYPE_CHECKING:
    from mlops_guard.registry._client import RegistryClient
    from mlops_guard.settings import GuardSettings

__all__ = ["CONTRACT_ARTIFACT", "CONTRACT_TAG", "load_contract", "save_contract"]

CONTRACT_TAG = "mlops_guard.contract"
CONTRACT_ARTIFACT = "contract/contract.json"
# MLflow refuses model-version tag values above 5,000 characters.
_TAG_LIMIT = 5_000


def _client(settings: GuardSettings) -> RegistryClient:
    from mlops_guard.registry._client import RegistryClient

    return RegistryClient(settings)


def save_contract(
    contract: ModelContract,
    *,
    model: str,
    version: str,
    run_id: str | None,
    settings: GuardSettings,
) -> None:
    """Store ``contract`` with version ``version`` of ``model`` (tag, and artifact if long)."""
    text = json.dumps(contract.to_json(), separators=(",", ":"), sort_keys=True)
    client = _client(settings)
    if len(text) > _TAG_LIMIT:
        if run_id is None:
            raise ContractError(
                f"the contract of {model!r} v{version} is {len(text)} characters, more than a "
                "tag holds, and the version has no run to keep it in",
                hint="register the model from a run (runs:/<run>/model)",
            )
        with tempfile.TemporaryDirectory(prefix="mlops-guard-contract-") as tmp:
            path = Path(tmp) / Path(CONTRACT_ARTIFACT).name
            path.write_text(text, encoding="utf-8")
            client.call(
                "log the contract",
                lambda: client.mlflow.log_artifact(
                    run_id, str(path), artifact_path=str(Path(CONTRACT_ARTIFACT).parent)
                ),
            )
        text = json.dumps({"artifact": CONTRACT_ARTIFACT})
    client.set_version_tag(model, version, CONTRACT_TAG, text)


def load_contract(model: str, version: str, settings: GuardSettings) -> ModelContract:
    """The contract of version ``version`` of ``model``; :class:`ContractError` when it has
    none (a version registered by hand in MLflow) or it is unreadable."""
    client = _client(settings)
    found = client.model_version(model, str(version))
    raw = dict(found.tags or {}).get(CONTRACT_TAG)
    where = f"the contract of {model!r} v{version}"
    if raw is None:
        raise ContractError(
            f"version {version} of {model!r} has no model contract (tag {CONTRACT_TAG!r})",
            hint=f"register it with: mlops-guard register models:/{model}/{version} "
            f"--name {model} --label COL --task TASK",
        )
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ContractError(f"{where} is not JSON", hint="register the version again") from exc
    if isinstance(data, dict) and set(data) == {"artifact"}:
        run_id = found.run_id
        if not run_id:
            raise ContractError(f"{where} names an artifact but the version has no run")
        with tempfile.TemporaryDirectory(prefix="mlops-guard-contract-") as tmp:
            local = client.call(
                "read the contract",
                lambda: client.mlflow.download_artifacts(run_id, str(data["artifact"]), tmp),
            )
            data = json.loads(Path(local).read_text(encoding="utf-8"))
    return ModelContract.from_json(data, source=where)
