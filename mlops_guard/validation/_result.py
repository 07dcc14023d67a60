"""Typed results of a validation run, and their JSON and Markdown forms."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = ["ExpectationOutcome", "ValidationResult", "jsonable_value"]


def jsonable_value(value: Any) -> Any:
    """A cell value as strict JSON: NaN becomes null, infinities strings, numpy scalars Python."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, TypeError):
            value = str(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


@dataclass(frozen=True)
class ExpectationOutcome:
    """The outcome of one expectation on one batch.

    ``unexpected_count`` counts the values that broke it (for a table-level expectation such as
    a column set, the number of missing plus extra columns; for an expectation about a missing
    column, every row). ``unexpected_rows`` are 0-based row positions of the first few.
    ``row_level`` says whether the unexpected rows alone carry the failure, so that removing
    them (policy ``quarantine_rows``) leaves a batch that passes.
    """

    expectation: str
    column: str | None
    success: bool
    unexpected_count: int
    unexpected_examples: list[Any] = field(default_factory=list)
    unexpected_rows: list[int] = field(default_factory=list)
    detail: str | None = None
    row_level: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)
    engine: str = "native"

    @property
    def label(self) -> str:
        return f"{self.expectation}({self.column})" if self.column else self.expectation

    def to_json(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "unexpected_count": self.unexpected_count,
            "unexpected_examples": [jsonable_value(v) for v in self.unexpected_examples],
            "unexpected_rows": list(self.unexpected_rows),
            "detail": self.detail,
            "kwargs": {k: _kwarg_json(v) for k, v in self.kwargs.items()},
        }


def _kwarg_json(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return [jsonable_value(v) for v in value]
    return jsonable_value(value)


@dataclass(frozen=True)
class ValidationResult:
    """The result of validating one batch against one suite.

    ``to_json()`` is the ``validate --json`` document of the design contract.
    """

    success: bool
    suite: str
    rows: int
    outcomes: tuple[ExpectationOutcome, ...]
    source: str | None = None
    quarantined: str | None = None
    duration_seconds: float = 0.0

    @property
    def failed(self) -> list[ExpectationOutcome]:
        """The expectations that failed, in suite order."""
        return [o for o in self.outcomes if not o.success]

    @property
    def evaluated(self) -> int:
        return len(self.outcomes)

    def with_quarantine(self, path: str | None) -> ValidationResult:
        return replace(self, quarantined=path)

    def to_json(self) -> dict[str, Any]:
        """``{"success", "suite", "rows", "failed": [...], "quarantined", ...}``."""
        return {
            "success": self.success,
            "suite": self.suite,
            "rows": self.rows,
            "expectations": self.evaluated,
            "failed": [o.to_json() for o in self.failed],
            "quarantined": self.quarantined,
            "source": self.source,
            "duration_seconds": round(self.duration_seconds, 6),
        }

    def summary(self) -> str:
        """One line for logs and the CLI."""
        verdict = "passed" if self.success else "FAILED"
        text = (
            f"suite {self.suite!r} {verdict} on {self.rows} rows: "
            f"{len(self.failed)} of {self.evaluated} expectations failed"
        )
        if self.quarantined:
            text += f"; batch quarantined in {self.quarantined}"
        return text

    def to_markdown(self) -> str:
        """A readable Markdown report (for a Prefect artifact or a pull request comment)."""
        lines = [f"### Validation: {self.summary()}", ""]
        if self.source:
            lines += [f"Source: `{self.source}`", ""]
        if not self.failed:
            lines.append(f"All {self.evaluated} expectations passed.")
            return "\n".join(lines) + "\n"
        lines += [
            "| expectation | column | unexpected | examples | detail |",
            "| --- | --- | ---: | --- | --- |",
        ]
        for o in self.failed:
            examples = ", ".join(_md(repr(jsonable_value(v))) for v in o.unexpected_examples)
            lines.append(
                f"| {_md(o.expectation)} | {_md(o.column or '')} | {o.unexpected_count} "
                f"| {examples} | {_md(o.detail or '')} |"
            )
        return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    # A pipe would end the table cell; a newline would end the row.
    return text.replace("|", "\\|").replace("\n", " ")
