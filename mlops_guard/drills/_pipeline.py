"""Scenarios that hit the pipelines: bad data, drift, a bad release, a crashed stage, the
registry down during a rollback, an alert storm, and the clean run that counts false alarms.

Each runs the product's own code in this process (training, scoring, the drift check, the alert
receiver on a loopback port), except ``stage-crash``, whose scoring runs in a child process so
that it can die as a node would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from mlops_guard.drills._fixture import BATCH_ROWS, CONCEPT_DRIFT, COVARIATE_DRIFT
from mlops_guard.drills._runner import DrillContext, Scenario

if TYPE_CHECKING:
    from mlops_guard.drills._watch import Detection, Signal
    from mlops_guard.settings import GuardSettings

__all__ = [
    "AlertStorm",
    "BadModel",
    "Clean",
    "ConceptDrift",
    "CovariateDrift",
    "DataCorruption",
    "RegistryOutage",
    "StageCrash",
]

INFERENCE_FLOW = "mlops-guard-inference"
TRAINING_FLOW = "mlops-guard-training"
RESPONDER = "drill-responder"
STORM_DELIVERIES = 1_000
_STORM_THREADS = 8
RETRAIN_ROWS = 20_000


def _seed(ctx: DrillContext, salt: int) -> int:
    return ctx.seed * 100_000 + ctx.run * 100 + salt


def _batch(
    ctx: DrillContext,
    name: str,
    *,
    labelled: bool,
    salt: int,
    suffix: str = ".parquet",
    **spec: Any,
) -> str:
    """Write a batch of the synthetic churn data for this run; returns its path."""
    from mlops_guard.data import write_table
    from mlops_guard.demo import LABEL, SyntheticSpec, make_dataset

    rows = int(spec.pop("rows", BATCH_ROWS))
    frame = make_dataset(SyntheticSpec(rows=rows, seed=_seed(ctx, salt), **spec))
    if not labelled:
        frame = frame.drop(columns=[LABEL])
    return str(write_table(frame, ctx.workdir / "data" / f"{name}{suffix}"))


def _score(ctx: DrillContext, data: str, batch_id: str) -> Any:
    from mlops_guard.pipelines import run_inference

    with ctx.orchestrated(INFERENCE_FLOW):
        return run_inference(data, batch_id=batch_id, settings=ctx.settings)
    return None  # the run failed; the orchestrator's report of it is recorded


def _check_scored_batch(settings: GuardSettings) -> Any:
    """The event-driven check: a scored batch is checked for drift (and, with labels, for
    quality) as soon as it lands, as the ``drift-check`` deployment's trigger on the scoring
    flow's completion does in deployments/prefect.yaml."""

    def on_scored(signal: Signal) -> None:
        from mlops_guard.drift import check_champion_drift

        if not signal.event.get("rows_scored"):
            return
        check_champion_drift(batches=1, html=False, settings=settings)

    return on_scored


def _arm_pipeline(ctx: DrillContext, *, receiver: bool = True) -> None:
    """The guard as deployed beside the pipelines: the drift and quality check on every
    scored batch, and the alert receiver with the rollback rules on the exported metrics."""
    ctx.watch.subscribe("inference.scored", _check_scored_batch(ctx.settings))
    if receiver:
        _start_receiver(ctx, rules=True)


def _start_receiver(ctx: DrillContext, *, rules: bool) -> Any:
    """The receiver, and what notifies it: with the run's chain, the real Prometheus and
    Alertmanager (the rules always on: the scenario pushes what the pipeline would); without
    it, and ``rules``, the built-in evaluator on the textfiles."""
    from mlops_guard.drills._alerting import Receiver, RuleEvaluator

    found = Receiver(ctx.settings).start()
    ctx.stack.callback(found.stop)
    ctx.state["receiver"] = found
    if ctx.chain is not None:
        ctx.chain.start_alerting(found.url, found.token)
    elif rules:
        evaluator = RuleEvaluator(ctx.settings, found).start()
        ctx.stack.callback(evaluator.stop)
    return found


