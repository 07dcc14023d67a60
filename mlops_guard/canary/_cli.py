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


# Samples beyond this magnitude overflow the judge's arithmetic (squares for variances over
# millions of samples, differences of two samples, Tukey fences), turning a verdict into inf or
# NaN. No latency, rate, score or error a canary measures comes near it.
_MAX_MAGNITUDE = 1e150
_JSON_HINT = 'write {"metric": [number, ...], ...}, e.g. {"latency_seconds": [0.1, 0.2]}'


def _check_value(path: Path, where: str, value: object) -> float:
    """One sample as a float, or a SchemaError naming the file and the place of the value."""
    import math

    from mlops_guard.errors import SchemaError

    # bool is an int to Python, but true/false in a samples file is a mistake, not 1/0.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a list" if isinstance(value, list) else f"{type(value).__name__} {value!r}"
        raise SchemaError(
            f"{where} of {str(path)!r} is {kind}, not a number"[:300],
            hint="give a flat list of numbers per metric"
            if path.suffix.lower() == ".json"
            else "give one numeric column per metric",
        )
    number = float(value)
    if not math.isfinite(number):
        raise SchemaError(
            f"{where} of {str(path)!r} is {number}, not a finite number",
            hint="drop the value, or leave the cell empty",
        )
    if abs(number) > _MAX_MAGNITUDE:
        raise SchemaError(
            f"{where} of {str(path)!r} is {number:g}, beyond +/-{_MAX_MAGNITUDE:g}",
            hint="give the metric in a unit where its values are ordinary numbers",
        )
    return number


def load_samples(path: str | Path) -> dict[str, list[float]]:
    """Metric samples from a JSON, CSV or Parquet file (see the module docstring).

    Every sample is a finite number within +/-1e150; anything else (a string, a nested list,
    NaN, infinity, true/false) is a :class:`~mlops_guard.errors.SchemaError` naming the file,
    the metric and the position, never silently dropped or flattened.
    """
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
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            detail = " ".join(str(exc).split())[:200]
            raise UnreadableData(
                f"{str(path)!r} is not valid JSON ({type(exc).__name__}: {detail})",
                hint=_JSON_HINT,
            ) from exc
        if not isinstance(body, dict):
            raise SchemaError(
                f"{str(path)!r} must hold a JSON object of lists, not a {type(body).__name__}",
                hint=_JSON_HINT,
            )
        samples: dict[str, list[float]] = {}
        for name, values in body.items():
            if not isinstance(values, list):
                raise SchemaError(
                    f"metric {name!r} of {str(path)!r} is a {type(values).__name__}, "
                    "not a list of numbers",
                    hint=_JSON_HINT,
                )
            samples[str(name)] = [
                _check_value(path, f"sample {i} of metric {name!r}", value)
                for i, value in enumerate(values)
            ]
        return samples
    from mlops_guard.data import read_table

    frame = read_table(path)
    samples = {}
    for column in frame.columns:
        values = frame[column].dropna()
        try:
            numbers = [float(value) for value in values]
        except (TypeError, ValueError) as exc:
            raise SchemaError(
                f"column {column!r} of {str(path)!r} is not numeric",
                hint="give one numeric column per metric",
            ) from exc
        samples[str(column)] = [
            _check_value(path, f"data row {int(i) + 1} of column {str(column)!r}", number)
            for i, number in zip(values.index, numbers, strict=True)
        ]
    return samples


def _print_human(verdict: CanaryVerdict) -> None:
    from mlops_guard._console import console, printable

    out = console()
    score = "n/a" if verdict.score is None else f"{verdict.score:.1f}"
    out.print(f"canary {verdict.verdict.upper()} (score {score})", markup=False)
    # Metric names come from the samples files: control characters are shown, not obeyed.
    for reason in verdict.reasons:
        out.print(f"  {printable(reason)}", markup=False)
    _print_metrics(out, verdict.metrics, name_width=20)


def _print_metrics(out: Any, metrics: Any, *, name_width: int) -> None:
    """One line per metric: name, outcome, test, whether critical, and the reason."""
    from mlops_guard._console import printable

    for metric in metrics:
        flag = " critical" if metric.critical else ""
        out.print(
            f"  {printable(metric.name):<{name_width}} {metric.outcome:<12} "
            f"{metric.test:<18}{flag}: {printable(metric.reason)}",
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
    """The canary settings from the environment (a bad value is a ConfigError, exit 2)."""
    from mlops_guard.canary._settings import CanarySettings

    return CanarySettings()


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
        _print_metrics(out, verdict.metrics, name_width=16)


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
    start_cmd = sub.add_parser(
        "start",
        help="send a share of NAME's live traffic to its challenger (mlops-guard serve)",
        description="Stores the share (and mode) on the registered model; every "
        "'mlops-guard serve NAME' picks it up within its poll interval. The live judge then "
        "promotes the challenger or removes it.",
    )
    start_cmd.add_argument("model", metavar="NAME", help="registered model name")
    start_cmd.add_argument(
        "--share", type=float, required=True, help="share of entities, e.g. 0.1 for 10%%"
    )
    start_cmd.add_argument(
        "--shadow",
        action="store_true",
        help="score every request with both versions, answer with the champion",
    )
    start_cmd.add_argument("--json", action="store_true", help="print the setting as JSON")
    start_cmd.add_argument("--tracking-uri", help="MLflow tracking and registry URI")
    start_cmd.set_defaults(handler=_start, services=("mlflow",))
    stop_cmd = sub.add_parser("stop", help="send no more live traffic to NAME's challenger")
    stop_cmd.add_argument("model", metavar="NAME", help="registered model name")
    stop_cmd.add_argument("--json", action="store_true", help="print the setting as JSON")
    stop_cmd.add_argument("--tracking-uri", help="MLflow tracking and registry URI")
    stop_cmd.set_defaults(handler=_stop, services=("mlflow",))


def _live_share(args: argparse.Namespace, share: float, mode: str) -> int:
    import json

    from mlops_guard.errors import UsageError
    from mlops_guard.registry import get_challenger
    from mlops_guard.registry._client import RegistryClient
    from mlops_guard.serving import CANARY_MODE_TAG, CANARY_SHARE_TAG
    from mlops_guard.settings import load_settings

    settings = load_settings(tracking_uri=args.tracking_uri)
    challenger = get_challenger(args.model, settings)
    if share > 0 and challenger is None:
        raise UsageError(
            f"model {args.model!r} has no challenger to send traffic to",
            hint="register one first (registry set_challenger, or mlops-guard register)",
        )
    client = RegistryClient(settings)
    client.set_model_tag(args.model, CANARY_SHARE_TAG, repr(share))
    client.set_model_tag(args.model, CANARY_MODE_TAG, mode)
    body = {"model": args.model, "challenger": challenger, "share": share, "mode": mode}
    if args.json:
        print(json.dumps(body))
    else:
        print(f"{args.model}: challenger v{challenger} gets {share:.0%} of live traffic ({mode})")
    return 0


def _start(args: argparse.Namespace) -> int:
    from mlops_guard.errors import UsageError

    if not 0 < args.share <= 1:
        raise UsageError(
            f"--share {args.share} is not a share in (0, 1]", hint="pass e.g. --share 0.1"
        )
    return _live_share(args, args.share, "shadow" if args.shadow else "split")


def _stop(args: argparse.Namespace) -> int:
    return _live_share(args, 0.0, "split")
