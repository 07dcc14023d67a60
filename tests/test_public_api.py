"""The curated public API stays honest: every name in __all__ exists; light imports stay light."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest

PACKAGES = [
    "mlops_guard",
    "mlops_guard.errors",
    "mlops_guard.settings",
    "mlops_guard.metrics",
    "mlops_guard.runlog",
    "mlops_guard.data",
    "mlops_guard.integrations.prefect",
    "mlops_guard.integrations.dask",
    "mlops_guard.pipelines",
    "mlops_guard.validation",
    "mlops_guard.drift",
    "mlops_guard.registry",
    "mlops_guard.canary",
    "mlops_guard.alerts",
    "mlops_guard.monitors",
    "mlops_guard.quality",
    "mlops_guard.contract",
    "mlops_guard.demo",
    "mlops_guard.traces",
    "mlops_guard.drills",
    "mlops_guard.serving",
    "mlops_guard.report",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves(name: str) -> None:
    module = importlib.import_module(name)
    assert module.__all__, f"{name} exports nothing"
    assert len(module.__all__) == len(set(module.__all__)), f"{name}.__all__ repeats a name"
    missing = [attr for attr in module.__all__ if not hasattr(module, attr)]
    assert missing == []


def test_private_modules_are_not_exported() -> None:
    import mlops_guard

    assert not [
        name for name in mlops_guard.__all__ if name.startswith("_") and name != "__version__"
    ]


def test_cli_help_imports_no_heavy_package() -> None:
    """`mlops-guard --help` must start fast: no Prefect, MLflow, GX, Evidently, sklearn, pandas."""
    heavy = [
        "prefect",
        "mlflow",
        "great_expectations",
        "evidently",
        "sklearn",
        "pandas",
        "scipy",
        "numpy",
        "pydantic",
        "rich",
    ]
    code = (
        "import sys, json, contextlib, io\n"
        "from mlops_guard.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try: main(['--help'])\n"
        "    except SystemExit: pass\n"
        f"print(json.dumps([m for m in {heavy!r} if m in sys.modules]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_py_typed_is_shipped() -> None:
    import mlops_guard

    assert (importlib.resources.files(mlops_guard) / "py.typed").is_file()
