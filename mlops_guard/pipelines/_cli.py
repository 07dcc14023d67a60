"""Sub-commands that run pipelines: ``demo``, ``train``, ``score`` and ``data make``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from mlops_guard.errors import UsageError


def register(commands: argparse._SubParsersAction[Any]) -> None:
    """Add the pipeline sub-commands. Nothing heavy is imported here."""
    demo = commands.add_parser(
        "demo",
        help="run the whole guarded pipeline story on embedded defaults",
        description="Train v1 (champion), score clean and drifted batches, train v2 "
        "(challenger), in a fresh working directory with a SQLite MLflow store and Prefect's "
        "local server.",
    )
    demo.add_argument(
        "--workdir",
        type=Path,
        help="a new or empty directory (default: .mlops-guard/demo-<UTC time>)",
    )
    demo.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    demo.add_argument("--verbose", action="store_true", help="show Prefect's run logs")
    demo.set_defaults(handler=_demo)

    train = commands.add_parser("train", help="train and register a model version on DATA")
    train.add_argument("data", type=Path, metavar="DATA", help="CSV or Parquet with the label")
    train.add_argument("--model", help="registered model name (default: MLOPS_GUARD_MODEL_NAME)")
    train.add_argument(
        "--trainer",
        metavar="PKG.MOD:FN",
        help="your fit(train_frame) -> model (default: the demo's churn model)",
    )
    train.add_argument("--label", metavar="COL", help="the label column (with --trainer)")
    train.add_argument(
        "--task", choices=("binary", "multiclass", "regression"), help="with --trainer"
    )
    train.add_argument("--id", dest="id_column", metavar="COL", help="the id column, if any")
    train.add_argument(
        "--timestamp", dest="timestamp_column", metavar="COL", help="the timestamp column"
    )
    train.add_argument("--workdir", type=Path, help="working directory (MLOPS_GUARD_WORKDIR)")
    train.add_argument("--json", action="store_true", help="print the result as JSON")
    train.add_argument("--verbose", action="store_true", help="show Prefect's run logs")
    train.set_defaults(handler=_train, services=("mlflow", "prefect"))

    score = commands.add_parser("score", help="score DATA with the champion model")
    score.add_argument("data", type=Path, metavar="DATA", help="CSV or Parquet batch")
    score.add_argument("--model", help="registered model name (default: MLOPS_GUARD_MODEL_NAME)")
    score.add_argument("--batch-id", help="name of the batch (default: time and a random suffix)")
    score.add_argument("--workdir", type=Path, help="working directory (MLOPS_GUARD_WORKDIR)")
    score.add_argument("--json", action="store_true", help="print the result as JSON")
    score.add_argument("--verbose", action="store_true", help="show Prefect's run logs")
    score.set_defaults(handler=_score, services=("mlflow", "prefect"))

    data = commands.add_parser("data", help="synthetic data for demos, tests and drills")
    data_commands = data.add_subparsers(dest="data_command", metavar="COMMAND")
    data_commands.required = True
    make = data_commands.add_parser(
        "make",
        help="write a seeded synthetic churn data set",
        description="Write a seeded synthetic churn data set (10 numerical and 3 categorical "
        "features, an id, a timestamp, a label), optionally drifted or corrupted.",
    )
    make.add_argument("out", type=Path, metavar="OUT", help=".csv, .csv.gz or .parquet")
    make.add_argument("--rows", type=_positive_int, default=10_000)
    make.add_argument("--seed", type=int, default=0)
    make.add_argument(
        "--drift",
        action="append",
        default=[],
        metavar="COLUMN=SHIFT",
        help="covariate drift: numerical shift in standard deviations, or categorical share "
        "moved to the rarest category (repeatable)",
    )
    make.add_argument(
        "--concept-drift", type=float, default=0.0, metavar="F", help="0..1, label model reversal"
    )
    make.add_argument(
        "--corrupt",
        action="append",
        default=[],
        metavar="KIND:RATE:COL[,COL]",
        help="KIND is nulls, out-of-range, unseen or wrong-type (repeatable)",
    )
    make.add_argument("--no-label", action="store_true", help="drop the label (a scoring batch)")
    make.set_defaults(handler=_data_make)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def _quiet(verbose: bool) -> None:
    """Keep the orchestrator's and MLflow's console output out of the CLI's: one summary, or
    one error line (logs still reach the orchestrator and the run log file). ``--verbose``
    keeps them."""
    if verbose:
        return
    import mlflow  # noqa: F401 - its logging set-up runs on import; quiet it after that

    from mlops_guard._events import quiet_consoles

    quiet_consoles()
    for name in ("mlflow", "alembic", "httpx"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _settings(args: argparse.Namespace) -> Any:
    from mlops_guard.settings import load_settings

    return load_settings(workdir=getattr(args, "workdir", None), model_name=args.model)


def _check_data(path: Path) -> None:
    # Fail fast, before Prefect starts, on a path that cannot be data.
    from mlops_guard.data import data_format
    from mlops_guard.data._io import _check_path

    _check_path(path)
    data_format(path)


def _train(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _check_data(args.data)
    _quiet(args.verbose)
    from mlops_guard._console import console, print_json
    from mlops_guard._events import as_flow
    from mlops_guard.pipelines._training import TRAINING_FLOW, run_training

    if args.trainer is None and (args.label or args.task):
        from mlops_guard.errors import UsageError

        raise UsageError(
            "--label and --task describe your own model: pass them with --trainer",
            hint="e.g. mlops-guard train DATA --trainer pkg.mod:fit --label y --task binary",
        )
    if args.trainer is not None:
        import sys

        # A trainer in the user's project, run from its directory, imports as it would there.
        sys.path.insert(0, str(Path.cwd()))
    result = as_flow(TRAINING_FLOW, run_training)(
        str(args.data),
        settings=settings,
        trainer=args.trainer,
        label=args.label,
        task=args.task,
        id_column=args.id_column,
        timestamp_column=args.timestamp_column,
    )
    if args.json:
        print_json(result)
    else:
        shown = ", ".join(
            f"{k.removeprefix('test_')} {v:.3f}"
            for k, v in result.metrics.items()
            if k != "test_rows"
        )
        console().print(
            f"registered [bold]{result.model}[/] v{result.version} as {result.alias} "
            f"({shown}; {result.rows} rows)"
        )
    return 0


def _score(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _check_data(args.data)
    _quiet(args.verbose)
    from mlops_guard._console import console, print_json
    from mlops_guard._events import as_flow
    from mlops_guard.pipelines._inference import INFERENCE_FLOW, run_inference

    result = as_flow(INFERENCE_FLOW, run_inference)(
        str(args.data), batch_id=args.batch_id, settings=settings
    )
    if args.json:
        print_json(result)
    else:
        console().print(
            f"scored {result.rows_scored} rows with {result.model} v{result.model_version} "
            f"-> {result.predictions_path}"
        )
    return 0


def _demo(args: argparse.Namespace) -> int:
    import os

    from mlops_guard.demo._story import prepare_workdir

    # The demo runs on embedded defaults with no network: telemetry off unless the user says.
    for name, value in {
        "DO_NOT_TRACK": "1",
        "EVIDENTLY_DISABLE_TELEMETRY": "1",
        "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }.items():
        os.environ.setdefault(name, value)

    workdir = prepare_workdir(args.workdir)
    _quiet(args.verbose)
    from mlops_guard._console import print_json
    from mlops_guard._events import as_flow
    from mlops_guard.demo._story import DEMO_FLOW, tell_story

    summary = as_flow(DEMO_FLOW, tell_story)(
        str(workdir), on_step=None if args.json else _print_step
    )
    if args.json:
        print_json(summary)
    else:
        _print_demo(summary)
    return 0


_MARKS = {"ok": "[green]ok[/]", "problem-found": "[yellow]caught[/]", "failed": "[red]failed[/]"}


def _print_step(step: Any) -> None:
    from mlops_guard._console import console

    mark = _MARKS.get(step.status, step.status)
    console().print(f"{mark:>22} {step.name} ({step.seconds:.1f} s): {step.note}")


def _print_demo(summary: Any) -> None:
    from rich.table import Table

    from mlops_guard._console import console

    out = console()
    history = Table(title="alias history (from MLflow)", title_justify="left")
    for column in ("at", "alias", "from", "to", "actor", "reason"):
        history.add_column(column)
    for event in summary.alias_history:
        history.add_row(
            str(event["at"])[11:19],
            event["alias"],
            str(event["from_version"] or "-"),
            str(event["to_version"] or "-"),
            event["actor"],
            event["reason"],
        )
    out.print(history)
    versions = ", ".join(
        f"v{v['version']}" + (f" ({', '.join(v['aliases'])})" if v["aliases"] else "")
        for v in summary.versions
    )
    out.print(f"model [bold]{summary.model}[/]: {versions}")
    for name, path in summary.artifacts.items():
        if not name.startswith("data_"):
            out.print(f"  {name}: {path}")
    out.print(f"demo finished in {summary.seconds:.1f} s in {summary.workdir}")


_CORRUPTIONS = {
    "nulls": ("null_rate", "null_columns"),
    "out-of-range": ("out_of_range_rate", "out_of_range_columns"),
    "unseen": ("unseen_category_rate", "unseen_category_columns"),
    "wrong-type": ("wrong_type_rate", "wrong_type_columns"),
}


def _parse_drift(items: list[str]) -> dict[str, float]:
    drift: dict[str, float] = {}
    for item in items:
        column, sep, value = item.partition("=")
        try:
            drift[column] = float(value)
        except ValueError:
            sep = ""
        if not sep or not column:
            raise UsageError(
                f"--drift {item!r} is not COLUMN=SHIFT", hint="for example --drift age=0.5"
            )
    return drift


def _parse_corruption(items: list[str]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for item in items:
        parts = item.split(":")
        if len(parts) != 3 or parts[0] not in _CORRUPTIONS:
            raise UsageError(
                f"--corrupt {item!r} is not KIND:RATE:COL[,COL]",
                hint=f"KIND is one of {', '.join(_CORRUPTIONS)}; e.g. --corrupt nulls:0.1:age",
            )
        kind, rate_text, columns = parts
        try:
            rate = float(rate_text)
        except ValueError:
            rate = -1.0
        if not 0.0 <= rate <= 1.0:
            raise UsageError(f"--corrupt rate {rate_text!r} must be in [0, 1]", hint="e.g. 0.05")
        rate_field, columns_field = _CORRUPTIONS[kind]
        fields[rate_field] = rate
        fields[columns_field] = tuple(c for c in columns.split(",") if c)
    return fields


def _data_make(args: argparse.Namespace) -> int:
    import math

    from mlops_guard._paths import check_output_path
    from mlops_guard.data import data_format
    from mlops_guard.demo import (
        CATEGORICAL_FEATURES,
        FEATURES,
        LABEL,
        Corruption,
        SyntheticSpec,
    )

    data_format(args.out)
    check_output_path(args.out, "OUT")
    # Every row is generated in memory at once: this many already need tens of gigabytes, so
    # more is a typo, not a data set.
    if args.rows > 50_000_000:
        raise UsageError(f"--rows {args.rows} is too many", hint="pass at most 50,000,000")
    if args.seed < 0:
        raise UsageError(f"--seed {args.seed} is negative", hint="pass a seed of 0 or more")
    if not 0.0 <= args.concept_drift <= 1.0:  # also NaN
        raise UsageError(
            f"--concept-drift {args.concept_drift} must be in [0, 1]",
            hint="0 keeps the label model, 1 fully reverses it",
        )
    drift = _parse_drift(args.drift)
    for column, shift in drift.items():
        if column not in FEATURES:
            raise UsageError(
                f"--drift names unknown column {column!r}",
                hint=f"choose from {', '.join(FEATURES)}",
            )
        if column in CATEGORICAL_FEATURES and not 0.0 <= shift <= 1.0:
            raise UsageError(
                f"--drift {column}={shift} is a share of rows, so it must be in [0, 1]",
                hint=f"e.g. --drift {column}=0.3 moves 30% of rows to its rarest category",
            )
        # Beyond 1000 standard deviations the values are no longer data, and at the far end
        # they overflow to infinity.
        if not (math.isfinite(shift) and abs(shift) <= 1000.0):
            raise UsageError(
                f"--drift {column}={shift} must be a finite shift within +/-1000 standard "
                "deviations",
                hint=f"e.g. --drift {column}=0.5",
            )
    corruption = _parse_corruption(args.corrupt)
    named = [c for key, cols in corruption.items() if key.endswith("_columns") for c in cols]
    unknown = sorted(set(named) - set(FEATURES))
    if unknown:
        raise UsageError(
            f"--corrupt names unknown column(s) {', '.join(map(repr, unknown))}",
            hint=f"choose from {', '.join(FEATURES)}",
        )
    # Out-of-range values are numbers and unseen values are categories: the other kind of
    # column cannot carry them.
    for field, wanted, kind in (
        ("out_of_range_columns", "numerical", "out-of-range"),
        ("unseen_category_columns", "categorical", "unseen"),
    ):
        wrong = [
            c
            for c in corruption.get(field, ())
            if (c in CATEGORICAL_FEATURES) == (wanted == "numerical")
        ]
        if wrong:
            raise UsageError(
                f"--corrupt {kind} applies to {wanted} columns, not {', '.join(map(repr, wrong))}",
                hint=f"pick {wanted} columns for {kind}",
            )
    from mlops_guard.data import write_table
    from mlops_guard.demo import make_dataset

    spec = SyntheticSpec(
        rows=args.rows,
        seed=args.seed,
        drift=drift,
        concept_drift=args.concept_drift,
        corruption=Corruption(**corruption),
    )
    df = make_dataset(spec)
    if args.no_label:
        df = df.drop(columns=[LABEL])
    path = write_table(df, args.out)
    from mlops_guard._console import console, safe

    console().print(f"wrote {len(df)} rows x {len(df.columns)} columns to {safe(path)}")
    return 0
