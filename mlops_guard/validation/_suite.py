"""Expectation suites: Great Expectations 1.x JSON, loaded by name or path without importing GX."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_guard.errors import SuiteError, UsageError

__all__ = [
    "ExpectationSpec",
    "Suite",
    "load_suite",
    "packaged_suites_dir",
    "suite_search_path",
    "write_suite",
]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
# Keys of a GX 1.x expectation entry besides type/kwargs/meta; kept so a suite round-trips.
_PASSTHROUGH_KEYS = ("id", "severity", "notes", "description", "rendered_content")


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation as stored in the suite: GX type name, its kwargs, its meta."""

    type: str
    kwargs: Mapping[str, Any]
    meta: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        """The column the expectation is about, if it is about one."""
        column = self.kwargs.get("column")
        return column if isinstance(column, str) else None

    @property
    def label(self) -> str:
        """A short readable name: ``expect_column_values_to_not_be_null(age)``."""
        return f"{self.type}({self.column})" if self.column else self.type

    def to_json_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "kwargs": dict(self.kwargs)}
        out["meta"] = dict(self.meta)
        out.update(self.extra)
        return out


@dataclass(frozen=True)
class Suite:
    """A Great Expectations 1.x expectation suite, as plain data.

    It reads and writes the JSON that GX's ``ExpectationSuite.to_json_dict()`` produces, so a
    suite edited by hand, written by ``mlops-guard expectations init`` or exported from GX is the
    same file. :meth:`to_gx` builds the real GX object.

    >>> suite = Suite("demo", (ExpectationSpec("expect_column_to_exist", {"column": "age"}),))
    >>> suite.to_json_dict()["expectations"][0]["type"]
    'expect_column_to_exist'
    """

    name: str
    expectations: tuple[ExpectationSpec, ...]
    meta: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    @classmethod
    def from_json_dict(cls, data: Any, *, origin: str = "suite") -> Suite:
        """Parse the JSON of a GX 1.x suite; raises :class:`SuiteError` naming what is wrong."""
        if not isinstance(data, dict):
            raise SuiteError(
                f"{origin} is not a JSON object", hint="a GX 1.x suite is an object with 'name'"
            )
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise SuiteError(
                f"{origin} has no 'name'", hint='add a non-empty "name" to the suite JSON'
            )
        raw = data.get("expectations", [])
        if not isinstance(raw, list):
            raise SuiteError(f"{origin}: 'expectations' is not a list", hint="make it a list")
        specs = []
        for position, item in enumerate(raw):
            # GX 0.x called the key expectation_type; accept it so old suites still load.
            kind = (
                item.get("type", item.get("expectation_type")) if isinstance(item, dict) else None
            )
            kwargs = item.get("kwargs", {}) if isinstance(item, dict) else None
            if (
                not isinstance(kind, str)
                or not kind.startswith("expect_")
                or not isinstance(kwargs, dict)
            ):
                raise SuiteError(
                    f"{origin}: expectation #{position} has no valid 'type' and 'kwargs'",
                    hint='each entry needs "type": "expect_..." and a "kwargs" object',
                )
            meta = item.get("meta") or {}
            extra = {key: item[key] for key in _PASSTHROUGH_KEYS if item.get(key) is not None}
            specs.append(ExpectationSpec(kind, dict(kwargs), dict(meta), extra))
        meta = data.get("meta") or {}
        return cls(name=name, expectations=tuple(specs), meta=dict(meta))

    def to_json_dict(self) -> dict[str, Any]:
        """The suite as GX 1.x JSON."""
        return {
            "name": self.name,
            "id": None,
            "expectations": [spec.to_json_dict() for spec in self.expectations],
            "meta": dict(self.meta),
            "notes": None,
        }

    @property
    def columns(self) -> list[str]:
        """Columns the suite mentions, in first-mention order."""
        seen: dict[str, None] = {}
        for spec in self.expectations:
            names = spec.kwargs.get("column_set") or spec.kwargs.get("column_list") or []
            for name in [spec.column, *names]:
                if isinstance(name, str):
                    seen.setdefault(name, None)
        return list(seen)

    def without_columns(self, columns: Collection[str]) -> Suite:
        """This suite minus every expectation about ``columns`` (dropped from column sets too).

        For a column that a batch may legitimately lack, e.g. the label at inference time:
        ``load_suite("churn").without_columns(["churned"])``.
        """
        drop = set(columns)
        kept: list[ExpectationSpec] = []
        for spec in self.expectations:
            if spec.column in drop:
                continue
            kwargs = dict(spec.kwargs)
            for key in ("column_set", "column_list"):
                if isinstance(kwargs.get(key), list):
                    kwargs[key] = [name for name in kwargs[key] if name not in drop]
            kept.append(ExpectationSpec(spec.type, kwargs, spec.meta, spec.extra))
        return Suite(self.name, tuple(kept), self.meta, self.path)

    def to_gx(self, *, label: str | None = None) -> Any:
        """The suite as a ``great_expectations.ExpectationSuite`` (imports GX, about 3 s).

        GX logs (with a traceback) and drops an expectation it cannot parse; that is one
        :class:`SuiteError` here instead, naming ``label`` (the user's file, by default this
        suite's path or name) and each rejected expectation with GX's reason.
        """
        import logging

        import great_expectations as gx

        where = label or (str(self.path) if self.path else self.name)
        gx_log = logging.getLogger("great_expectations.core.expectation_suite")
        was_disabled, gx_log.disabled = gx_log.disabled, True
        try:
            built = gx.ExpectationSuite(
                name=self.name,
                expectations=[spec.to_json_dict() for spec in self.expectations],
                meta=dict(self.meta) or None,
            )
        except Exception as exc:  # GX raises many kinds; all of them mean a bad suite
            raise SuiteError(
                f"Great Expectations rejected suite {where!r}: {_first_line(exc)}",
                hint="fix the suite JSON",
            ) from exc
        finally:
            gx_log.disabled = was_disabled
        if len(built.expectations) != len(self.expectations):
            reasons = [r for r in (_rejection(spec) for spec in self.expectations) if r]
            raise SuiteError(
                f"Great Expectations rejected {len(self.expectations) - len(built.expectations)} "
                f"expectation(s) of suite {where!r}: {'; '.join(reasons) or '(kwargs)'}",
                hint="check the expectation types and their kwargs against GX 1.x",
            )
        return built


