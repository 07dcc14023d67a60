"""Sub-commands of the traces concern (registered by :mod:`mlops_guard.cli`).

``trace check`` counts causality violations and estimates each host's clock (exit 1 on
violations); ``trace adjust`` writes the spans with the skew taken out. Handlers parse, call
:mod:`mlops_guard.traces` and print.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:+.3f}"


def _check(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json, printable
    from mlops_guard.traces._check import check_spans

    report = check_spans(args.spans, reference=args.reference)
    if args.json:
        document = report.to_dict()
        print_json(document)
    else:
        out = console()
        out.print(
            f"{report.spans} spans in {report.traces} traces, reference host "
            f"{printable(report.reference_host) or '-'}",
            markup=False,
        )
        for kind, count in report.violations.items():
            out.print(f"  {kind:<26} {count}", markup=False)
        for name, host in report.hosts.items():
            drift = "-" if host.drift_ppm is None else f"{host.drift_ppm:+.2f} ppm"
            warn = "  EARLY WARNING" if name in report.early_warnings else ""
            out.print(
                f"host {printable(name)}: offset {_ms(host.offset_ns)} ms in "
                f"[{_ms(host.lower_ns)}, {_ms(host.upper_ns)}], drift {drift}, "
                f"{host.samples} samples ({host.method}){warn}",
                markup=False,
            )
    return 1 if report.violation_count else 0


def _adjust(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json
    from mlops_guard.traces._check import adjust_spans

    result = adjust_spans(
        args.spans,
        args.out,
        max_delta_ms=args.max_delta_ms,
        per_trace=args.per_trace,
        reference=args.reference,
    )
    if args.json:
        print_json(result.to_dict())
    else:
        out = console()
        out.print(
            f"wrote {result.spans} spans to {result.out}: {result.adjusted} moved, "
            f"{result.per_trace} traces by the per-trace rule",
            markup=False,
        )
        for kind, count in result.before.violations.items():
            out.print(f"  {kind:<26} {count} -> {result.after_violations[kind]}", markup=False)
    return 0


def _milliseconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of milliseconds") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 (disabled) or more milliseconds")
    return value


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
    trace = commands.add_parser(
        "trace", help="trace causality: clock-skew violations, per-host offsets, correction"
    )
    sub = trace.add_subparsers(dest="trace_command", metavar="SUBCOMMAND")
    sub.required = True

    check = sub.add_parser(
        "check",
        help="count causality violations and estimate each host's clock (exit 1 on violations)",
    )
    check.add_argument("spans", nargs="+", metavar="SPANS", help="OTLP JSON files (.gz too)")
    check.add_argument("--reference", default=None, help="host the offsets are relative to")
    check.add_argument("--json", action="store_true", help="print one JSON document")
    check.set_defaults(handler=_check)

    adjust = sub.add_parser("adjust", help="write the spans with each host's clock skew taken out")
    adjust.add_argument("spans", nargs="+", metavar="SPANS", help="OTLP JSON files (.gz too)")
    adjust.add_argument("-o", "--out", required=True, help="the corrected OTLP JSON lines file")
    adjust.add_argument(
        "--max-delta-ms",
        type=_milliseconds,
        default=None,
        help="largest shift applied (default 1000; 0 disables adjusting but still reports)",
    )
    adjust.add_argument(
        "--per-trace",
        action="store_true",
        help="Jaeger's per-trace adjuster instead of the per-host estimate",
    )
    adjust.add_argument("--reference", default=None, help="host the offsets are relative to")
    adjust.add_argument("--json", action="store_true", help="print one JSON document")
    adjust.set_defaults(handler=_adjust)
