"""Fixtures of the validation tests: reference data, the shipped suite, a CLI runner."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import pandas as pd

    from mlops_guard.validation import Suite

REFERENCE_ROWS = 20_000  # the size the shipped churn suite was inferred from


@pytest.fixture(scope="session")
def reference() -> pd.DataFrame:
    from mlops_guard.demo import make_dataset

    return make_dataset(rows=REFERENCE_ROWS, seed=0)


@pytest.fixture(scope="session")
def churn_suite() -> Suite:
    from mlops_guard.validation import load_suite

    return load_suite(Path(__file__).resolve().parents[2] / "expectations" / "churn.json")


@dataclass
class CliRun:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliRun]:
    """Run ``mlops-guard`` in-process and capture what it printed."""
    from mlops_guard.cli import main

    def run(*argv: str) -> CliRun:
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliRun(code, captured.out, captured.err)

    return run