def _retrain_and_promote(ctx: DrillContext, data: str, reason: str) -> str:
    from mlops_guard.pipelines import run_training
    from mlops_guard.registry import promote

    trained = run_training(data, settings=ctx.settings)
    promote(
        ctx.settings.model_name,
        trained.version,
        reason=reason,
        actor=RESPONDER,
        settings=ctx.settings,
    )
    return trained.version


def _push_worse_than_previous(ctx: DrillContext) -> None:
    """What the inference flow pushes after a labelled batch on which the champion (the
    released challenger) lost to the version it replaced: the gauge the
    ``ModelWorseThanPrevious`` rule reads, in the flow's Pushgateway group."""
    from mlops_guard.metrics import GuardMetrics, MetricsSink

    metrics = GuardMetrics()
    metrics.model_worse_than_previous.labels(
        model=ctx.settings.model_name,
        model_version=ctx.fixture.challenger,
        previous_version=ctx.fixture.champion,
    ).set(1.0)
    if not MetricsSink(ctx.settings, metrics).flush(flow=INFERENCE_FLOW):
        raise RuntimeError(
            f"could not push to the run's Pushgateway {ctx.settings.pushgateway_url} "
            "(see the warning above and pushgateway.log in the scenario's alerting directory)"
        )


def _chain_fingerprint(ctx: DrillContext) -> str | None:
    """The fingerprint of the alert Alertmanager delivered (the first in the inbox)."""
    rows = ctx.state["receiver"].app.state.store.list()
    return str(rows[0].fingerprint) if rows else None


def _after(ctx: DrillContext, name: str, since: float, **match: Any) -> list[Signal]:
    return [
        s
        for s in ctx.watch.signals(since)
        if s.name == name and all(s.event.get(k) == v for k, v in match.items())
    ]


class DataCorruption(Scenario):
    name = "data-corruption"
    root_cause = "data_quality"
    fault = "a batch with nulls, unseen categories, out-of-range values and wrong types"

    def arm(self, ctx: DrillContext) -> None:
        _arm_pipeline(ctx, receiver=False)

    def inject(self, ctx: DrillContext) -> None:
        from mlops_guard.demo import Corruption

        corruption = Corruption(
            null_rate=0.02,
            null_columns=("age",),
            unseen_category_rate=0.03,
            unseen_category_columns=("region",),
            out_of_range_rate=0.02,
            out_of_range_columns=("monthly_charges",),
            wrong_type_rate=0.02,
            wrong_type_columns=("support_calls",),
        )
        # CSV: a column with text in numeric cells is what an export gone wrong writes (Parquet
        # would refuse the mixed column at write time).
        data = _batch(
            ctx, "corrupted", labelled=False, salt=1, suffix=".csv", corruption=corruption
        )
        ctx.state["clean"] = _batch(ctx, "clean-after", labelled=False, salt=2)
        _score(ctx, data, "corrupted")

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        # The pipeline goes on: the next batch arrives and is scored.
        _score(ctx, ctx.state["clean"], "clean-after")

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        from mlops_guard.validation import read_manifest

        failed = ctx.watch.events("validation.failed")
        bad = [e for e in ctx.watch.events("inference.scored") if e.get("batch_id") == "corrupted"]
        clean = [
            s
            for s in _after(ctx, "inference.scored", ctx.injected_at, batch_id="clean-after")
            if not s.event.get("rows_quarantined") and s.event.get("rows_scored")
        ]
        if not (failed and bad and clean) or not failed[0].get("quarantined"):
            return None
        manifest = read_manifest(str(failed[0]["quarantined"]))
        quarantined = int(bad[0]["rows_quarantined"])
        if quarantined <= 0 or int(manifest.get("rows", -1)) != quarantined:
            return None
        return {
            "at": clean[0].seen,
            "rows_quarantined": quarantined,
            "quarantine": str(failed[0]["quarantined"]),
            "manifest_rows": manifest.get("rows"),
            "failed_expectations": failed[0].get("failed"),
            "clean_rows_scored": clean[0].event.get("rows_scored"),
        }


