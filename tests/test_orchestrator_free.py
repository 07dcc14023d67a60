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
from tests._no_orchestrator import BLOCK_ORCHESTRATORS

_PROBE = (
    BLOCK_ORCHESTRATORS
    + """
import importlib, json
failed = {}
for module in sys.argv[1:]:
    try:
        importlib.import_module(module)
    except ImportError as exc:
        failed[module] = str(exc)
print(json.dumps(failed))
"""
)


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
        BLOCK_ORCHESTRATORS
        + "import json\n"
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
