"""Sub-commands of the registry concern (registered by :mod:`mlops_guard.cli`).

``register MODEL_URI``, ``registry history MODEL``, ``promote MODEL VERSION``, ``rollback MODEL``.
Handlers parse, call :mod:`mlops_guard.registry` and print; errors travel as GuardError to
``cli.main``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.registry._history import AliasEvent
    from mlops_guard.registry._register import Registration
    from mlops_guard.settings import GuardSettings

__all__ = ["cli_actor", "register"]


def cli_actor() -> str:
    """Who moved the alias from the command line: ``cli:<login name>``."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in some containers
        return "cli"


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", help="working directory (MLOPS_GUARD_WORKDIR)")
    parser.add_argument(
        "--tracking-uri", help="MLflow tracking and registry URI (MLOPS_GUARD_TRACKING_URI)"
    )


def _settings(args: argparse.Namespace) -> GuardSettings:
    from mlops_guard.settings import load_settings

    return load_settings(workdir=args.workdir, tracking_uri=args.tracking_uri)


def _line(event: AliasEvent) -> str:
    moved = f"{event.from_version or '-'} -> {event.to_version or '-'}"
    fingerprint = f" alert={event.alert_fingerprint}" if event.alert_fingerprint else ""
    return (
        f"{event.at}  {event.model} {event.alias:<10} {event.action:<17} {moved:<9} "
        f"by {event.actor}{fingerprint}: {event.reason}"
    )


