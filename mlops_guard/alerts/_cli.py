"""Sub-commands of the alerts concern (registered by :mod:`mlops_guard.cli`)."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

_STATES = ("pending", "processing", "done", "failed", "recorded", "skipped")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
    alerts = commands.add_parser(
        "alerts", help="the Alertmanager webhook receiver that rolls models back"
    )
    sub = alerts.add_subparsers(dest="alerts_command", metavar="SUBCOMMAND")
    sub.required = True

    serve = sub.add_parser(
        "serve",
        help="receive Alertmanager webhooks on POST /alertmanager and act on them",
        description="Alerts labelled action=rollback and model=NAME roll that model back once. "
        "Token: MLOPS_GUARD_WEBHOOK_TOKEN (required beyond 127.0.0.1).",
    )
    serve.add_argument("--host", default=None, help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 9095)")
    serve.add_argument("--store", default=None, help="inbox SQLite file")
    serve.set_defaults(handler=_serve)

    inbox = sub.add_parser("inbox", help="list the alerts the receiver stored")
    inbox.add_argument("--state", choices=_STATES, default=None, help="only rows in this state")
    inbox.add_argument("--store", default=None, help="inbox SQLite file")
    inbox.add_argument("--json", action="store_true", help="print one JSON document")
    inbox.set_defaults(handler=_inbox)


def _alerts_settings(args: argparse.Namespace) -> Any:
    from mlops_guard.alerts._settings import AlertsSettings

    overrides = {"store": args.store} if args.store else {}
    return AlertsSettings(**overrides)


class _ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The receiver's lines on stderr, one per event, with a timestamp."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)
        self.setFormatter(logging.Formatter("%(asctime)s mlops-guard %(levelname)s %(message)s"))


def _show_receiver_log() -> None:
    """INFO and above of ``mlops_guard.alerts`` on stderr: where the receiver listens, the
    warm-up, and one line per alert acted on. Only here, in the command: the library never
    configures logging for the process that embeds it."""
    logger = logging.getLogger("mlops_guard.alerts")
    if not any(isinstance(handler, _ConsoleHandler) for handler in logger.handlers):
        logger.addHandler(_ConsoleHandler())
    logger.setLevel(logging.INFO)
    # Printed once: Prefect's logging setup (event and deployment modes import it) puts a
    # console handler on the root logger that would print every warning a second time.
    logger.propagate = False


def _serve(args: argparse.Namespace) -> int:
    from mlops_guard.alerts._receiver import serve
    from mlops_guard.errors import ConfigError
    from mlops_guard.settings import load_settings

    if args.port is not None and not 0 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port} is not a port", hint="use 0-65535")
    _show_receiver_log()
    serve(
        args.host,
        args.port,
        guard_settings=load_settings(),
        settings=_alerts_settings(args),
    )
    return 0


def _inbox(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json, safe
    from mlops_guard.alerts._store import AlertStore
    from mlops_guard.errors import AlertError, DataNotFound
    from mlops_guard.settings import load_settings

    path = _alerts_settings(args).store_path(load_settings().workdir)
    if not path.exists():
        raise DataNotFound(
            f"alert inbox {str(path)!r} does not exist",
            hint="start 'mlops-guard alerts serve' first, or pass --store",
        )
    if not path.is_file():
        raise DataNotFound(
            f"alert inbox {str(path)!r} is not a file",
            hint="pass the inbox SQLite file with --store",
        )
    with AlertStore(path) as store:
        try:
            rows = store.list(state=args.state)
        except (ValueError, TypeError) as exc:  # a row whose stored JSON was edited by hand
            raise AlertError(
                f"alert inbox {str(path)!r} holds a row that cannot be read ({exc})",
                hint="move the file away (it is kept for inspection) and restart the receiver",
            ) from exc
    if args.json:
        print_json(rows)
        return 0
    out = console()
    if not rows:
        out.print("no alerts")
    for row in rows:
        # Every value but the id came over the webhook or from the store: safe() keeps a label
        # from styling the line, breaking rich's markup, or moving the terminal's cursor.
        out.print(
            f"{row.id:>5}  {safe(row.received_at)}  {safe(row.state):<10} {safe(row.status):<8} "
            f"{safe(row.alertname)} fp={safe(row.fingerprint)} model={safe(row.model or '-')} "
            f"deliveries={row.deliveries} {safe(row.note or row.last_error or '')}",
            soft_wrap=True,
        )
    return 0
