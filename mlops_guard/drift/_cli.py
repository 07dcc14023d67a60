"""Sub-commands of the drift concern (registered by :mod:`mlops_guard.cli`).

``mlops-guard profile DATA --out PROFILE`` and
``mlops-guard drift REFERENCE CURRENT [--html PATH] [--json] [--fail-on-drift [--strict]]``.
Handlers parse, call the library, print; nothing heavy is imported until a handler runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlops_guard.drift._engine import DriftReport

__all__ = ["register"]

_TESTS = ("ks", "chisquare", "z", "wasserstein", "jensenshannon", "psi", "hellinger")


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add this concern's sub-commands. Import nothing heavy here: --help must stay fast."""
    profile = commands.add_parser(
        "profile",
        help="build a reference profile for drift checks",
        description="Profile reference data (CSV or Parquet) in chunks, with bounded memory, "
        "into a versioned JSON profile that 'mlops-guard drift' accepts as REFERENCE.",
    )
    profile.add_argument("data", metavar="DATA", help="reference data file (CSV or Parquet)")
    profile.add_argument("--out", required=True, metavar="PROFILE", help="profile to write")
    profile.add_argument(
        "--chunk-rows", type=_chunk_rows, default=None, metavar="N", help="rows read at a time"
    )
    profile.add_argument("--json", action="store_true", help="print a JSON summary")
    profile.set_defaults(handler=_profile)

    drift = commands.add_parser(
        "drift",
        help="compare current data with a reference (data file or profile)",
        description="Evidently-compatible drift check (Evidently 0.7's DataDriftPreset "
        "without a data definition: kinds decided on the current data, text columns tested "
        "with its domain classifier, nothing excluded by name). Every column is reported, "
        "tested or skipped with the reason. Exit 0 when done (drift or not), 1 with "
        "--fail-on-drift when the data set drifted, 2 on bad input.",
    )
    drift.add_argument("reference", metavar="REFERENCE", help="data file or profile (.json)")
    drift.add_argument("current", metavar="CURRENT", help="current data file")
    drift.add_argument("--html", metavar="PATH", help="also write Evidently's HTML report")
    drift.add_argument("--json", action="store_true", help="print the result as JSON")
    drift.add_argument(
        "--fail-on-drift", action="store_true", help="exit 1 when the data set drifted"
    )
    drift.add_argument(
        "--strict",
        action="store_true",
        help="with --fail-on-drift, also exit 1 when a column is missing from one data set or "
        "changed type",
    )
    drift.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="COLUMN",
        help="column not to check (ids, timestamps); repeatable",
    )
    drift.add_argument(
        "--output",
        action="append",
        default=[],
        metavar="COLUMN",
        help="model output: tested as prediction drift, outside the drift share; repeatable",
    )
    drift.add_argument(
        "--scored-batches",
        action="store_true",
        help="the files are scored batches written by mlops-guard: their score and prediction "
        "are tested as prediction drift, model_version, batch_id and scored_at not at all",
    )
    drift.add_argument(
        "--dates",
        choices=("strings", "parse"),
        default="strings",
        help="CSV dates: kept as text, as pandas reads them and Evidently sees them "
        "(default), or parsed into timestamps (then reported as skipped datetime columns)",
    )
    drift.add_argument(
        "--na-value",
        action="append",
        default=None,
        metavar="TEXT",
        help="a CSV string read as missing; repeatable; replaces the default, pandas' list "
        "('', NA, N/A, n/a, #N/A, <NA>, NULL, null, NaN, nan, None, ...)",
    )
    drift.add_argument(
        "--test",
        action="append",
        default=[],
        metavar="COLUMN=TEST",
        help=f"test for one column ({', '.join(_TESTS)}); repeatable",
    )
    drift.add_argument(
        "--threshold",
        action="append",
        default=[],
        metavar="COLUMN=VALUE",
        help="threshold for one column; repeatable",
    )
    drift.add_argument(
        "--correction",
        choices=("none", "bonferroni", "benjamini_hochberg"),
        default=None,
        help="multiple-testing correction over p-value tests",
    )
    drift.set_defaults(handler=_drift)


