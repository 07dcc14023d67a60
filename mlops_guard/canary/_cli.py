"""Sub-commands of the canary concern (registered by :mod:`mlops_guard.cli`).

``canary judge BASELINE CANARY [--json]``: each file holds metric samples, either JSON
``{"metric": [values, ...], ...}`` or a CSV/Parquet table with one column per metric (empty
cells are ignored, so metrics may have different sample counts). Exit 0 on pass or marginal,
1 on fail or inconclusive (a canary that could not be judged must not ship), 2 on bad input.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.canary._judge import CanaryVerdict

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
