"""The reference quality kept with a model version in MLflow, and read back from the registry.

``mlops-guard register --reference DATA`` measures the version on labelled reference data
(:func:`~mlops_guard.quality.measure`) and stores the report as the version's tag
:data:`REFERENCE_QUALITY_TAG` (compact JSON, what the MLflow UI shows on the version's page);
``mlops-guard quality`` reads it back to judge a labelled batch against it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from mlops_guard.errors import ContractError
from mlops_guard.quality._metrics import QualityReport

if TYPE_CHECKING:
    from mlops_guard.settings import GuardSettings

__all__ = ["REFERENCE_QUALITY_TAG", "load_reference_quality", "save_reference_quality"]

REFERENCE_QUALITY_TAG = "mlops_guard.reference_quality"
# MLflow refuses model-version tag values above 5,000 characters.
_TAG_LIMIT = 5_000


def _text(report: QualityReport) -> str:
    return json.dumps(report.to_json(), separators=(",", ":"), sort_keys=True, allow_nan=False)


def save_reference_quality(
    report: QualityReport, *, model: str, version: str, settings: GuardSettings
) -> None:
    """Store ``report`` as the reference quality of version ``version`` of ``model``."""
    from mlops_guard.registry._client import RegistryClient

    text = _text(report)
    if len(text) > _TAG_LIMIT:
        # A report holds a handful of metrics (~500 characters); this would be a bug upstream.
        raise ContractError(
            f"the reference quality of {model!r} v{version} is {len(text)} characters, more "
            f"than the {_TAG_LIMIT} an MLflow tag holds",
            hint="measure fewer metrics",
        )
    RegistryClient(settings).set_version_tag(model, str(version), REFERENCE_QUALITY_TAG, text)


def load_reference_quality(model: str, version: str, settings: GuardSettings) -> QualityReport:
    """The reference quality of version ``version`` of ``model``; :class:`ContractError` when
    it has none or it is unreadable (also :class:`ModelNotFound`, :class:`VersionNotFound`)."""
    from mlops_guard.registry._client import RegistryClient

    found = RegistryClient(settings).model_version(model, str(version))
    raw = dict(found.tags or {}).get(REFERENCE_QUALITY_TAG)
    if raw is None:
        raise ContractError(
            f"version {version} of {model!r} has no reference quality "
            f"(tag {REFERENCE_QUALITY_TAG!r})",
            hint=f"register it with: mlops-guard register models:/{model}/{version} "
            f"--name {model} --label COL --task TASK --reference DATA",
        )
    where = f"the reference quality of {model!r} v{version}"
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ContractError(
            f"{where} is not JSON", hint="register the version again with --reference DATA"
        ) from exc
    return QualityReport.from_json(data, source=where)
