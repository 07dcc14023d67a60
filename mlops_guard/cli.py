"""The ``mlops-guard`` command: parses arguments, calls the library, prints the result.

Each concern registers its own sub-commands from a ``_cli`` module (kept free of heavy imports,
so ``mlops-guard --help`` starts fast). Exit codes: 0 healthy, 1 a check found a problem, 2 bad
input or usage (one line on stderr, never a traceback), 3 a dependency was unavailable.

With ``--json``, a command that fails also prints ``{"error": {"kind", "message", "hint"}}`` on
stdout, so a script reading the JSON always has a document to parse.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from mlops_guard._console import error_line
from mlops_guard.errors import GuardError, ServiceUnavailable

__all__ = ["build_parser", "main"]

# The concerns that add sub-commands, in the order their commands appear in --help.
_COMMAND_MODULES = (
    "mlops_guard.pipelines._cli",
    "mlops_guard.validation._cli",
    "mlops_guard.drift._cli",
    "mlops_guard.quality._cli",
    "mlops_guard.registry._cli",
    "mlops_guard.canary._cli",
    "mlops_guard.alerts._cli",
    "mlops_guard.monitors._cli",
    "mlops_guard.traces._cli",
    "mlops_guard.drills._cli",
    "mlops_guard.serving._cli",
    "mlops_guard.report._cli",
)

EXIT_INTERNAL = 70  # EX_SOFTWARE from sysexits.h: a bug in mlops-guard, not in the input


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus the exit code 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        if "the following arguments are required: COMMAND" in message:
            # An unknown option before any command: argparse blames the missing command.
            unknown = (
                [a for a in sys.argv[1:] if a.startswith("-")]
                if _ARGV is None
                else [a for a in _ARGV if a.startswith("-")]
            )
            if unknown:
                message = f"unrecognized arguments: {' '.join(unknown)}"
        _fail("UsageError", f"{message} (see '{self.prog} --help')", None)
        raise SystemExit(2)


# The argv being parsed (for the error envelope of usage errors), and whether --json was asked.
_ARGV: list[str] | None = None


def _json_asked() -> bool:
    argv = sys.argv[1:] if _ARGV is None else _ARGV
    return "--json" in argv


def _fail(kind: str, message: str, hint: str | None) -> None:
    """The one stderr line, and the JSON error document on stdout under ``--json``."""
    from mlops_guard._console import json_written

    error_line(message if not hint else f"{message}; {hint}")
    if _json_asked() and not json_written():
        from mlops_guard._console import print_json, printable

        print_json(
            {
                "error": {
                    "kind": kind,
                    "message": printable(" ".join(message.split())),
                    "hint": None if hint is None else printable(" ".join(hint.split())),
                }
            }
        )


class _VersionAction(argparse.Action):
    """``--version``, looking the version up only when asked: importlib.metadata costs every
    other command tens of milliseconds of start-up."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="show the version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_args: object, **_kw: object) -> None:
        from importlib.metadata import PackageNotFoundError, version

        try:
            own_version = version("mlops-guard")
        except PackageNotFoundError:  # running from a source tree that was not installed
            own_version = "unknown"
        # On stdout, as argparse's own version action prints it.
        sys.stdout.write(f"mlops-guard {own_version}\n")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="mlops-guard",
        description="Reliability guards for ML pipelines on Prefect: validation, drift, "
        "canary releases, rollback, alerting.",
    )
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    commands.required = True
    for module_name in _COMMAND_MODULES:
        importlib.import_module(module_name).register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    # MLflow logs at INFO on import (schema migrations, registrations); the CLI prints its own
    # results, so MLflow says only warnings unless the user asks for more.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    global _ARGV
    _ARGV = list(argv) if argv is not None else None
    from mlops_guard._console import reset_json_written

    reset_json_written()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return exc.code if isinstance(exc.code, int) else 0
    handler = args.handler
    try:
        _preflight(args)
        code = handler(args)
    except GuardError as exc:
        _fail(type(exc).__name__, exc.message, exc.hint)
        return exc.exit_code
    except KeyboardInterrupt:
        _fail("Interrupted", "interrupted", None)
        return 130
    except Exception as exc:
        if os.environ.get("MLOPS_GUARD_DEBUG"):
            raise
        unavailable = _unavailable(exc)
        if unavailable is not None:
            _fail(type(unavailable).__name__, unavailable.message, unavailable.hint)
            return unavailable.exit_code
        _fail(
            "InternalError",
            f"internal error {type(exc).__name__}: {exc}",
            "this is a bug in mlops-guard, rerun with MLOPS_GUARD_DEBUG=1 for a traceback "
            "and report it",
        )
        return EXIT_INTERNAL
    return int(code or 0)


def _preflight(args: argparse.Namespace) -> None:
    """The services the command declared it needs (``set_defaults(services=...)``) answer,
    checked before any work starts: an outage is exit 3 in seconds, naming the service."""
    services = getattr(args, "services", ())
    if not services:
        return
    from mlops_guard._services import require_mlflow, require_prefect
    from mlops_guard.settings import load_settings

    if "mlflow" in services:
        require_mlflow(load_settings(tracking_uri=getattr(args, "tracking_uri", None)))
    if "prefect" in services:
        require_prefect()


def _unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """A foreign error that means a service did not answer, as a :class:`ServiceUnavailable`
    naming it; None for anything else (a bug, reported as one).

    The last line of defence: calls that can block are bounded and wrapped where they are
    made; this catches what a library raised from deeper down (a connection refused inside
    Prefect's client, MLflow's HTTP session).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found = _service_error(current)
        if found is not None:
            return found
        current = current.__cause__ or current.__context__
    return None


def _service_error(exc: BaseException) -> ServiceUnavailable | None:
    httpx = sys.modules.get("httpx")
    if httpx is not None and isinstance(exc, (httpx.ConnectError, httpx.TimeoutException)):
        request = getattr(exc, "_request", None)
        address = str(request.url.copy_with(query=None)) if request is not None else "its address"
        return ServiceUnavailable(
            f"Prefect's API at {address} did not answer ({type(exc).__name__})",
            hint="check PREFECT_API_URL and that the server is up",
        )
    requests = sys.modules.get("requests")
    if requests is not None and isinstance(exc, (requests.ConnectionError, requests.Timeout)):
        from mlops_guard.registry._client import _redact
        from mlops_guard.settings import GuardSettings

        return ServiceUnavailable(
            f"MLflow at {_redact(GuardSettings().mlflow_tracking_uri)} did not answer "
            f"({type(exc).__name__})",
            hint="check MLOPS_GUARD_TRACKING_URI and that the store is up",
        )
    # Prefect raises a plain RuntimeError when its ephemeral API server does not start in time.
    if isinstance(exc, RuntimeError) and "ephemeral" in str(exc).lower():
        detail = " ".join(str(exc).split())[:200]
        return ServiceUnavailable(
            f"Prefect's local API server did not start in time ({detail})",
            hint="retry, raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, or point "
            "PREFECT_API_URL at a running server",
        )
    return None


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
