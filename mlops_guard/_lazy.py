"""Lazy package exports: a package's public names load their module on first use.

``mlops-guard --help`` imports every concern's ``_cli`` module, and with it the concern's package
``__init__``; the names that package exports must not import pandas, pydantic-settings, MLflow or
Prefect until someone uses them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose ``exports`` map a public name to the
    private module that defines it: relative to the package (``"_gate"``), or absolute for a
    name an integration defines (``"mlops_guard.integrations.prefect._pipelines"``)."""

    def getattr_(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        where = module if module.startswith("mlops_guard.") else f"{package}.{module}"
        value = getattr(importlib.import_module(where), name)
        globals_of_package = importlib.import_module(package).__dict__
        globals_of_package[name] = value  # later look-ups skip this function
        return value

    def dir_() -> list[str]:
        return sorted(set(exports) | set(importlib.import_module(package).__dict__))

    return getattr_, dir_
