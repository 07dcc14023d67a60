"""Running drills: the fixture once, then every scenario's runs with and without the guard."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_guard.drills._runner import TIMEOUT_SECONDS, RunRecord, Scenario, run_scenario
from mlops_guard.errors import UsageError

if TYPE_CHECKING:
    from mlops_guard.drills._chain import ChainSetup
    from mlops_guard.drills._fixture import Fixture

__all__ = ["SCENARIOS", "DrillResult", "resolve_scenarios", "run_drills", "scenario"]

_log = logging.getLogger("mlops_guard.drills")


def _catalogue() -> dict[str, type[Scenario]]:
    from mlops_guard.drills import _clock as c
    from mlops_guard.drills import _pipeline as p
    from mlops_guard.drills import _training as t

    found: list[type[Scenario]] = [
        p.DataCorruption,
        p.CovariateDrift,
        p.ConceptDrift,
        p.BadModel,
        p.StageCrash,
        p.RegistryOutage,
        t.CheckpointStall,
        t.SlowStorage,
        t.Straggler,
        p.AlertStorm,
        c.ClockSkew,
        p.Clean,
    ]
    return {cls.name: cls for cls in found}


#: The built-in scenarios, in the order ``all`` runs them.
SCENARIOS: tuple[str, ...] = (
    "data-corruption",
    "covariate-drift",
    "concept-drift",
    "bad-model",
    "stage-crash",
    "registry-outage",
    "checkpoint-stall",
    "slow-storage",
    "straggler",
    "alert-storm",
    "clock-skew",
    "clean",
)


def scenario(name: str) -> Scenario:
    """A new instance of the built-in scenario ``name``."""
    catalogue = _catalogue()
    if name not in catalogue:
        raise UsageError(
            f"unknown drill scenario {name!r}",
            hint=f"choose from {', '.join(SCENARIOS)} or all",
        )
    return catalogue[name]()


def resolve_scenarios(names: Sequence[str]) -> list[str]:
    """The scenario names asked for (``all`` or none: every one), checked, in order."""
    unknown = [n for n in names if n not in SCENARIOS and n != "all"]
    if unknown:
        raise UsageError(
            f"unknown drill scenario {unknown[0]!r}",
            hint=f"choose from {', '.join(SCENARIOS)} or all",
        )
    if not names or "all" in names:
        return list(SCENARIOS)
    return list(dict.fromkeys(names))


@dataclass
class DrillResult:
    """Every run of a drill, and what the fixture cost."""

    scenarios: list[str]
    runs: int
    seed: int
    workdir: str
    records: list[RunRecord] = field(default_factory=list)
    fixture_seconds: float = 0.0
    #: Why the built-in rule evaluator stood in for Prometheus and Alertmanager (None: the
    #: real chain was used, or no scenario needed an alert).
    alert_fallback: str | None = None
    seconds: float = 0.0


def _alert_chain(wanted: bool, deployments: Path | None) -> tuple[ChainSetup | None, str | None]:
    """The real chain, or None and why the built-in evaluator stands in (logged)."""
    from mlops_guard.drills._chain import resolve_chain

    if wanted:
        chain, why = resolve_chain(deployments)
        if chain is not None:
            return chain, None
    else:
        why = "--builtin-alerts was given"
    _log.warning("drill: rollback alerts use the built-in rule evaluator: %s", why)
    return None, why


def run_drills(
    names: Sequence[str],
    *,
    runs: int = 3,
    seed: int = 0,
    workdir: Path,
    baseline: bool = True,
    guard: bool = True,
    timeout: float = TIMEOUT_SECONDS,
    fixture: Fixture | None = None,
    on_record: Callable[[RunRecord], None] | None = None,
    alert_chain: bool = True,
    deployments: Path | None = None,
) -> DrillResult:
    """Run each scenario ``runs`` times with the guard and (``baseline``) without it.

    Rollback alerts go through the real Prometheus, Pushgateway and Alertmanager when
    ``alert_chain`` and their binaries and ``deployments`` (default: the repository's
    ``deployments/`` next to the package) are there; else through the built-in evaluator,
    and the result says why.
    """
    from mlops_guard.drills._chain import AlertChain
    from mlops_guard.drills._fixture import build_fixture

    if runs < 1:
        raise UsageError(f"--runs must be at least 1, got {runs}", hint="pass --runs 1 or more")
    chosen = resolve_scenarios(names)
    began = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    instances = {name: scenario(name) for name in chosen}
    result = DrillResult(chosen, runs, seed, str(workdir))
    if fixture is None and any(s.needs_pipeline for s in instances.values()):
        fixture = build_fixture(workdir / "fixture", seed)
        result.fixture_seconds = fixture.seconds
    modes = [m for m, on in ((True, guard), (False, baseline)) if on]
    setup: ChainSetup | None = None
    if guard and any(s.uses_alerts for s in instances.values()):
        setup, result.alert_fallback = _alert_chain(alert_chain, deployments)
    try:
        for name, instance in instances.items():
            instance.setup(fixture, workdir / "services" / name)
        for name, instance in instances.items():
            # One chain per scenario, stopped after its runs (AlertChain: what is per run).
            with contextlib.ExitStack() as stack:
                chain = None
                if setup is not None and instance.uses_alerts:
                    chain = AlertChain(setup, workdir / "services" / name / "alerting")
                    stack.callback(chain.stop)
                for mode in modes:
                    for i in range(1, runs + 1):
                        label = "guard" if mode else "baseline"
                        record = run_scenario(
                            instance,
                            run=i,
                            seed=seed,
                            guard=mode,
                            fixture=fixture,  # type: ignore[arg-type]
                            workdir=workdir / "runs" / f"{name}-{label}-{i}",
                            timeout=timeout,
                            chain=chain,
                        )
                        result.records.append(record)
                        if on_record is not None:
                            on_record(record)
    finally:
        for instance in instances.values():
            instance.close()
    result.seconds = time.monotonic() - began
    return result