def _first_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


def _rejection(spec: ExpectationSpec) -> str | None:
    """Why GX refuses one expectation (its type unknown, its kwargs invalid), or None."""
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    try:
        ExpectationConfiguration(type=spec.type, kwargs=dict(spec.kwargs)).to_domain_obj()
    except Exception as exc:  # noqa: BLE001 - any refusal is reported, whatever its kind
        message = getattr(exc, "message", None) or str(exc)
        return f"{spec.type} ({_first_line(Exception(message))})"
    return None


def packaged_suites_dir() -> Path:
    """The suites shipped inside the package (``mlops_guard/suites/``)."""
    return Path(__file__).resolve().parent.parent / "suites"


def suite_search_path(expectations_dir: str | Path | None = None) -> list[Path]:
    """Directories a suite name is looked up in, first match wins."""
    if expectations_dir is None:
        expectations_dir = (
            os.environ.get("MLOPS_GUARD_VALIDATION_EXPECTATIONS_DIR") or "expectations"
        )
    return [Path(expectations_dir), packaged_suites_dir()]


def _read_suite_file(path: Path) -> Suite:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(
            f"cannot read suite file {str(path)!r}: {exc}", hint="pass a readable JSON file"
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SuiteError(
            f"suite file {str(path)!r} is not valid JSON (line {exc.lineno}: {exc.msg})",
            hint="fix the JSON or regenerate it with 'mlops-guard expectations init'",
        ) from exc
    suite = Suite.from_json_dict(data, origin=f"suite file {str(path)!r}")
    return Suite(suite.name, suite.expectations, suite.meta, path.resolve())


def load_suite(
    name_or_path: str | Path | Suite, *, expectations_dir: str | Path | None = None
) -> Suite:
    """Load a suite from a path to its JSON, or by name.

    A name is looked up as ``<name>.json`` in ``expectations_dir`` (default
    ``$MLOPS_GUARD_VALIDATION_EXPECTATIONS_DIR``, else ``./expectations``), then in the suites
    packaged with mlops-guard. Raises :class:`SuiteError` listing where it looked.

    >>> load_suite("churn").name
    'churn'
    """
    if isinstance(name_or_path, Suite):
        return name_or_path
    text = str(name_or_path)
    candidate = Path(text)
    looks_like_path = isinstance(name_or_path, Path) or text.endswith(".json") or os.sep in text
    if looks_like_path:
        if candidate.is_file():
            return _read_suite_file(candidate)
        what = "a directory" if candidate.is_dir() else "missing"
        raise SuiteError(
            f"suite file {text!r} is {what}", hint="pass a suite JSON file or a suite name"
        )
    if not _NAME.match(text):
        raise SuiteError(
            f"{text!r} is not a suite name",
            hint="use letters, digits, '.', '_' or '-', or pass a path to a .json file",
        )
    searched = suite_search_path(expectations_dir)
    for directory in searched:
        path = directory / f"{text}.json"
        if path.is_file():
            return _read_suite_file(path)
    where = ", ".join(str(d) for d in searched)
    raise SuiteError(
        f"no suite named {text!r} (looked for {text}.json in {where})",
        hint="create one with 'mlops-guard expectations init DATA --name "
        f"{text}' or set MLOPS_GUARD_VALIDATION_EXPECTATIONS_DIR",
    )


def write_suite(suite: Suite, out_dir: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``<out_dir>/<suite.name>.json`` atomically; refuses to overwrite unless told."""
    if not _NAME.match(suite.name):
        raise UsageError(
            f"suite name {suite.name!r} cannot be a file name",
            hint="use letters, digits, '.', '_' or '-'",
        )
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file", hint="pass a directory")
    path = out / f"{suite.name}.json"
    if path.exists() and not overwrite:
        raise UsageError(
            f"suite file {str(path)!r} already exists",
            hint="pass --force to replace it, or pick another --name",
        )
    out.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(suite.to_json_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def iter_specs(suite: Suite, types: Iterable[str]) -> list[ExpectationSpec]:
    """The suite's expectations of the given types, in suite order."""
    wanted = set(types)
    return [spec for spec in suite.expectations if spec.type in wanted]
