"""``mlops-guard report``: the reliability report of a run (registered by mlops_guard.cli)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def _report(args: argparse.Namespace) -> int:
    from mlops_guard._console import console
    from mlops_guard.report._build import write_report
    from mlops_guard.settings import load_settings

    overrides = {"workdir": args.workdir} if args.workdir else {}
    path = write_report(
        args.out, settings=load_settings(**overrides), flow_run_id=args.flow_run, since=args.since
    )
    console().print(f"report written to {path}", markup=False)
    return 0


def register(commands: argparse._SubParsersAction[Any]) -> None:
    report = commands.add_parser(
        "report",
        help="write the reliability report of a run (one self-contained HTML page)",
        description="One page, no network requests: stage timeline, validation with "
        "quarantined examples, drift, model quality, canary verdicts, alias history, alerts, "
        "training monitors; built from the working directory's run log.",
    )
    window = report.add_mutually_exclusive_group()
    window.add_argument("--flow-run", metavar="ID", help="the flow run to report on")
    window.add_argument("--since", metavar="TIME", help="every event since TIME (RFC 3339)")
    report.add_argument("-o", "--out", required=True, help="the HTML file to write")
    report.add_argument("--workdir", help="the working directory of the runs")
    report.set_defaults(handler=_report)