class _DriftScenario(Scenario):
    labelled = False
    spec: ClassVar[dict[str, Any]] = {}
    reason = ""

    def arm(self, ctx: DrillContext) -> None:
        _arm_pipeline(ctx, receiver=False)

    def inject(self, ctx: DrillContext) -> None:
        data = _batch(ctx, "drifted-1", labelled=self.labelled, salt=1, **self.spec)
        ctx.state["next"] = _batch(ctx, "drifted-2", labelled=self.labelled, salt=2, **self.spec)
        _score(ctx, data, "drifted-1")

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        # Drift is not undone by a rollback (every version learned the old data): retrain on
        # recent labelled data, promote, and score the next batch.
        recent = _batch(
            ctx, "recent-labelled", labelled=True, salt=3, rows=RETRAIN_ROWS, **self.spec
        )
        ctx.state["responded_at"] = time.monotonic()
        ctx.state["version"] = _retrain_and_promote(ctx, recent, self.reason)
        _score(ctx, ctx.state["next"], "drifted-2")

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        version = ctx.state.get("version")
        if version is None:
            return None
        since = ctx.state["responded_at"]
        checks = _after(ctx, "drift.checked", since, model_version=version)
        healthy = [
            s
            for s in checks
            if not s.event.get("dataset_drift") and not s.event.get("concept_drift")
        ]
        if not healthy:
            return None
        evidence: dict[str, Any] = {
            "at": healthy[0].seen,
            "champion": version,
            "drift_share": healthy[0].event.get("drift_share"),
        }
        if self.labelled:
            quality = _after(ctx, "quality.checked", since, model_version=version)
            if not quality or quality[0].event.get("degraded"):
                return None
            evidence["at"] = max(healthy[0].seen, quality[0].seen)
            evidence["quality_degraded"] = False
        return evidence


class CovariateDrift(_DriftScenario):
    name = "covariate-drift"
    root_cause = "data_drift"
    fault = "a batch whose inputs moved (eight of thirteen features)"
    spec: ClassVar[dict[str, Any]] = {"drift": COVARIATE_DRIFT}
    reason = "retrained on recent data after data drift"


class ConceptDrift(_DriftScenario):
    name = "concept-drift"
    root_cause = "concept_drift"
    fault = "a labelled batch whose labels follow another relationship"
    labelled = True
    spec: ClassVar[dict[str, Any]] = {"concept_drift": CONCEPT_DRIFT}
    reason = "retrained on recent labels after concept drift"


class BadModel(Scenario):
    name = "bad-model"
    root_cause = "model_degradation"
    fault = "a worse model becomes champion"
    uses_alerts = True

    def arm(self, ctx: DrillContext) -> None:
        _arm_pipeline(ctx)

    def inject(self, ctx: DrillContext) -> None:
        from mlops_guard.registry import promote

        data = _batch(ctx, "labelled-1", labelled=True, salt=1)
        promote(
            ctx.settings.model_name,
            ctx.fixture.challenger,
            reason="scheduled release",
            actor="release",
            settings=ctx.settings,
        )
        # Production traffic whose labels arrive with it (feedback).
        _score(ctx, data, "labelled-1")

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        return _rolled_back(ctx, ctx.fixture.challenger, ctx.fixture.champion)


