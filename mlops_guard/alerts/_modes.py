"""The receiver's rollback modes: how a stored alert becomes a rollback.

The core provides ``in_process`` (:func:`~mlops_guard.alerts.registry_rollback_handler`, in the
receiver's process). Each orchestrator integration provides its own modes through the
``mlops_guard.rollback_modes`` entry point, each a :class:`RollbackModeSpec`: Prefect's
``deployment`` and ``event``, Airflow's ``airflow``. Mode names are read from the package
metadata without importing anything; a mode's module is imported only when it is chosen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops_guard.errors import ConfigError

if TYPE_CHECKING:
    from mlops_guard.alerts._processor import ActionHandler
    from mlops_guard.alerts._settings import AlertsSettings
    from mlops_guard.settings import GuardSettings

__all__ = [
    "IN_PROCESS",
    "MODES_ENTRY_POINT_GROUP",
    "RollbackModeSpec",
    "mode_names",
    "rollback_mode",
]

#: The entry-point group integrations register their rollback modes under.
MODES_ENTRY_POINT_GROUP = "mlops_guard.rollback_modes"
IN_PROCESS = "in_process"


@dataclass(frozen=True)
class RollbackModeSpec:
    """One rollback mode: its name, how to build its handler, and what its first alert imports
    (the receiver's warm-up imports them before it serves)."""

    name: str
    build: Callable[[GuardSettings, AlertsSettings], ActionHandler]
    warm_modules: tuple[str, ...] = ()


def _in_process(guard_settings: GuardSettings, settings: AlertsSettings) -> ActionHandler:
    from mlops_guard.alerts._processor import registry_rollback_handler

    return registry_rollback_handler(guard_settings, settings)


_BUILTIN = RollbackModeSpec(
    IN_PROCESS,
    _in_process,
    ("mlflow", "mlops_guard.registry._aliases", "mlops_guard.runlog", "filelock"),
)


def mode_names() -> list[str]:
    """Every mode known here: the core's and the integrations' (none is imported)."""
    from importlib.metadata import entry_points

    names = [IN_PROCESS]
    for point in entry_points(group=MODES_ENTRY_POINT_GROUP):
        if point.name not in names:
            names.append(point.name)
    return names


def rollback_mode(name: str) -> RollbackModeSpec:
    """The mode called ``name``; :class:`ConfigError` when no installed integration has it."""
    if name == IN_PROCESS:
        return _BUILTIN
    from importlib.metadata import entry_points

    for point in entry_points(group=MODES_ENTRY_POINT_GROUP):
        if point.name == name:
            spec = point.load()
            if not isinstance(spec, RollbackModeSpec):
                raise ConfigError(
                    f"rollback mode {name!r} ({point.value}) is not a RollbackModeSpec",
                    hint="reinstall the integration that provides it",
                )
            return spec
    raise ConfigError(
        f"MLOPS_GUARD_ALERTS_ROLLBACK_MODE={name} names no rollback mode",
        hint=f"use one of {', '.join(mode_names())}",
    )
