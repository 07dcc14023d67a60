"""Sub-commands of the validation concern (registered by :mod:`mlops_guard.cli`)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["register"]


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
    validate = commands.add_parser(
        "validate",
        help="validate a data file against an expectation suite; quarantine it if it fails",
        description="Validate DATA (CSV, CSV.gz or Parquet) against a Great Expectations suite. "
        "Exit 0: passed; 1: failed (the batch is quarantined whole, with a manifest); "
        "2: bad input.",
    )
    validate.add_argument("data", metavar="DATA", help="the batch to validate")
    validate.add_argument(
        "--suite",
        required=True,
        metavar="NAME_OR_PATH",
        help="a suite JSON file, or a name looked up in $MLOPS_GUARD_VALIDATION_EXPECTATIONS_DIR "
        "(default ./expectations) and then in the packaged suites",
    )
    validate.add_argument(
        "--quarantine-dir",
        metavar="DIR",
        help="where a failed batch is kept (default: <workdir>/quarantine)",
    )
    validate.add_argument(
        "--optional-column",
        action="append",
        default=[],
        metavar="COLUMN",
        help="a column the batch may lack (e.g. the label of a scoring batch); when absent, "
        "the suite's expectations about it are skipped (repeatable)",
    )
    validate.add_argument("--json", action="store_true", help="print one JSON document")
    validate.set_defaults(handler=_validate)

    expectations = commands.add_parser(
        "expectations", help="manage expectation suites", description="Manage expectation suites."
    )
    sub = expectations.add_subparsers(dest="expectations_command", metavar="COMMAND")
    sub.required = True
    init = sub.add_parser(
        "init",
        help="infer a suite from reference data",
        description="Infer a suite from reference data: column set and types, not-null or "
        "null-rate bounds, numeric ranges with a margin, category sets.",
    )
    init.add_argument("data", metavar="DATA", help="reference data (CSV, CSV.gz or Parquet)")
    init.add_argument("--name", required=True, help="suite name (also the file name)")
    init.add_argument(
        "--out",
        metavar="DIR",
        help="directory to write NAME.json in (default: $MLOPS_GUARD_VALIDATION_EXPECTATIONS_DIR "
        "or ./expectations)",
    )
    init.add_argument("--force", action="store_true", help="replace an existing suite file")
    init.add_argument("--json", action="store_true", help="print one JSON document")
    init.set_defaults(handler=_init)


def _validate(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json, progress
    from mlops_guard.data import read_table
    from mlops_guard.settings import load_settings
    from mlops_guard.validation._quarantine import quarantine_batch
    from mlops_guard.validation._settings import ValidationSettings
    from mlops_guard.validation._suite import load_suite

    vsettings = ValidationSettings()
    # The suite first: a typo in its name should not wait for a large file to load.
    suite = load_suite(args.suite, expectations_dir=vsettings.expectations_dir)
    with progress(enabled=not args.json) as bar:
        task = bar.add_task(f"reading {args.data}", total=None) if bar else None
        df = read_table(args.data)
        absent = [c for c in args.optional_column if c not in df.columns]
        if absent:
            suite = suite.without_columns(absent)
        if bar is not None and task is not None:
            bar.update(task, description=f"validating {len(df)} rows")
        result = _validate_cells(df, suite, str(args.data), vsettings)
    if not result.success:
        qdir = args.quarantine_dir or load_settings().quarantine_dir
        entry = quarantine_batch(df, result, qdir, str(args.data))
        result = result.with_quarantine(str(entry))
    if args.json:
        print_json(result.to_json())
    else:
        _print_result(console(), result)
    return 0 if result.success else 1


def _validate_cells(df: Any, suite: Any, source: str, vsettings: Any) -> Any:
    from mlops_guard.validation._validate import validate

    return validate(df, suite, source=source, settings=vsettings)


def _print_result(out: Any, result: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    style = "green" if result.success else "bold red"
    out.print(f"[{style}]{escape(result.summary())}[/]")
    if result.failed:
        table = Table("expectation", "column", "unexpected", "examples", "detail")
        for o in result.failed:
            examples = ", ".join(repr(v) for v in o.to_json()["unexpected_examples"])
            table.add_row(
                escape(o.expectation),
                escape(o.column or ""),
                str(o.unexpected_count),
                escape(examples),
                escape(o.detail or ""),
            )
        out.print(table)


def _init(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json
    from mlops_guard.data import read_table
    from mlops_guard.validation._infer import infer_suite
    from mlops_guard.validation._settings import ValidationSettings
    from mlops_guard.validation._suite import write_suite

    vsettings = ValidationSettings()
    df = read_table(args.data)
    suite = infer_suite(df, args.name, settings=vsettings)
    path = write_suite(suite, args.out or vsettings.expectations_dir, overwrite=args.force)
    if args.json:
        print_json(
            {
                "suite": suite.name,
                "path": str(path),
                "rows": len(df),
                "expectations": len(suite.expectations),
            }
        )
    else:
        console().print(
            f"wrote suite {suite.name!r} ({len(suite.expectations)} expectations from "
            f"{len(df)} rows) to {path}"
        )
    return 0
