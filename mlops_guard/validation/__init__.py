"""Data validation: Great Expectations suites, inferred suites, and a quarantine that loses nothing.

Suites are Great Expectations 1.x JSON files, found by path or by name (``expectations/``, then
the suites packaged with mlops-guard). The common expectation types are evaluated in vectorised
pandas with GX's semantics; any other type runs through GX itself.

>>> from mlops_guard.demo import make_dataset
>>> from mlops_guard.validation import load_suite, validate
>>> result = validate(make_dataset(rows=1000, seed=4), load_suite("churn"))
>>> result.success, result.rows
(True, 1000)

In a pipeline, :func:`gate` validates, quarantines, records metrics and the run log, and
returns the rows that may go on (or raises :class:`BatchRejected` under policy ``fail``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlops_guard._lazy import lazy_exports
from mlops_guard.errors import BatchRejected

if TYPE_CHECKING:
    from mlops_guard.validation._engine import NATIVE_TYPES
    from mlops_guard.validation._gate import GateResult, gate
    from mlops_guard.validation._infer import infer_suite
    from mlops_guard.validation._quarantine import (
        REASON_COLUMN,
        quarantine_batch,
        quarantine_rows,
        quarantine_unscored,
        read_manifest,
        split_rows,
    )
    from mlops_guard.validation._result import ExpectationOutcome, ValidationResult
    from mlops_guard.validation._settings import ValidationSettings
    from mlops_guard.validation._suite import (
        ExpectationSpec,
        Suite,
        load_suite,
        packaged_suites_dir,
        write_suite,
    )
    from mlops_guard.validation._validate import validate

__all__ = [
    # Suites
    "ExpectationSpec",
    "Suite",
    "infer_suite",
    "load_suite",
    "packaged_suites_dir",
    "write_suite",
    # Validation
    "NATIVE_TYPES",
    "ExpectationOutcome",
    "ValidationResult",
    "ValidationSettings",
    "validate",
    # Quarantine and the pipeline gate
    "REASON_COLUMN",
    "BatchRejected",
    "GateResult",
    "gate",
    "quarantine_batch",
    "quarantine_rows",
    "quarantine_unscored",
    "read_manifest",
    "split_rows",
]

# Every name loads its module on first use: `mlops-guard --help` imports this package.
__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "NATIVE_TYPES": "_engine",
        "GateResult": "_gate",
        "gate": "_gate",
        "infer_suite": "_infer",
        "REASON_COLUMN": "_quarantine",
        "quarantine_batch": "_quarantine",
        "quarantine_rows": "_quarantine",
        "quarantine_unscored": "_quarantine",
        "read_manifest": "_quarantine",
        "split_rows": "_quarantine",
        "ExpectationOutcome": "_result",
        "ValidationResult": "_result",
        "ValidationSettings": "_settings",
        "ExpectationSpec": "_suite",
        "Suite": "_suite",
        "load_suite": "_suite",
        "packaged_suites_dir": "_suite",
        "write_suite": "_suite",
        "validate": "_validate",
    },
)