def _rolled_back(
    ctx: DrillContext, bad: str, good: str, fingerprint: str | None = None
) -> dict[str, Any] | None:
    """The champion is ``good`` again, moved back from ``bad`` by the receiver since the
    injection (for the alert of ``fingerprint``, when given: its incident key starts with it).
    """
    from mlops_guard.alerts import AlertsSettings
    from mlops_guard.registry import get_champion, history

    done = _after(ctx, "registry.rolled_back", ctx.injected_at)
    if not done:
        return None
    events = [
        e
        for e in history(ctx.settings.model_name, settings=ctx.settings)
        if e.action == "rollback"
        and e.from_version == bad
        and e.to_version == good
        and (fingerprint is None or str(e.alert_fingerprint).startswith(f"{fingerprint}@"))
        # A store shared by several runs keeps earlier runs' moves of the same alert.
        and e.at >= ctx.state["injected_wall"]
    ]
    actor = AlertsSettings().actor
    by_alert = [e for e in events if e.actor == actor and e.alert_fingerprint]
    if not by_alert or get_champion(ctx.settings.model_name, settings=ctx.settings) != good:
        return None
    return {
        "at": done[0].seen,
        "champion": good,
        "rollbacks": len(by_alert),
        "alias_history": [e.to_dict() for e in by_alert],
    }


def _hang_when_started(stage: str, fd: int) -> None:
    """Make this process hang once ``stage`` has started (its ``stage.started`` line is
    written), as a node that stops mid-stage does, until it is killed: so the kill lands in
    that stage however busy the machine is. Only the drill's child process is patched."""
    from mlops_guard.runlog import RunLog

    emit = RunLog.emit

    def hanging(self: RunLog, event: str, level: str = "INFO", **fields: Any) -> dict[str, Any]:
        record = emit(self, event, level, **fields)
        # The stage's name comes from the bound context, so it is read off the record written.
        if event == "stage.started" and record.get("stage") == stage:
            os.read(fd, 1)  # the parent never writes again: blocks until the SIGKILL
        return record

    RunLog.emit = hanging  # type: ignore[method-assign]


class _RunProcess:
    """A scoring run in a process of its own, forked from this warm one and waiting for the
    word to start: what a worker's standby process is, so a retry pays for the run, not for
    Python's start and imports. The process can be killed as a node failure would kill it."""

    def __init__(self, ctx: DrillContext, data: str, *, hang_in: str | None = None) -> None:
        from mlops_guard._stage import flush_pending

        # fork(), not a fresh interpreter: the child starts warm, as a standby does. No metrics
        # flush may be pending in another thread while forking, so the child starts with every
        # lock free (POSIX only, like the SIGKILL it is there to receive).
        flush_pending()
        read_end, write_end = os.pipe()
        # The parent holds the write end of the hang pipe open and never writes to it.
        hang_read, hang_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child; its outcome is its exit status
            os.close(write_end)
            os.close(hang_write)
            code = 1
            try:
                if os.read(read_end, 1):
                    from mlops_guard.pipelines import run_inference

                    if hang_in is not None:
                        _hang_when_started(hang_in, hang_read)

                    run_inference(data, batch_id="batch", settings=ctx.settings)
                    code = 0
            except BaseException:  # noqa: BLE001 - reported by the exit status
                import traceback

                traceback.print_exc()
            finally:
                os._exit(code)
        os.close(read_end)
        os.close(hang_read)
        self.pid = pid
        self._go = write_end
        self._hang = hang_write
        self.returncode: int | None = None
        ctx.stack.callback(self.close)

    def start(self) -> None:
        os.write(self._go, b"g")
        os.close(self._go)
        self._go = -1

    def kill(self) -> None:
        if self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)

    def wait(self) -> int:
        if self.returncode is None:
            _, status = os.waitpid(self.pid, 0)
            self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def close(self) -> None:
        if self._go >= 0:
            os.close(self._go)  # an unused standby reads end-of-file and exits
            self._go = -1
        self.kill()
        self.wait()
        if self._hang >= 0:
            os.close(self._hang)
            self._hang = -1


