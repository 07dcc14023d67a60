"""Sub-commands of the canary concern (registered by :mod:`mlops_guard.cli`).

``canary judge BASELINE CANARY [--json]``: each file holds metric samples, either JSON
``{"metric": [values, ...], ...}`` or a CSV/Parquet table with one column per metric (empty
cells are ignored, so metrics may have different sample counts). Exit 0 on pass or marginal,
1 on fail or inconclusive (a canary that could not be judged must not ship), 2 on bad input.

``canary run NAME DATA... [--json]``: the canary of model NAME's challenger against its
champion (:func:`~mlops_guard.canary.run_canary`) on DATA, one CSV/Parquet file split into one
slice per step, or several files consumed one per step attempt. Exit 0 when the challenger was
promoted, 1 when it failed (challenger removed) or the canary was inconclusive (aliases
unchanged), 2 on bad input: missing files, features or id column, no champion or challenger,
contracts that differ in task, label or classes.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.canary._judge import CanaryVerdict
    from mlops_guard.canary._rollout import CanaryReport
    from mlops_guard.canary._settings import CanarySettings

__all__ = ["load_samples", "register"]


def load_samples(path: str | Path) -> dict[str, list[float]]:
    """Metric samples from a JSON, CSV or Parquet file (see the module docstring)."""
    import json

    from mlops_guard.errors import DataNotFound, SchemaError, UnreadableData

    path = Path(path)
    if not path.is_file():
        raise DataNotFound(
            f"samples file {str(path)!r} does not exist or is not a file",
            hint="pass a JSON, CSV or Parquet file of metric samples",
        )
    if path.suffix.lower() == ".json":
        try:
            body = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise UnreadableData(
                f"{str(path)!r} is not valid JSON ({exc})",
                hint='write {"metric": [values, ...]}',
            ) from exc
        if not isinstance(body, dict) or not all(isinstance(v, list) for v in body.values()):
            raise SchemaError(
                f"{str(path)!r} must hold a JSON object of lists",
                hint='write {"latency_seconds": [0.1, 0.2], "error": [0, 1]}',
            )
        return {str(name): list(values) for name, values in body.items()}
    from mlops_guard.data import read_table

    frame = read_table(path)
    samples: dict[str, list[float]] = {}
    for column in frame.columns:
        values = frame[column].dropna()
        try:
            samples[str(column)] = [float(value) for value in values]
        except (TypeError, ValueError) as exc:
            raise SchemaError(
                f"column {column!r} of {str(path)!r} is not numeric",
                hint="give one numeric column per metric",
            ) from exc
    return samples


def _print_human(verdict: CanaryVerdict) -> None:
    from mlops_guard._console import console

    out = console()
    score = "n/a" if verdict.score is None else f"{verdict.score:.1f}"
    out.print(f"canary {verdict.verdict.upper()} (score {score})", markup=False)
    for reason in verdict.reasons:
        out.print(f"  {reason}", markup=False)
    for metric in verdict.metrics:
        flag = " critical" if metric.critical else ""
        out.print(
            f"  {metric.name:<20} {metric.outcome:<12} {metric.test:<18}{flag}: {metric.reason}",
            markup=False,
            soft_wrap=True,
        )


def _judge(args: argparse.Namespace) -> int:
    from mlops_guard._console import print_json
    from mlops_guard.canary import judge
    from mlops_guard.errors import CanaryFailed

    verdict = judge(load_samples(args.baseline), load_samples(args.canary))
    if args.json:
        print_json(verdict.to_dict())
    else:
        _print_human(verdict)
    if verdict.verdict in {"fail", "inconclusive"}:
        raise CanaryFailed(
            f"canary {verdict.verdict}: {'; '.join(verdict.reasons) or 'score too low'}",
            hint="see the per-metric results above",
        )
    return 0


def _canary_settings() -> CanarySettings:
    """The canary settings from the environment; a bad value is one line, not a dump."""
    from pydantic import ValidationError

    from mlops_guard.canary._settings import CanarySettings
    from mlops_guard.errors import ConfigError

    try:
        return CanarySettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(part) for part in first["loc"]) or "settings"
        raise ConfigError(
            f"canary setting {name} = {first.get('input')!r} is invalid: {first['msg']}",
            hint=f"fix MLOPS_GUARD_CANARY_{name.upper()}",
        ) from exc


def _print_report(report: CanaryReport) -> None:
    from mlops_guard._console import console

    out = console()
    after = report.challenger_after
    out.print(
        f"canary of {report.model} ({report.task}) v{report.challenger} against champion "
        f"v{report.champion}: {report.decision.upper()}; champion now v{report.champion_after}, "
        f"challenger {'none' if after is None else 'v' + after}",
        markup=False,
    )
    for note in report.notes:
        out.print(f"  note: {note}", markup=False)
    for step in report.steps:
        verdict = step.verdict
        score = "n/a" if verdict.score is None else f"{verdict.score:.1f}"
        out.print(
            f"step {step.step} ({step.share:.0%}, attempt {step.attempt}): "
            f"{verdict.verdict} (score {score}; rows {step.rows_champion:,} champion, "
            f"{step.rows_challenger:,} challenger)",
            markup=False,
        )
        for metric in verdict.metrics:
            flag = " critical" if metric.critical else ""
            out.print(
                f"  {metric.name:<16} {metric.outcome:<12} {metric.test:<18}{flag}: "
                f"{metric.reason}",
                markup=False,
                soft_wrap=True,
            )


def _run(args: argparse.Namespace) -> int:
    from mlops_guard._console import print_json
    from mlops_guard.canary._rollout import run_canary
    from mlops_guard.errors import CanaryFailed
    from mlops_guard.registry._cli import cli_actor
    from mlops_guard.settings import load_settings

    settings = load_settings(workdir=args.workdir, tracking_uri=args.tracking_uri)
    frames = _labelled_frames(args, settings)
    data = frames[0] if len(frames) == 1 else frames
    report = run_canary(
        data,
        model=args.model,
        settings=settings,
        canary_settings=_canary_settings(),
        actor=cli_actor(),
    )
    if args.json:
        print_json(report.to_json())
    else:
        _print_report(report)
    if report.decision != "promoted":
        last = report.steps[-1].verdict.reasons if report.steps else []
        outcome = (
            f"challenger v{report.challenger} removed"
            if report.decision == "failed"
            else "aliases unchanged"
        )
        raise CanaryFailed(
            f"canary {report.decision} ({outcome}): {'; '.join(last) or 'no step passed'}",
            hint="see the per-metric results of the last step",
        )
    return 0


def _labelled_frames(args: argparse.Namespace, settings: Any) -> list[Any]:
    """The DATA files, read once; without ``--unlabelled`` each must carry the champion's
    label, since a canary without labels cannot see that the challenger is wrong."""
    from mlops_guard.contract import load_contract
    from mlops_guard.data import read_table
    from mlops_guard.errors import UsageError
    from mlops_guard.registry import aliases

    frames = [read_table(path) for path in args.data]
    if args.unlabelled:
        return frames
    found = aliases(args.model, settings)
    champion = found.get("champion")
    if champion is None or found.get("challenger") is None:
        return frames  # run_canary names the missing alias
    label = load_contract(args.model, champion, settings).label
    for path, frame in zip(args.data, frames, strict=True):
        if label not in frame.columns or frame[label].isna().all():
            raise UsageError(
                f"{path!r} has no values of the label {label!r}: the canary cannot judge "
                "accuracy without them",
                hint="pass labelled DATA, or --unlabelled to judge only the outputs, "
                "latency and errors",
            )
    return frames


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
    canary = commands.add_parser("canary", help="canary releases: statistical judgement")
    sub = canary.add_subparsers(dest="canary_command", metavar="SUBCOMMAND")
    sub.required = True
    judge_cmd = sub.add_parser(
        "judge",
        help="judge CANARY metric samples against BASELINE (JSON {metric: [values]} or "
        "CSV/Parquet, one column per metric)",
    )
    judge_cmd.add_argument("baseline", metavar="BASELINE")
    judge_cmd.add_argument("canary", metavar="CANARY")
    judge_cmd.add_argument("--json", action="store_true", help="print the verdict as JSON")
    judge_cmd.set_defaults(handler=_judge)
    run_cmd = sub.add_parser(
        "run",
        help="canary of NAME's challenger against its champion on DATA; exit 0 promoted, "
        "1 failed or inconclusive, 2 bad input",
        description="Route a growing share of DATA's rows (by the contract's id column) to "
        "model NAME's challenger, judge it against the champion at each step (latency, "
        "errors, prediction distribution, and the task's metrics when DATA has the label), "
        "then promote it or remove it. DATA: one CSV/Parquet file split into one slice per "
        "step, or several files used one per step attempt.",
    )
    run_cmd.add_argument("model", metavar="NAME", help="registered model name")
    run_cmd.add_argument("data", metavar="DATA", nargs="+", help="CSV or Parquet file(s)")
    run_cmd.add_argument("--json", action="store_true", help="print the report as JSON")
    run_cmd.add_argument(
        "--unlabelled",
        action="store_true",
        help="DATA has no labels: judge outputs, latency and errors only",
    )
    run_cmd.add_argument("--workdir", help="working directory (MLOPS_GUARD_WORKDIR)")
    run_cmd.add_argument(
        "--tracking-uri", help="MLflow tracking and registry URI (MLOPS_GUARD_TRACKING_URI)"
    )
    run_cmd.set_defaults(handler=_run, services=("mlflow", "prefect"))