# Above this a chunk is the whole file for any data set the profile is meant for, and memory
# stops being bounded, which is what chunks are for.
_MAX_CHUNK_ROWS = 100_000_000


def _chunk_rows(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of rows") from None
    if not 1 <= value <= _MAX_CHUNK_ROWS:
        raise argparse.ArgumentTypeError(
            f"{text!r} is out of range: give 1 to {_MAX_CHUNK_ROWS:,} rows"
        )
    return value


def _drift_settings() -> Any:
    """The drift settings from the environment (a bad value is a ConfigError, exit 2)."""
    from mlops_guard.drift._settings import DriftSettings

    return DriftSettings()


def _pairs(values: list[str], option: str) -> dict[str, str]:
    from mlops_guard.errors import UsageError

    found: dict[str, str] = {}
    for value in values:
        column, sep, setting = value.partition("=")
        if not sep or not column or not setting:
            raise UsageError(
                f"{option} {value!r} is not COLUMN=VALUE", hint=f"e.g. {option} age=0.2"
            )
        found[column] = setting
    return found


def _profile(args: argparse.Namespace) -> int:
    from mlops_guard._console import console, print_json, progress, safe
    from mlops_guard._paths import check_output_path
    from mlops_guard.drift._profile import build_profile

    # Before reading DATA: profiling a large file and then failing to write is wasted work.
    check_output_path(args.out, "--out", inputs=[args.data])
    with progress(enabled=not args.json) as bar:
        task = bar.add_task("profiling", total=None) if bar is not None else None

        def on_chunk(rows: int) -> None:
            if bar is not None and task is not None:
                bar.update(task, description=f"profiling: {rows:,} rows")

        profile = build_profile(args.data, chunk_rows=args.chunk_rows, on_chunk=on_chunk)
    path = profile.save(args.out)
    summary = {
        "profile": str(path),
        "rows": profile.rows,
        "columns": len(profile.columns),
        "exact": profile.exact,
        "bytes": path.stat().st_size,
    }
    if args.json:
        print_json(summary)
    else:
        exactness = "exact" if profile.exact else "some columns rounded (see error_bound)"
        console().print(
            f"profile of {profile.rows:,} rows x {len(profile.columns)} columns written to "
            f"{safe(path)} ({summary['bytes']:,} bytes, {exactness})"
        )
    return 0


def _load_reference(path: str, *, na_values: list[str] | None, dates: Any) -> Any:
    from mlops_guard.data import read_arrow
    from mlops_guard.drift._profile import load_profile

    if Path(path).name.lower().endswith(".json"):
        return load_profile(path)
    return read_arrow(path, na_values=na_values, dates=dates, dictionary_strings=True)


def _drift(args: argparse.Namespace) -> int:  # noqa: PLR0912 - one branch per option
    import math

    from mlops_guard._console import print_json
    from mlops_guard._paths import check_output_path
    from mlops_guard.data import read_arrow
    from mlops_guard.drift._engine import DriftConfig, detect_drift
    from mlops_guard.errors import UsageError

    if args.html:
        check_output_path(args.html, "--html", inputs=[args.reference, args.current])
    if args.strict and not args.fail_on_drift:
        raise UsageError("--strict only changes --fail-on-drift", hint="add --fail-on-drift")
    thresholds: dict[str, float] = {}
    for column, value in _pairs(args.threshold, "--threshold").items():
        try:
            thresholds[column] = float(value)
        except ValueError as exc:
            raise UsageError(
                f"--threshold {column}={value!r} is not a number", hint="e.g. --threshold age=0.2"
            ) from exc
        if not math.isfinite(thresholds[column]) or thresholds[column] <= 0:
            raise UsageError(
                f"--threshold {column}={value!r} must be a finite number above 0",
                hint="p-value tests take a significance level (e.g. 0.05), distances a "
                "cut-off (e.g. 0.1)",
            )
    tests = _pairs(args.test, "--test")
    for column, test in tests.items():
        if test not in _TESTS:
            raise UsageError(
                f"--test {column}={test!r} names no known test", hint=f"use one of {_TESTS}"
            )
    settings = _drift_settings()
    exclude: tuple[str, ...] | None = None
    outputs: tuple[str, ...] | None = None
    if args.scored_batches:
        scored = DriftConfig.for_scored_batches(settings)
        exclude, outputs = tuple(scored.exclude or ()), tuple(scored.outputs or ())
    if args.exclude:
        exclude = (*(exclude or settings.exclude_columns), *args.exclude)
    if args.output:
        outputs = (*(outputs or ()), *args.output)
    config = DriftConfig(
        settings=settings,
        column_tests=tests,  # type: ignore[arg-type]
        column_thresholds=thresholds,
        correction=args.correction,
        exclude=exclude,
        outputs=outputs,
    )
    reference = _load_reference(args.reference, na_values=args.na_value, dates=args.dates)
    # Arrow tables, not DataFrames: the check needs no pandas (its import alone is a third of
    # a small check's time), and strings stay in Arrow's buffers.
    current = read_arrow(
        args.current, na_values=args.na_value, dates=args.dates, dictionary_strings=True
    )
    report = detect_drift(reference, current, config=config)
    if args.html:
        from mlops_guard.drift._evidently import write_evidently_html

        write_evidently_html(
            reference if not hasattr(reference, "to_pandas") else reference.to_pandas(),
            current.to_pandas(),
            args.html,
            settings=config.settings,
            report=report,
        )
    if args.json:
        print_json(report.to_json())
    else:
        _print_report(report, html=args.html)
    if args.fail_on_drift and (report.dataset_drift or (args.strict and bool(report.schema))):
        return 1
    return 0


def _print_report(report: DriftReport, *, html: str | None) -> None:
    from rich.table import Table

    from mlops_guard._console import console, safe

    table = Table(title="drift by column")
    for header in ("column", "kind", "test", "statistic", "threshold", "drifted"):
        table.add_column(header)
    # Column names come from the data: rich would read "[/b]" in one as markup.
    names = report.order or (*report.columns, *report.skipped)
    for name in names:
        if name in report.columns:
            column = report.columns[name]
            table.add_row(
                safe(name),
                column.kind,
                column.test,
                f"{column.statistic:.4g}",
                f"{column.threshold:.4g}",
                "[red]yes[/red]" if column.drifted else "no",
            )
        elif name in report.skipped:
            skipped = report.skipped[name]
            table.add_row(
                safe(name), skipped.kind, "-", "-", "-", f"skipped: {safe(skipped.reason)}"
            )
    out = console()
    out.print(table)
    verdict = "[red]DRIFT[/red]" if report.dataset_drift else "[green]no drift[/green]"
    out.print(
        f"{verdict}: {len(report.drifted_columns)}/{len(report.columns)} columns drifted "
        f"(share {report.drift_share:.2f}, threshold {report.share_threshold:.2f}); "
        f"rows: reference {report.reference_rows:,}, current {report.current_rows:,}"
    )
    if report.outputs:
        outputs = ", ".join(
            f"{safe(name)} {column.test} {column.statistic:.4g}"
            f"{' [red]drifted[/red]' if column.drifted else ''}"
            for name, column in report.outputs.items()
        )
        state = "[red]yes[/red]" if report.prediction_drift else "no"
        out.print(f"prediction drift: {state} (model outputs, not in the share: {outputs})")
    notes = [(name, c.note) for name, c in report.columns.items() if c.note]
    for name, note in notes:
        out.print(f"note on {safe(name)}: {safe(note)}")
    schema = report.schema
    if schema:
        parts = []
        if schema.missing:
            parts.append("missing from the current data: " + ", ".join(map(safe, schema.missing)))
        if schema.extra:
            parts.append("not in the reference: " + ", ".join(map(safe, schema.extra)))
        if schema.changed:
            parts.append("type changed: " + ", ".join(map(safe, schema.changed)))
        out.print("[yellow]schema changed[/yellow]: " + "; ".join(parts))
    if html:
        out.print(f"Evidently HTML report: {safe(html)}")
