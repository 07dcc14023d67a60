"""The core imports without Prefect or Airflow: every module outside ``integrations/`` is
imported in a process where importing either fails, as in an environment without them.

The pipelines and the demo's story included: they run their stages as Prefect tasks only
through the event sinks' ``task``/``flow`` hooks, which the Prefect integration provides.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import mlops_guard

_PROBE = """
import importlib, importlib.abc, json, sys

class Blocked(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in ("prefect", "prefect_dask", "airflow"):
            raise ImportError(f"{name} is not installed here")
        return None

sys.meta_path.insert(0, Blocked())
failed = {}
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        failed[module] = str(exc)
print(json.dumps(failed))
"""


def _core_modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.walk_packages(mlops_guard.__path__, "mlops_guard.")
        if not m.name.startswith("mlops_guard.integrations")
    )


def test_core_modules_import_without_an_orchestrator() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *_core_modules()],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    failed = json.loads(done.stdout.strip().splitlines()[-1])
    assert failed == {}


def test_events_work_without_an_orchestrator() -> None:
    """With no sink loadable, emitting is a no-op that reports nothing sent."""
    code = (
        _PROBE.split("failed = {}", maxsplit=1)[0]
        + "from mlops_guard._events import GuardEvent, emit, sinks\n"
        + "sent = emit(GuardEvent('e', 'mlops_guard.model.m', 'm', {}))\n"
        + "print(json.dumps({'sent': sent, 'sinks': len(sinks()),"
        + " 'prefect': 'prefect' in sys.modules}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "sent": False,
        "sinks": 0,
        "prefect": False,
    }
