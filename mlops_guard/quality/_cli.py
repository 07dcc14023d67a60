"""Sub-command of the quality concern (registered by :mod:`mlops_guard.cli`).

``quality NAME DATA [--version V] [--json] [--fail-on-degradation]``: the labelled rows of DATA
scored by a version of NAME (its champion by default) and judged against the reference quality
stored with the version. Exit 0 when done (degraded or not), 1 with ``--fail-on-degradation``
when a metric degraded, 2 on bad input. Nothing heavy is imported until the handler runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.quality._check import QualityCheck

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-command. Import nothing heavy here: --help must stay fast."""
    quality = commands.add_parser(
        "quality",
        help="judge a model version's quality on labelled data against its reference",
        description="Score the labelled rows of DATA (CSV or Parquet, with the label column) "
        "with a version of model NAME, and compare each metric with the reference quality "
        "stored when the version was registered. Exit 0 when done, 1 with "
        "--fail-on-degradation when a metric is worse beyond chance and its minimum effect, "
        "2 on bad input.",
    )
    quality.add_argument("model", metavar="NAME", help="registered model name")
    quality.add_argument("data", metavar="DATA", help="labelled data file (CSV or Parquet)")
    quality.add_argument(
        "--version", metavar="V", default=None, help="model version (default: the champion)"
    )
    quality.add_argument("--json", action="store_true", help="print the result as JSON")
    quality.add_argument(
        "--fail-on-degradation", action="store_true", help="exit 1 when the quality degraded"
    )
    quality.add_argument("--workdir", help="working directory (MLOPS_GUARD_WORKDIR)")
    quality.add_argument(
        "--tracking-uri", help="MLflow tracking and registry URI (MLOPS_GUARD_TRACKING_URI)"
    )
    quality.set_defaults(handler=_quality, services=("mlflow",))


def _quality(args: argparse.Namespace) -> int:
    from mlops_guard._console import print_json
    from mlops_guard.quality._check import check_quality
    from mlops_guard.settings import load_settings

    settings = load_settings(workdir=args.workdir, tracking_uri=args.tracking_uri)
    check = check_quality(args.model, args.data, version=args.version, settings=settings)
    if args.json:
        print_json(check.to_json())
    else:
        _print_check(check)
    return 1 if args.fail_on_degradation and check.degraded else 0


def _print_check(check: QualityCheck) -> None:
    from rich.table import Table

    from mlops_guard._console import console

    comparison = check.comparison
    table = Table(title=f"quality of {check.model} v{check.version} ({check.task})")
    interval = f"{comparison.confidence:.0%} interval of the change"
    for header in ("metric", "reference", "current", "change", interval, "verdict"):
        table.add_column(header)
    for name, metric in comparison.metrics.items():
        if metric.degraded:
            verdict = "[red]degraded[/red]"
        elif metric.better:
            verdict = "[green]better[/green]"
        else:
            verdict = "same"
        table.add_row(
            name,
            f"{metric.reference:.4f}",
            f"{metric.current:.4f}",
            f"{metric.change:+.4f}",
            f"[{metric.lower:+.4f}, {metric.upper:+.4f}]",
            verdict,
        )
    out = console()
    out.print(table)
    state = (
        f"[red]DEGRADED[/red] ({', '.join(comparison.degraded_metrics)})"
        if check.degraded
        else "[green]not degraded[/green]"
    )
    out.print(
        f"{state}: {check.rows:,} rows measured against {check.reference.rows:,} reference "
        f"rows, {comparison.confidence:.0%} interval of the change; rows left out: "
        f"{check.rows_unlabelled:,} without a label, {check.rows_failed:,} the model could "
        "not score"
    )
