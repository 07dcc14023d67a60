"""Fixtures of the deployment tests: the real registry template of the alert tests."""

from tests.alerts.conftest import registered, registry_template

__all__ = ["registered", "registry_template"]
