"""``mlops-guard report``: the reliability report of a run (registered by mlops_guard.cli)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def _report(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json
    from mlops_guard.metrics import MetricsSink, get_metrics
    from mlops_guard.report._attach import publish_report
    from mlops_guard.settings import load_settings

    overrides = {"workdir": args.workdir} if args.workdir else {}
    settings = load_settings(**overrides)
    attached = publish_report(
        args.out, settings=settings, flow_run_id=args.flow_run, since=args.since
    )
    if attached.failures:
        # A store that was down is counted where the alert rules look.
        MetricsSink(settings, get_metrics()).flush(flow="report")
    if args.json:
        print_json(attached.to_json())
        return 0
    out = console()
    out.print(f"report written to {attached.report}", markup=False)
    for entry in attached.mlflow_runs:
        if entry.logged:
            out.print(
                f"logged to MLflow run {entry.run_id} ({entry.run_name or 'unnamed'}) "
                f"as {entry.artifact_uri}",
                markup=False,
            )
        else:
            out.print(f"not logged to MLflow run {entry.run_id}: {entry.error}", markup=False)
    if not attached.mlflow_runs:
        out.print("no MLflow run in this window: logged nowhere else", markup=False)
    for name in attached.orchestrators:
        out.print(
            f"linked from flow run {attached.flow_run_id} (artifact reliability-report, {name})",
            markup=False,
        )
    for failure in attached.failures:
        if "did not attach" in failure:
            out.print(failure, markup=False)
    return 0


def register(commands: argparse._SubParsersAction[Any]) -> None:
    report = commands.add_parser(
        "report",
        help="write the reliability report of a run (one self-contained HTML page)",
        description="One page, no network requests: stage timeline, validation with "
        "quarantined examples, drift, model quality, canary verdicts, alias history, alerts, "
        "training monitors; built from the working directory's run log. The page is also "
        "logged to the MLflow runs of the window (artifact reliability/report.html) and, for "
        "--flow-run with PREFECT_API_URL set, linked from a markdown artifact of that flow run. "
        "A store that is down is reported; the file is written either way.",
    )
    window = report.add_mutually_exclusive_group()
    window.add_argument("--flow-run", metavar="ID", help="the flow run to report on")
    window.add_argument("--since", metavar="TIME", help="every event since TIME (RFC 3339)")
    report.add_argument("-o", "--out", required=True, help="the HTML file to write")
    report.add_argument("--workdir", help="the working directory of the runs")
    report.add_argument("--json", action="store_true", help="print where the report went as JSON")
    report.set_defaults(handler=_report)