def _history(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json
    from mlops_guard.registry import history

    events = history(args.model, settings=_settings(args))
    if args.json:
        print_json([event.to_dict() for event in events])
        return 0
    if not events:
        console().print(f"no alias moves recorded for {args.model}")
    for event in events:
        console().print(_line(event), markup=False, soft_wrap=True)
    return 0


def _promote(args: argparse.Namespace) -> int:
    from mlops_guard._console import console
    from mlops_guard.registry import promote

    event = promote(
        args.model,
        args.version,
        reason=args.reason,
        actor=cli_actor(),
        settings=_settings(args),
    )
    console().print(_line(event), markup=False, soft_wrap=True)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json
    from mlops_guard.registry import rollback

    event = rollback(
        args.model,
        reason=args.reason,
        actor=cli_actor(),
        to_version=args.to,
        settings=_settings(args),
    )
    if args.json:
        print_json(event.to_dict())
    else:
        console().print(_line(event), markup=False, soft_wrap=True)
    return 0


def _register(args: argparse.Namespace) -> int:
    import os

    from mlops_guard._console import console, print_json
    from mlops_guard.registry._register import register_model

    # MLflow draws a progress bar on stderr for every download unless told not to; this
    # command's stderr is for its one error line.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    features = None
    if args.features is not None:
        features = [name.strip() for name in args.features.split(",") if name.strip()]
    registration = register_model(
        args.model_uri,
        name=args.name,
        label=args.label,
        task=args.task,
        id_column=args.id,
        timestamp_column=args.timestamp,
        features=features or None,
        positive_class=args.positive_class,
        reference=args.reference,
        settings=_settings(args),
        actor=cli_actor(),
    )
    if args.json:
        print_json(registration.to_json())
        return 0
    for line in _registration_lines(registration):
        console().print(line, markup=False, soft_wrap=True)
    return 0


def _registration_lines(registration: Registration) -> list[str]:
    contract = registration.contract
    kinds = f"{len(contract.numerical)} numerical, {len(contract.categorical)} categorical"
    roles = "".join(
        f", {role} {column!r}"
        for role, column in (("id", contract.id_column), ("timestamp", contract.timestamp_column))
        if column
    )
    classes = ""
    if contract.classes is not None:
        classes = f", classes {list(contract.classes)}"
        if contract.positive_class is not None:
            classes += f" (positive {contract.positive_class!r})"
    lines = [
        f"registered {registration.model} v{registration.version} ({registration.alias}) "
        f"from {registration.source}",
        f"  contract: {contract.task}, label {contract.label!r}, {len(contract.features)} "
        f"features ({kinds}){roles}{classes}",
    ]
    if registration.reference is None or registration.reference_quality is None:
        lines.append("  no reference data: no drift profile, suite or reference quality")
        return lines
    reference = registration.reference
    unscored = reference["unscored_rows"]
    lines.append(
        f"  reference {reference['path']}: {reference['rows']} rows scored"
        + (f", {unscored} the model could not score" if unscored else "")
    )
    metrics = registration.reference_quality.get("metrics", {})
    confidence = registration.reference_quality.get("confidence")
    shown = ", ".join(
        f"{name} {m['value']:.4g} [{m['lower']:.4g}, {m['upper']:.4g}]"
        for name, m in metrics.items()
    )
    lines.append(f"  reference quality ({confidence:.0%} intervals): {shown}")
    return lines


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
    reg = commands.add_parser(
        "register",
        help="register a model trained anywhere (any MLflow model URI) with its contract",
        description="Register an MLflow model (runs:/<run>/<path>, models:/<name>/<version>, "
        "models:/<name>@<alias>, models:/m-<id>, or a local model directory) as a new version "
        "of NAME, with its contract; with --reference, also its drift reference profile, an "
        "inferred validation suite and its reference quality. The first version becomes "
        "champion, later ones challenger.",
    )
    reg.add_argument("model_uri", metavar="MODEL_URI", help="an MLflow model URI or directory")
    reg.add_argument("--name", required=True, help="registered model name")
    reg.add_argument("--label", required=True, metavar="COL", help="the label column")
    reg.add_argument("--task", required=True, choices=("binary", "multiclass", "regression"))
    reg.add_argument("--id", metavar="COL", help="an id column (never a feature)")
    reg.add_argument("--timestamp", metavar="COL", help="a timestamp column (never a feature)")
    reg.add_argument(
        "--features",
        metavar="A,B,...",
        help="the features, for a model without a signature (default: the signature's "
        "inputs, else the reference's columns minus label, id and timestamp)",
    )
    reg.add_argument(
        "--positive-class",
        metavar="V",
        help="the positive class of a binary model (default 1, True, or the last label)",
    )
    reg.add_argument(
        "--reference",
        metavar="DATA",
        help="labelled data the model was not trained on (CSV or Parquet): drift reference, "
        "validation suite and reference quality",
    )
    reg.add_argument("--json", action="store_true", help="print one JSON document")
    _common(reg)
    reg.set_defaults(handler=_register, services=("mlflow",))

    registry = commands.add_parser("registry", help="model registry: alias history")
    sub = registry.add_subparsers(dest="registry_command", metavar="SUBCOMMAND")
    sub.required = True
    hist = sub.add_parser("history", help="every alias move of MODEL, oldest first")
    hist.add_argument("model", metavar="MODEL")
    hist.add_argument("--json", action="store_true", help="print one JSON list")
    _common(hist)
    hist.set_defaults(handler=_history, services=("mlflow",))

    prom = commands.add_parser("promote", help="make VERSION the champion of MODEL")
    prom.add_argument("model", metavar="MODEL")
    prom.add_argument("version", metavar="VERSION")
    prom.add_argument("--reason", default="manual promotion", help="recorded in the history")
    _common(prom)
    prom.set_defaults(handler=_promote, services=("mlflow", "prefect"))

    back = commands.add_parser(
        "rollback", help="undo the last promotion of MODEL (or move the champion --to VERSION)"
    )
    back.add_argument("model", metavar="MODEL")
    back.add_argument("--to", metavar="VERSION", help="make VERSION champion instead")
    back.add_argument("--reason", default="manual rollback", help="recorded in the history")
    back.add_argument("--json", action="store_true", help="print the alias event as JSON")
    _common(back)
    back.set_defaults(handler=_rollback, services=("mlflow", "prefect"))
