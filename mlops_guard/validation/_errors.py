"""Errors of the validation concern (subclasses of the central tree; see errors.py)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_guard.errors import ValidationFailed

if TYPE_CHECKING:
    from mlops_guard.validation._result import ValidationResult

__all__ = ["BatchRejected"]


class BatchRejected(ValidationFailed):
    """The validation gate stopped a batch (policy ``fail``); it is kept in quarantine.

    ``result`` is the :class:`~mlops_guard.validation.ValidationResult`; ``quarantined`` the
    quarantine entry holding the whole batch. Catch :class:`ValidationFailed` to handle any
    failed validation.
    """

    def __init__(
        self,
        message: str,
        *,
        result: ValidationResult,
        quarantined: Path | None,
        hint: str | None = None,
        **context: Any,
    ) -> None:
        super().__init__(message, hint=hint, **context)
        self.result = result
        self.quarantined = quarantined