class StageCrash(Scenario):
    name = "stage-crash"
    root_cause = "stage_failure"
    fault = "the scoring stage's process is killed mid-run (SIGKILL, as a node failure)"

    def prepare(self, ctx: DrillContext) -> None:
        data = _batch(ctx, "batch", labelled=False, salt=1)
        ctx.state["first"] = _RunProcess(ctx, data, hang_in="score")
        if ctx.guard:
            ctx.state["standby"] = _RunProcess(ctx, data)

    def _supervise(self, ctx: DrillContext, proc: _RunProcess, attempt: int) -> int:
        """What a process worker reports when the run's process ends."""
        code = proc.wait()
        if code != 0:
            started = [
                e.get("stage")
                for e in ctx.watch.events("stage.started", since=0.0)
                if e.get("flow") == INFERENCE_FLOW
            ]
            ctx.watch.orchestrator(
                "run.crashed" if code < 0 else "run.failed",
                flow=INFERENCE_FLOW,
                returncode=code,
                attempt=attempt,
                stage=started[-1] if started else None,
            )
        ctx.state[f"exit-{attempt}"] = code
        return code

    def inject(self, ctx: DrillContext) -> None:
        proc: _RunProcess = ctx.state["first"]

        def kill_in_score(signal_: Signal) -> None:
            if signal_.event.get("stage") == "score" and proc.returncode is None:
                # The fault is the kill, not the run's start: time from here.
                ctx.injected_at = ctx.watch.mark()
                proc.kill()

        ctx.watch.subscribe("stage.started", kill_in_score)
        ctx.state["killer"] = kill_in_score
        proc.start()
        self._supervise(ctx, proc, 1)

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        # The orchestrator's retry: the same batch again, in the standby process.
        ctx.state["retry_started"] = time.monotonic()
        ctx.watch.unsubscribe(ctx.state["killer"])
        standby: _RunProcess = ctx.state["standby"]
        standby.start()
        self._supervise(ctx, standby, 2)

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        if ctx.state.get("exit-2") != 0:
            return None
        scored = _after(ctx, "inference.scored", ctx.state["retry_started"], batch_id="batch")
        if not scored or not Path(str(scored[0].event.get("predictions_path"))).exists():
            return None
        return {
            "at": scored[0].seen,
            "first_exit": ctx.state.get("exit-1"),
            "retry_exit": 0,
            "rows_scored": scored[0].event.get("rows_scored"),
            "predictions": scored[0].event.get("predictions_path"),
        }


def _rollback_alert(ctx: DrillContext) -> dict[str, Any]:
    """The webhook Alertmanager sends when ModelWorseThanPrevious fires for the release."""
    from datetime import UTC, datetime

    from mlops_guard.drills._alerting import alert_payload

    labels = {
        "alertname": "ModelWorseThanPrevious",
        "action": "rollback",
        "severity": "critical",
        "model": ctx.settings.model_name,
        "model_version": ctx.fixture.challenger,
        "previous_version": ctx.fixture.champion,
    }
    return alert_payload(
        labels,
        summary="scores labelled data worse than the version it replaced",
        starts_at=datetime.now(UTC).isoformat(),
    )


def _release(ctx: DrillContext) -> None:
    """The worse version becomes champion, from the healthy state (v1 champion)."""
    from mlops_guard.registry import get_champion, promote

    model = ctx.settings.model_name
    if get_champion(model, settings=ctx.settings) != ctx.fixture.champion:
        promote(
            model,
            ctx.fixture.champion,
            reason="drill reset",
            actor=RESPONDER,
            settings=ctx.settings,
        )
    promote(
        model,
        ctx.fixture.challenger,
        reason="scheduled release",
        actor="release",
        settings=ctx.settings,
    )


