"""The ``mlops-guard`` command: parses arguments, calls the library, prints the result.

Each concern registers its own sub-commands from a ``_cli`` module (kept free of heavy imports,
so ``mlops-guard --help`` starts fast). Exit codes: 0 healthy, 1 a check found a problem, 2 bad
input or usage (one line on stderr, never a traceback), 3 a dependency was unavailable.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from mlops_guard._console import error_line
from mlops_guard.errors import GuardError

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
)

EXIT_INTERNAL = 70  # EX_SOFTWARE from sysexits.h: a bug in mlops-guard, not in the input


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (plus the exit code 2), not a usage dump."""

    def error(self, message: str) -> NoReturn:
        error_line(f"{message} (see '{self.prog} --help')")
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    from importlib.metadata import PackageNotFoundError, version

    try:
        own_version = version("mlops-guard")
    except PackageNotFoundError:  # running from a source tree that was not installed
        own_version = "unknown"
    parser = _Parser(
        prog="mlops-guard",
        description="Reliability guards for ML pipelines on Prefect: validation, drift, "
        "canary releases, rollback, alerting.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-guard {own_version}")
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
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return exc.code if isinstance(exc.code, int) else 0
    handler = args.handler
    try:
        code = handler(args)
    except GuardError as exc:
        error_line(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        error_line("interrupted")
        return 130
    except Exception as exc:
        if os.environ.get("MLOPS_GUARD_DEBUG"):
            raise
        error_line(
            f"internal error {type(exc).__name__}: {exc}; this is a bug in mlops-guard, "
            "rerun with MLOPS_GUARD_DEBUG=1 for a traceback and report it"
        )
        return EXIT_INTERNAL
    return int(code or 0)


def run() -> NoReturn:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
