"""The drill's rollback alerts through the real chain: the pipeline's metric pushed to a
Pushgateway, the real rule file in Prometheus, the real route in Alertmanager, the drill's
receiver, the registry. Debian's binaries; missing ones fail under CI=true, skip elsewhere.
With the chain switched off the built-in evaluator still carries the alert, and says so.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import mlops_guard.drills._chain as chain_module
from mlops_guard.drills import (
    Fixture,
    RunRecord,
    render_markdown,
    run_scenario,
    scenario,
    scorecard,
)
from mlops_guard.drills._chain import AlertChain, ChainSetup, resolve_chain
from mlops_guard.drills._drill import run_drills
from mlops_guard.runlog import read_runlog


def _setup() -> ChainSetup:
    setup, why = resolve_chain()
    if setup is None:
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return setup


def _chain_processes(directory: Path) -> list[str]:
    """Command lines of live processes whose flags name ``directory`` (the chain's)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(directory) in text:
            found.append(text)
    return found


def _through_chain(
    name: str, drill_fixture: Fixture, tmp_path: Path, runs: int = 1
) -> list[tuple[RunRecord, list[dict[str, Any]]]]:
    """``runs`` guarded runs of ``name`` through one chain, as run_drills does."""
    alerting = tmp_path / "services" / name / "alerting"
    chain = AlertChain(_setup(), alerting)
    instance = scenario(name)
    instance.setup(drill_fixture, tmp_path / "services" / name)
    found = []
    try:
        for i in range(1, runs + 1):
            workdir = tmp_path / f"{name}-chain-{i}"
            record = run_scenario(
                instance,
                run=i,
                seed=5,
                guard=True,
                fixture=drill_fixture,
                workdir=workdir,
                chain=chain,
            )
            assert record.error is None, record.to_dict()
            assert record.alert_path == "prometheus"
            found.append((record, read_runlog(workdir / "logs" / "runlog.jsonl")))
    finally:
        chain.stop()
        instance.close()
    assert _chain_processes(alerting) == [], "the chain was left running"
    # Prometheus really ran the project's rule file.
    assert "Server is ready" in (alerting / "prometheus.log").read_text()
    assert "mlops_guard.rules.yml" in (alerting / "prometheus.yml").read_text()
    return found


def _healthy(record: RunRecord) -> None:
    assert record.detected, record.to_dict()
    assert record.root_cause_correct, record.to_dict()
    assert record.recovered, record.to_dict()
    assert record.ttd_seconds is not None
    assert record.ttr_seconds is not None
    assert 0 <= record.ttd_seconds <= record.ttr_seconds


@pytest.mark.slow
@pytest.mark.servers
def test_bad_model_is_rolled_back_through_prometheus_and_alertmanager(
    drill_fixture: Fixture, tmp_path: Path
) -> None:
    # Two runs on one chain: the second must roll back too (nothing of the first, neither
    # its series nor its alert, reaches it) and only once.
    for i, (record, runlog) in enumerate(_through_chain("bad-model", drill_fixture, tmp_path, 2)):
        _healthy(record)
        assert record.evidence["rollbacks"] == 1
        (moved,) = record.evidence["alias_history"]
        assert (moved["from_version"], moved["to_version"]) == (
            drill_fixture.challenger,
            drill_fixture.champion,
        )
        # The alert came from the real rule: its summary is the rule file's template, rendered
        # by Prometheus (the built-in evaluator's says "the version it replaced" without it).
        assert f"worse than v{drill_fixture.champion}, the version it replaced" in moved["reason"]
        received = {e.get("alert_fingerprint") for e in runlog if e["event"] == "alert.received"}
        assert len(received) == 1
        _notified_by_alertmanager(tmp_path / "services" / "bad-model" / "alerting" / f"run-{i + 1}")


def _notified_by_alertmanager(workdir: Path) -> None:
    """Alertmanager's notification log (written on shutdown) holds the rollback receiver's
    notification of an alert labelled by Prometheus (its external label ``monitor``)."""
    nflog = (workdir / "alertmanager-data" / "nflog").read_bytes()
    assert b"mlops-guard-rollback" in nflog
    assert b'monitor="mlops-guard"' in nflog


@pytest.mark.slow
@pytest.mark.servers
def test_alert_storm_through_the_chain_rolls_back_once(
    drill_fixture: Fixture, tmp_path: Path
) -> None:
    ((record, _),) = _through_chain("alert-storm", drill_fixture, tmp_path)
    _healthy(record)
    assert record.detected_cause == "model_degradation"
    assert record.evidence["rollbacks"] == 1
    assert record.evidence["deliveries"] == 1000
    assert record.evidence["inbox"].get("done") == 1
    _notified_by_alertmanager(tmp_path / "services" / "alert-storm" / "alerting" / "run-1")


@pytest.mark.slow
def test_with_the_chain_off_the_builtin_evaluator_carries_the_alert(
    drill_fixture: Fixture, tmp_path: Path
) -> None:
    result = run_drills(
        ["bad-model"],
        runs=1,
        baseline=False,
        workdir=tmp_path / "drill",
        fixture=drill_fixture,
        alert_chain=False,
    )
    (record,) = result.records
    _healthy(record)
    assert record.alert_path == "builtin"
    assert record.evidence["rollbacks"] == 1
    assert result.alert_fallback is not None
    assert "--builtin-alerts" in result.alert_fallback
    card = scorecard(result)
    assert card["alert_paths"] == {"builtin": 1}
    assert "built-in rule evaluator in 1 run" in render_markdown(card)


def test_without_binaries_or_files_the_reason_names_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup, why = resolve_chain(tmp_path)  # an empty directory: no deployment files
    assert setup is None
    assert "--deployments" in why or "apt-get install" in why
    monkeypatch.setattr(chain_module, "_which", lambda name: None)
    setup, why = resolve_chain()
    assert setup is None
    assert why.startswith(
        "prometheus-pushgateway, prometheus, prometheus-alertmanager not installed"
    )