class RegistryOutage(Scenario):
    name = "registry-outage"
    root_cause = "dependency_outage"
    fault = "MLflow unreachable (every connection dropped) while a rollback alert arrives"
    uses_alerts = True

    def __init__(self) -> None:
        self.server: Any = None
        self.proxy: Any = None

    def setup(self, fixture: Any, workdir: Path) -> None:
        import shutil

        from mlops_guard.drills._outage import MlflowServer

        workdir.mkdir(parents=True, exist_ok=True)
        database = workdir / "mlflow.db"
        shutil.copyfile(fixture.workdir / "mlflow.db", database)
        # Started now, answered for by the first run: the server takes a while to come up.
        self.server = MlflowServer(database, workdir / "mlflow-server.log").start()

    def configure(self, settings: GuardSettings) -> GuardSettings:
        from mlops_guard.drills._outage import TcpProxy

        if self.proxy is None:
            self.server.wait()
            self.proxy = TcpProxy(self.server.port).start()
        return settings.model_copy(update={"tracking_uri": self.proxy.url})

    def close(self) -> None:
        if self.proxy is not None:
            self.proxy.stop()
        if self.server is not None:
            self.server.stop()

    def prepare(self, ctx: DrillContext) -> None:
        _release(ctx)

    def arm(self, ctx: DrillContext) -> None:
        _start_receiver(ctx, rules=False)

    def inject(self, ctx: DrillContext) -> None:
        from mlops_guard.registry import rollback

        self.proxy.cut()
        # Whatever happens in the run, the next one starts with the registry reachable.
        ctx.stack.callback(self.proxy.restore)
        if ctx.chain is not None:
            # The pipeline's metric, then Prometheus and Alertmanager deliver the alert.
            _push_worse_than_previous(ctx)
            return
        payload = _rollback_alert(ctx)
        ctx.state["fingerprint"] = payload["alerts"][0]["fingerprint"]
        receiver = ctx.state.get("receiver")
        if receiver is not None:
            receiver.post(payload)
            return
        # Without the guard the rollback is a plain run, tried once.
        with ctx.orchestrated("mlops-guard-rollback"):
            rollback(
                ctx.settings.model_name,
                reason="alert ModelWorseThanPrevious",
                actor="oncall",
                settings=ctx.settings,
            )

    def respond(self, ctx: DrillContext, detection: Detection) -> None:
        # The dependency comes back (the partition heals, the server restarts).
        self.proxy.restore()

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        fingerprint = ctx.state.get("fingerprint")
        if ctx.chain is not None:
            fingerprint = _chain_fingerprint(ctx)
            if fingerprint is None:
                return None
        found = _rolled_back(ctx, ctx.fixture.challenger, ctx.fixture.champion, fingerprint)
        if found is None or found["rollbacks"] != 1:
            return None
        counts = ctx.state["receiver"].alert_states()
        if counts.get("done") != 1 or counts.get("failed") or counts.get("pending"):
            return None
        retries = _after(ctx, "alert.action.retry", ctx.injected_at)
        found["retries"] = len(retries)
        found["inbox"] = counts
        return found

    def busy(self, ctx: DrillContext) -> bool:
        # The receiver's processor may still be on its first attempt; through the chain, the
        # alert may still be on its way (a scrape and an evaluation: up to about 2 s).
        receiver = ctx.state.get("receiver")
        if receiver is None:
            return False
        store = receiver.app.state.store
        return store.open_count() > 0 or (ctx.chain is not None and not store.list())


