"""Fixtures of the alert tests: a real MLflow registry built once per session, copied per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_guard.settings import GuardSettings
from tests.alerts._models import build_registry, copy_registry


@pytest.fixture(scope="session")
def registry_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two registered versions of a tiny scikit-learn model; champion 2 (promoted after 1)."""
    path = tmp_path_factory.mktemp("registry-template")
    build_registry(path)
    return path


@pytest.fixture
def registered(registry_template: Path, workdir: Path) -> GuardSettings:
    """Settings whose workdir holds a fresh copy of the template registry."""
    return copy_registry(registry_template, workdir)
