"""``mlops-guard drill``: inject real faults into the real pipeline and print the scorecard.

Exit 0 when every scenario was detected, named right and recovered in every guarded run and no
clean run raised an alarm; 1 otherwise; 2 bad input (unknown scenario, ``--runs 0``, an output
path that cannot be written, ``--plot`` without matplotlib).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _passed(card: dict[str, Any]) -> bool:
    for entry in card["scenarios"].values():
        runs = entry["runs"]
        if not (entry["detected"] == entry["root_cause_correct"] == entry["recovered"] == runs):
            return False
    return bool(card["clean"]["false_alarms"] == 0)


def _drill(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json, printable, progress
    from mlops_guard._paths import check_output_path
    from mlops_guard.drills._drill import resolve_scenarios, run_drills
    from mlops_guard.errors import ConfigError

    chosen = resolve_scenarios(args.scenarios)
    markdown = check_output_path(args.markdown, "--markdown") if args.markdown else None
    plot = check_output_path(args.plot, "--plot") if args.plot else None
    if plot is not None:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise ConfigError(
                "--plot needs matplotlib, which is not installed",
                hint="pip install 'mlops-guard[plot]', or leave --plot out",
            )
    if args.workdir:
        workdir = Path(args.workdir)
        if workdir.exists() and (not workdir.is_dir() or any(workdir.iterdir())):
            raise ConfigError(
                f"--workdir {str(workdir)!r} is not an empty directory",
                hint="a drill starts from nothing: pass a new or empty directory",
            )
    else:
        from datetime import UTC, datetime

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        workdir = Path(".mlops-guard") / f"drill-{stamp}"
    deployments = Path(args.deployments).resolve() if args.deployments else None
    if deployments is not None and not deployments.is_dir():
        raise ConfigError(
            f"--deployments {str(args.deployments)!r} is not a directory",
            hint="pass the repository's deployments/ (with prometheus/ and alertmanager/)",
        )
    from mlops_guard.drills._scorecard import render_markdown, scorecard, write_plot

    total = len(chosen) * args.runs * 2
    with progress(not args.json) as bar:
        task = bar.add_task("drill: training the fixture", total=total) if bar else None

        def advance(record: Any) -> None:
            if bar is not None and task is not None:
                mode = "guard" if record.guard else "baseline"
                bar.update(task, advance=1, description=f"drill: {record.scenario} ({mode})")

        result = run_drills(
            chosen,
            runs=args.runs,
            seed=args.seed,
            workdir=workdir.resolve(),
            on_record=advance,
            alert_chain=not args.builtin_alerts,
            deployments=deployments,
        )
    card = scorecard(result)
    text = render_markdown(card)
    if markdown is not None:
        markdown.parent.mkdir(parents=True, exist_ok=True)
        markdown.write_text(text, encoding="utf-8")
    if plot is not None:
        write_plot(card, plot)
    if args.json:
        print_json(card)
    else:
        out = console()
        out.print(printable(text), markup=False, soft_wrap=True)
        out.print(
            f"{len(result.records)} runs in {result.seconds:.0f} s (fixture "
            f"{result.fixture_seconds:.0f} s); run directories under {printable(result.workdir)}",
            markup=False,
        )
    return 0 if _passed(card) else 1


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add ``drill``. Import nothing heavy here: --help must stay fast."""
    drill = commands.add_parser(
        "drill",
        help="inject real faults into the pipeline; time detection and recovery (scorecard)",
        description="Inject each scenario's fault into the real pipeline with the guard and "
        "without it (the baseline: what a plain orchestrator reports), and print MTTD, MTTR, "
        "detection rate, root-cause accuracy and uptime per scenario. Scenarios: "
        "data-corruption, covariate-drift, concept-drift, bad-model, stage-crash, "
        "checkpoint-stall, slow-storage, straggler, alert-storm, clean; or all.",
    )
    drill.add_argument(
        "scenarios", nargs="*", metavar="SCENARIO", help="scenarios to run (default: all)"
    )
    drill.add_argument(
        "--runs", type=_positive_int, default=3, help="runs of each scenario and mode (3)"
    )
    drill.add_argument("--seed", type=int, default=0, help="seed of the drill's data (0)")
    drill.add_argument("--json", action="store_true", help="print the JSON scorecard")
    drill.add_argument("--markdown", metavar="PATH", help="also write the Markdown table here")
    drill.add_argument(
        "--plot", metavar="PATH", help="also write a PNG timeline of every run (matplotlib)"
    )
    drill.add_argument(
        "--workdir", metavar="DIR", help="new or empty directory for the drill's runs"
    )
    drill.add_argument(
        "--deployments",
        metavar="DIR",
        help="deployment files for the alerting chain (prometheus/, alertmanager/; default: "
        "the repository's deployments/ next to the package)",
    )
    drill.add_argument(
        "--builtin-alerts",
        action="store_true",
        help="evaluate the rollback rules in the drill instead of running Prometheus, "
        "Pushgateway and Alertmanager (used anyway when their binaries are missing)",
    )
    drill.set_defaults(handler=_drill)
