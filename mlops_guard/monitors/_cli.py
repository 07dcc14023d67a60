"""Sub-commands of the monitors concern (registered by :mod:`mlops_guard.cli`).

``monitor summary PATH`` judges a finished run's ``monitor/summary.json`` (exit 1 when it
stalled or saved slowly); ``monitor stragglers`` runs a straggler detector that worker
processes report to. Handlers parse, call :mod:`mlops_guard.monitors` and print.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from typing import Any

__all__ = ["register"]


def _summary(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json, printable
    from mlops_guard.monitors._summary import judge_summary, read_summary

    status = read_summary(args.path)
    verdict = judge_summary(status)
    if args.json:
        print_json(
            {
                "healthy": verdict.healthy,
                "problems": list(verdict.problems),
                "summary": status.to_dict(),
            }
        )
    else:
        out = console()
        out.print(
            f"{printable(status.job)} ({printable(status.model)}): {status.steps} steps, "
            f"{status.checkpoints} checkpoints, {status.save_share:.1%} of "
            f"{status.wall_seconds:.1f} s saving",
            markup=False,
        )
        out.print(
            "healthy" if verdict.healthy else "problems: " + ", ".join(verdict.problems),
            markup=False,
        )
    return 0 if verdict.healthy else 1


def _stragglers(args: argparse.Namespace) -> int:
    import threading

    from mlops_guard._console import console, print_json, printable
    from mlops_guard.monitors._stragglers import StragglerDetector
    from mlops_guard.settings import load_settings

    settings = load_settings(workdir=args.workdir)
    stop = threading.Event()
    with StragglerDetector(
        job=args.job, model=args.model, host=args.host, port=args.port, guard_settings=settings
    ) as detector:
        # stderr: with --json, stdout carries exactly one document.
        sys.stderr.write(f"listening for worker reports on {detector.address} (udp)\n")
        sys.stderr.flush()
        # Ctrl-C ends the collection; the report is printed all the same.
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait(args.duration)
        report = detector.report()
    if args.json:
        print_json(report.to_dict())
    else:
        out = console()
        for worker in report.workers:
            score = "-" if worker.score is None else f"{worker.score:.2f}"
            flag = "  STRAGGLER" if worker.straggler else ""
            out.print(
                f"worker {printable(worker.worker):<8} step p50 {worker.step_seconds_p50:.4f} s  "
                f"score {score}{flag}",
                markup=False,
            )
        if not report.workers:
            out.print("no worker reported", markup=False)
    return 1 if report.stragglers else 0


# Beyond this, waiting overflows the platform's timeout; a collection that long is "until
# Ctrl-C", which leaving --duration out already says.
_MAX_SECONDS = 30 * 24 * 3600.0


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be above 0 seconds")
    if not value <= _MAX_SECONDS:  # also inf
        raise argparse.ArgumentTypeError(
            f"{text!r} is more than {_MAX_SECONDS:.0f} seconds (30 days); leave --duration out "
            "to collect until Ctrl-C"
        )
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: use 0-65535 (0: any free)")
    return value


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
    monitor = commands.add_parser(
        "monitor", help="training checkpoint monitors: run summaries, stragglers"
    )
    sub = monitor.add_subparsers(dest="monitor_command", metavar="SUBCOMMAND")
    sub.required = True

    summary = sub.add_parser(
        "summary", help="judge a run's monitor/summary.json (exit 1 on stalls or slow saves)"
    )
    summary.add_argument("path", help="a monitor/summary.json artifact")
    summary.add_argument("--json", action="store_true", help="print one JSON document")
    summary.set_defaults(handler=_summary)

    stragglers = sub.add_parser(
        "stragglers",
        help="collect workers' step times over UDP and score them (exit 1 on stragglers)",
    )
    stragglers.add_argument("--host", default="127.0.0.1", help="address to bind (loopback)")
    stragglers.add_argument("--port", type=_port, default=0, help="UDP port (default: any free)")
    stragglers.add_argument("--job", default="train", help="training job name the workers use")
    stragglers.add_argument("--model", default=None, help="model name (MLOPS_GUARD_MODEL_NAME)")
    stragglers.add_argument(
        "--duration",
        type=_positive_seconds,
        default=None,
        help="stop after this many seconds (default: until Ctrl-C)",
    )
    stragglers.add_argument("--workdir", help="working directory (MLOPS_GUARD_WORKDIR)")
    stragglers.add_argument("--json", action="store_true", help="print one JSON document")
    stragglers.set_defaults(handler=_stragglers)