class AlertStorm(Scenario):
    name = "alert-storm"
    root_cause = "model_degradation"
    fault = f"the same rollback alert delivered {STORM_DELIVERIES:,} times"
    uses_alerts = True

    def prepare(self, ctx: DrillContext) -> None:
        _release(ctx)

    def arm(self, ctx: DrillContext) -> None:
        _start_receiver(ctx, rules=False)

    def inject(self, ctx: DrillContext) -> None:
        receiver = ctx.state.get("receiver")
        statuses: list[int] = []
        lock = threading.Lock()
        if ctx.chain is not None and receiver is not None:
            # The alert comes from Prometheus and Alertmanager; the storm re-delivers
            # Alertmanager's own alert (its fingerprint and start) once it has arrived.
            _push_worse_than_previous(ctx)
            payload: dict[str, Any] = {}
            arrived = threading.Event()

            def first_delivery() -> None:
                row = ctx.wait(lambda: next(iter(receiver.app.state.store.list()), None))
                if row is not None:
                    payload.update(_replayed(row))
                    ctx.state["fingerprint"] = row.fingerprint
                arrived.set()

            ctx.state["watcher"] = threading.Thread(target=first_delivery, daemon=True)
            ctx.state["watcher"].start()
        else:
            payload = _rollback_alert(ctx)
            ctx.state["fingerprint"] = payload["alerts"][0]["fingerprint"]
            arrived = threading.Event()
            arrived.set()

        def deliver(count: int) -> None:
            import httpx

            arrived.wait()
            if not payload:
                return  # Alertmanager never delivered: the run times out unrecovered
            with httpx.Client(timeout=30) as client:
                for _ in range(count):
                    try:
                        status = receiver.post(payload, client) if receiver else 0
                    except httpx.HTTPError:
                        status = 0
                    with lock:
                        statuses.append(status)

        if receiver is None:
            # Without the guard no receiver listens: Alertmanager's deliveries go nowhere.
            ctx.state["statuses"] = []
            return
        share = STORM_DELIVERIES // _STORM_THREADS
        threads = [
            threading.Thread(
                target=deliver, args=(share + (i < STORM_DELIVERIES % _STORM_THREADS),)
            )
            for i in range(_STORM_THREADS)
        ]
        for thread in threads:
            thread.start()
        ctx.state["threads"] = threads
        ctx.state["statuses"] = statuses

    def busy(self, ctx: DrillContext) -> bool:
        watcher = ctx.state.get("watcher")
        return (watcher is not None and watcher.is_alive()) or any(
            t.is_alive() for t in ctx.state.get("threads", ())
        )

    def recovered(self, ctx: DrillContext) -> dict[str, Any] | None:
        if self.busy(ctx):
            return None
        delivered_at = time.monotonic()
        found = _rolled_back(
            ctx, ctx.fixture.challenger, ctx.fixture.champion, ctx.state.get("fingerprint")
        )
        statuses = ctx.state.get("statuses", [])
        if found is None or len(statuses) != STORM_DELIVERIES:
            return None
        receiver = ctx.state["receiver"]
        counts = receiver.alert_states()
        if found["rollbacks"] != 1 or counts.get("done") != 1:
            return None
        found["at"] = max(found["at"], ctx.state.setdefault("delivered_at", delivered_at))
        found["deliveries"] = len(statuses)
        found["accepted"] = sum(1 for s in statuses if 200 <= s < 300)
        found["inbox"] = counts
        return found


def _replayed(row: Any) -> dict[str, Any]:
    """Alertmanager's webhook for a stored alert, as a re-delivery carries it: the same
    labels, fingerprint and start time (the receiver's de-duplication key)."""
    from mlops_guard.drills._alerting import alert_payload

    payload = alert_payload(
        dict(row.labels), summary=str(row.annotations.get("summary", "")), starts_at=row.starts_at
    )
    payload["alerts"][0]["fingerprint"] = row.fingerprint
    payload["alerts"][0]["annotations"] = dict(row.annotations)
    return payload


class Clean(Scenario):
    name = "clean"
    root_cause = None
    fault = "none: clean batches scored and checked, to count false alarms"

    def arm(self, ctx: DrillContext) -> None:
        from mlops_guard.drills._clock import arm_trace_check

        _arm_pipeline(ctx)
        arm_trace_check(ctx)

    def inject(self, ctx: DrillContext) -> None:
        from mlops_guard.drills._clock import write_spans

        for i in (1, 2):
            _score(ctx, _batch(ctx, f"clean-{i}", labelled=True, salt=i), f"clean-{i}")
        # The scoring path's traces with every clock right: the trace check must stay quiet.
        write_spans(ctx, "spans-clean.jsonl", skew_ms=0.0)

    def busy(self, ctx: DrillContext) -> bool:
        from mlops_guard.drills._clock import trace_check_busy

        return trace_check_busy(ctx)
