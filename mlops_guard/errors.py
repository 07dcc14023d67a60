"""The one exception tree of mlops-guard.

Every error the library raises on purpose is a :class:`GuardError`. Callers branch on the
class, never on the message text. Foreign errors (pandas, MLflow, Prefect, the OS) are wrapped
where they are caught, with ``raise ... from exc`` so the cause stays inspectable.

::

    GuardError                      exit_code 2 unless noted; .hint says how to fix it
    ├── ConfigError                 a setting or option has a value that cannot work
    ├── UsageError                  the API or CLI was called in a way that cannot work
    ├── DataError                   input data cannot be used as given
    │   ├── DataNotFound            the path does not exist, or is a directory
    │   ├── UnreadableData          bytes that do not decode, truncated gzip, bad Parquet
    │   ├── EmptyData               no rows (or no columns)
    │   └── SchemaError             missing, extra, duplicate or mistyped columns
    ├── SuiteError                  an expectation suite cannot be found or parsed
    ├── ProfileError                a drift reference profile is unreadable or incompatible
    ├── ContractError               a model contract is missing, inconsistent, or does not fit
    │                               the data (labels outside the task's classes, ...)
    ├── ServiceUnavailable          a service (MLflow, Prefect) did not answer in time (exit 3)
    ├── RegistryError               the MLflow Model Registry refused or failed a request
    │   ├── RegistryUnavailable     MLflow could not be reached after retries (exit_code 3;
    │   │                           also a ServiceUnavailable)
    │   ├── ModelNotFound           no registered model of that name
    │   ├── VersionNotFound         no such version of the model
    │   ├── NothingToRollBack       no promotion left to undo
    │   └── AliasConflict           the alias moved under us (compare-and-set lost)
    ├── AlertError                  an alert payload or the alert store is unusable
    ├── MonitorError                a training monitor was misused or misconfigured, or its
    │                               summary file is unreadable
    └── CheckFailed                 a check ran and found a problem (exit_code 1)
        ├── ValidationFailed        a batch failed its expectation suite
        │   └── BatchRejected       the validation gate stopped a batch (kept in quarantine)
        ├── DriftDetected           data drift with ``fail_on_drift``
        └── CanaryFailed            the challenger lost to the champion

Exit codes follow the CLI contract: 0 healthy, 1 a check found a problem, 2 bad input or usage,
3 a dependency (MLflow, Prefect) was unavailable after retries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "AlertError",
    "AliasConflict",
    "BatchRejected",
    "CanaryFailed",
    "CheckFailed",
    "ConfigError",
    "ContractError",
    "DataError",
    "DataNotFound",
    "DriftDetected",
    "EmptyData",
    "GuardError",
    "ModelNotFound",
    "MonitorError",
    "NothingToRollBack",
    "ProfileError",
    "RegistryError",
    "RegistryUnavailable",
    "SchemaError",
    "ServiceUnavailable",
    "SuiteError",
    "UnreadableData",
    "UsageError",
    "ValidationFailed",
    "VersionNotFound",
]


class GuardError(Exception):
    """Base of every error mlops-guard raises on purpose.

    ``message`` names the bad value; ``hint`` says what to do about it. ``str(error)`` is one
    line joining both, which is what the CLI prints.

    >>> err = GuardError("column 'age' is missing", hint="add it or pick another suite")
    >>> str(err)
    "column 'age' is missing; add it or pick another suite"
    """

    exit_code: ClassVar[int] = 2

    def __init__(self, message: str, *, hint: str | None = None, **context: Any) -> None:
        self.message = message
        self.hint = hint
        self.context = context
        super().__init__(message)

    def __str__(self) -> str:
        text = self.message if not self.hint else f"{self.message}; {self.hint}"
        # One line, always: the CLI prints this verbatim on stderr.
        return " ".join(text.split())


class ConfigError(GuardError):
    """A setting or option has a value that cannot work."""


class UsageError(GuardError):
    """The API or CLI was called in a way that cannot work."""


class DataError(GuardError):
    """Input data cannot be used as given."""


class DataNotFound(DataError):
    """The data path does not exist or is not a regular file."""


class UnreadableData(DataError):
    """The file exists but its bytes cannot be parsed in the format its extension names."""


class EmptyData(DataError):
    """The data has no rows or no columns."""


class SchemaError(DataError):
    """Columns are missing, extra, duplicated, or of a type that cannot be used."""


class SuiteError(GuardError):
    """An expectation suite cannot be found or parsed."""


class ProfileError(GuardError):
    """A drift reference profile is unreadable, from another version, or of another schema."""


class ContractError(GuardError):
    """A model contract is missing, inconsistent, or does not fit the data."""


class ServiceUnavailable(GuardError):
    """A service mlops-guard depends on (MLflow, Prefect's API) did not answer within its
    timeout; the message names the service and its address."""

    exit_code: ClassVar[int] = 3


class RegistryError(GuardError):
    """The MLflow Model Registry refused or failed a request."""


class RegistryUnavailable(RegistryError, ServiceUnavailable):
    """MLflow could not be reached after retries; nothing was changed."""

    exit_code: ClassVar[int] = 3


class ModelNotFound(RegistryError):
    """No registered model of that name."""


class VersionNotFound(RegistryError):
    """The registered model has no such version."""


class NothingToRollBack(RegistryError):
    """There is no promotion left to undo."""


class AliasConflict(RegistryError):
    """The alias moved between the decision and the move (compare-and-set lost)."""


class AlertError(GuardError):
    """An alert payload or the alert store is unusable."""


class MonitorError(GuardError):
    """A training monitor was misused or misconfigured."""


class CheckFailed(GuardError):
    """A check ran to completion and found a problem."""

    exit_code: ClassVar[int] = 1


class ValidationFailed(CheckFailed):
    """A batch failed its expectation suite."""


class BatchRejected(ValidationFailed):
    """The validation gate stopped a batch (policy ``fail``); the batch is kept in quarantine.

    ``result`` is the :class:`~mlops_guard.validation.ValidationResult`; ``quarantined`` the
    quarantine entry holding the whole batch. Catch :class:`ValidationFailed` to handle any
    failed validation.
    """

    def __init__(
        self,
        message: str,
        *,
        result: Any,
        quarantined: Path | None,
        hint: str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, hint=hint, **context)
        self.result = result
        self.quarantined = quarantined


class DriftDetected(CheckFailed):
    """The data set drifted and the caller asked to fail on drift."""


class CanaryFailed(CheckFailed):
    """The challenger lost its canary judgement against the champion."""
