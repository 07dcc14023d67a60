"""Sub-commands of the registry concern (registered by :mod:`mlops_guard.cli`).

``registry history MODEL``, ``promote MODEL VERSION``, ``rollback MODEL``. Handlers parse, call
:mod:`mlops_guard.registry` and print; errors travel as GuardError to ``cli.main``.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.registry._history import AliasEvent
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


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
    registry = commands.add_parser("registry", help="model registry: alias history")
    sub = registry.add_subparsers(dest="registry_command", metavar="SUBCOMMAND")
    sub.required = True
    hist = sub.add_parser("history", help="every alias move of MODEL, oldest first")
    hist.add_argument("model", metavar="MODEL")
    hist.add_argument("--json", action="store_true", help="print one JSON list")
    _common(hist)
    hist.set_defaults(handler=_history)

    prom = commands.add_parser("promote", help="make VERSION the champion of MODEL")
    prom.add_argument("model", metavar="MODEL")
    prom.add_argument("version", metavar="VERSION")
    prom.add_argument("--reason", default="manual promotion", help="recorded in the history")
    _common(prom)
    prom.set_defaults(handler=_promote)

    back = commands.add_parser(
        "rollback", help="undo the last promotion of MODEL (or move the champion --to VERSION)"
    )
    back.add_argument("model", metavar="MODEL")
    back.add_argument("--to", metavar="VERSION", help="make VERSION champion instead")
    back.add_argument("--reason", default="manual rollback", help="recorded in the history")
    back.add_argument("--json", action="store_true", help="print the alias event as JSON")
    _common(back)
    back.set_defaults(handler=_rollback)
